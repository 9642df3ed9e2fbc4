package restore

// SetMaxHeldTables changes maxHeldTables for a test and returns a function
// that puts it back.
func SetMaxHeldTables(n int) (restore func()) {
	old := maxHeldTables
	maxHeldTables = n
	return func() { maxHeldTables = old }
}
