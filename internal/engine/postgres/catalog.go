package postgres

import (
	"context"
	"fmt"
	"sort"

	"github.com/hubble/hubble-applianceapi/internal/engine"
	"github.com/jackc/pgx/v5"
)

// Catalog queries run inside the snapshot's coordinating transaction.
// Members of extensions are left out, as pg_dump leaves them out.

const notExtensionMember = `NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
	WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')`

// lockableTables are the schema's tables and partitioned tables, locked so
// that no DDL can change them before every worker has read them.
func lockableTables(ctx context.Context, q querier, schema string) ([]string, error) {
	rows, err := q.Query(ctx, `SELECT c.relname FROM pg_catalog.pg_class c
		JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND `+notExtensionMember+`
		ORDER BY c.relname`, schema)
	if err != nil {
		return nil, fmt.Errorf("list tables of schema %q: %w", schema, err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("list tables of schema %q: %w", schema, err)
	}
	return names, nil
}

// dataTables lists the relations whose rows are copied: ordinary tables,
// which includes leaf partitions and inheritance parents (a partitioned
// parent has no rows of its own), largest first. Columns are in attnum
// order without dropped and generated ones.
func dataTables(ctx context.Context, tx pgx.Tx, schema string) ([]engine.Table, error) {
	rows, err := tx.Query(ctx, `SELECT c.relname, pg_catalog.pg_table_size(c.oid),
			ARRAY(SELECT a.attname::text FROM pg_catalog.pg_attribute a
				WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
				ORDER BY a.attnum)
		FROM pg_catalog.pg_class c
		JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relkind = 'r' AND `+notExtensionMember+`
		ORDER BY 2 DESC, 1`, schema)
	if err != nil {
		return nil, fmt.Errorf("list tables of schema %q: %w", schema, err)
	}
	tables, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (engine.Table, error) {
		t := engine.Table{Schema: schema}
		err := row.Scan(&t.Name, &t.Bytes, &t.Columns)
		return t, err
	})
	if err != nil {
		return nil, fmt.Errorf("list tables of schema %q: %w", schema, err)
	}
	return tables, nil
}

// sequenceValue is one sequence's state for a setval call.
type sequenceValue struct {
	Name      string
	LastValue int64
	IsCalled  bool
}

// sequenceValues reads every sequence of the schema. Sequences are not
// transactional: the value read is at least the one of the snapshot, which
// is the safe side (a restored sequence never hands out a used value).
func sequenceValues(ctx context.Context, tx pgx.Tx, schema string) ([]sequenceValue, error) {
	rows, err := tx.Query(ctx, `SELECT c.relname FROM pg_catalog.pg_class c
		JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relkind = 'S' AND `+notExtensionMember+`
		ORDER BY c.relname`, schema)
	if err != nil {
		return nil, fmt.Errorf("list sequences of schema %q: %w", schema, err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("list sequences of schema %q: %w", schema, err)
	}
	values := make([]sequenceValue, 0, len(names))
	for _, name := range names {
		v := sequenceValue{Name: name}
		err := tx.QueryRow(ctx, "SELECT last_value, is_called FROM "+quoteIdent(schema, name)).Scan(&v.LastValue, &v.IsCalled)
		if err != nil {
			return nil, fmt.Errorf("read sequence %s: %w", quoteIdent(schema, name), err)
		}
		values = append(values, v)
	}
	return values, nil
}

// matviewRefreshOrder lists the schema's populated materialized views so
// that each comes after every materialized view it reads, directly or
// through views (of any schema).
func matviewRefreshOrder(ctx context.Context, tx pgx.Tx, schema string) ([]string, error) {
	type matview struct {
		oid  uint32
		name string
	}
	rows, err := tx.Query(ctx, `SELECT c.oid, c.relname FROM pg_catalog.pg_class c
		JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relkind = 'm' AND c.relispopulated AND `+notExtensionMember+`
		ORDER BY c.relname`, schema)
	if err != nil {
		return nil, fmt.Errorf("list materialized views of schema %q: %w", schema, err)
	}
	mvs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (matview, error) {
		var m matview
		err := row.Scan(&m.oid, &m.name)
		return m, err
	})
	if err != nil || len(mvs) == 0 {
		return nil, err
	}
	// Edges from every view or materialized view to the relations its
	// rewrite rule reads.
	rows, err = tx.Query(ctx, `SELECT DISTINCT r.ev_class, d.refobjid
		FROM pg_catalog.pg_rewrite r
		JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_rewrite'::regclass AND d.objid = r.oid
			AND d.refclassid = 'pg_catalog.pg_class'::regclass
		JOIN pg_catalog.pg_class c ON c.oid = d.refobjid AND c.relkind IN ('v', 'm')
		WHERE d.refobjid <> r.ev_class`)
	if err != nil {
		return nil, fmt.Errorf("read view dependencies: %w", err)
	}
	reads := map[uint32][]uint32{}
	var from, to uint32
	_, err = pgx.ForEachRow(rows, []any{&from, &to}, func() error {
		reads[from] = append(reads[from], to)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read view dependencies: %w", err)
	}
	ours := map[uint32]string{}
	for _, m := range mvs {
		ours[m.oid] = m.name
	}
	// Depth-first post-order: sources before the views built on them.
	var order []string
	done := map[uint32]bool{}
	var visit func(oid uint32)
	visit = func(oid uint32) {
		if done[oid] {
			return
		}
		done[oid] = true
		deps := append([]uint32(nil), reads[oid]...)
		sort.Slice(deps, func(i, j int) bool { return deps[i] < deps[j] })
		for _, dep := range deps {
			visit(dep)
		}
		if name, ok := ours[oid]; ok {
			order = append(order, name)
		}
	}
	for _, m := range mvs {
		visit(m.oid)
	}
	return order, nil
}
