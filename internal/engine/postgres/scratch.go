package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
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

// ScratchSchemas lists the schemas whose name starts with prefix (the
// schemas of drills, to find those a killed drill left).
func (e *Engine) ScratchSchemas(ctx context.Context, prefix string) ([]string, error) {
	conn, err := e.connect(ctx)
	if err != nil {
		return nil, err
	}
	defer closeConn(conn)
	rows, err := conn.Query(ctx, "SELECT nspname FROM pg_catalog.pg_namespace WHERE starts_with(nspname, $1) ORDER BY 1", prefix)
	if err != nil {
		return nil, fmt.Errorf("list scratch schemas: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}
