package restore_test

func cleanupBinary() {}
