// Package postgres is the PostgreSQL engine: it takes one consistent,
// exported snapshot of a schema, streams every table's rows with COPY over
// pgx worker connections that share the snapshot, and renders the psql
// scripts (copy.in, copy.out) plus a custom-format schema dump from pg_dump
// run against that same snapshot. Passwords reach the vendor tools only
// through their environment.
package postgres
