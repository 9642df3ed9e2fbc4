// Package fidelity holds the fidelity corpus test: PostgreSQL's own
// regression scripts, which nobody on this project wrote, loaded into one
// database whose public schema is then backed up and brought back three
// ways (restore, psql -f copy.in, and pg_dump -n | pg_restore as the
// reference) and compared object by object, row by row. It has no code of
// its own: the loader and the comparison are in internal/pgtest.
// docs/FIDELITY.md says what is covered and what single-schema backups
// cannot carry.
package fidelity
