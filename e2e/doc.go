// Package e2e holds the end-to-end tests of hubble-applianceapi: they build
// the real binary, start `hubble-applianceapi serve` as a child process
// against a real PostgreSQL database (internal/pgtest) and drive it with the
// real curl client, as the original's administrators and schedulers do. The
// package has no code of its own beyond this comment; everything is in
// _test.go files.
package e2e
