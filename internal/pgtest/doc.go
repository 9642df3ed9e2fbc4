// Package pgtest owns the throwaway PostgreSQL clusters the tests (and the
// dev tooling) run against, and the generators of the Hubble-like datasets
// they back up and restore.
//
// Tests use it from TestMain:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
// then get a fresh database per test with NewDB and fill it with
// CreateHubble, CreateObjectRich or GenerateBench. Comparison helpers
// (TableHash, TableHashes, SequenceValues, SchemaDDL) make round-trip
// assertions short. Nothing in this package is mocked: it always runs a real
// server, started with initdb/pg_ctl (as the postgres OS user when root) or
// the one named by HUBBLE_TEST_DSN.
package pgtest
