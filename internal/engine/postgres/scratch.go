package postgres

import (
	"context"
	"fmt"
)

// DatabaseID names the database the engine connects to across connection
// strings: the cluster's system identifier and the database name. Two
// engines with the same ID reach the same database, whatever host alias or
// port spelling their DSNs use (a drill must never restore into the
// database it backs up).
func (e *Engine) DatabaseID(ctx context.Context) (string, error) {
	conn, err := e.connect(ctx)
	if err != nil {
		return "", err
	}
	defer closeConn(conn)
	var sys int64
	var db string
	if err := conn.QueryRow(ctx, "SELECT system_identifier, current_database() FROM pg_catalog.pg_control_system()").Scan(&sys, &db); err != nil {
		return "", fmt.Errorf("query database identity: %w", err)
	}
	return fmt.Sprintf("%d/%s", sys, db), nil
}

// DropScratch drops schema with everything in it, then the roles a restore
// created for it (roles own nothing else once the schema is gone). Missing
// objects are no error: it also cleans up after a drill that failed midway.
func (e *Engine) DropScratch(ctx context.Context, schema string, roles []string) error {
	conn, err := e.connect(ctx)
	if err != nil {
		return err
	}
	defer closeConn(conn)
	if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+quoteIdent(schema)+" CASCADE"); err != nil {
		return fmt.Errorf("drop schema %s: %w", schema, err)
	}
	for _, r := range roles {
		if _, err := conn.Exec(ctx, "DROP ROLE IF EXISTS "+quoteIdent(r)); err != nil {
			return fmt.Errorf("drop role %s: %w", r, err)
		}
	}
	return nil
}
