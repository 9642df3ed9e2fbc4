package postgres

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hubble/hubble-applianceapi/internal/engine"
	"github.com/hubble/hubble-applianceapi/internal/pgtest"
	"github.com/jackc/pgx/v5"
)

// Races with other sessions, set up through the engine's test hooks.

// archiveOf backs schema of src up into a folder and returns the request
// that restores it.
func archiveOf(t *testing.T, ctx context.Context, src, schema string) engine.RestoreRequest {
	t.Helper()
	dir := t.TempDir()
	tables := dumpForRestore(ctx, t, newEngine(t, Config{DSN: src}), schema, dir)
	return engine.RestoreRequest{Dir: dir, SourceSchema: schema, Tables: tables, Workers: 2}
}

// Issue 9, point 6: an empty conflicting table is replaced; "empty" was
// checked without a lock, before the transaction that dropped it, so rows
// written in between were lost. Now it is checked again under a lock in
// that transaction: the restore stops, the row stays.
func TestEngine_Restore_ConflictGainsRows(t *testing.T) {
	ctx := testCtx(t)
	src := pgtest.NewDB(t)
	if err := pgtest.Exec(ctx, src, `CREATE SCHEMA s; CREATE TABLE s.activity (id int, what text);
		INSERT INTO s.activity VALUES (1, 'archived'); CREATE TABLE s.other (a int)`); err != nil {
		t.Fatal(err)
	}
	req := archiveOf(t, ctx, src, "s")

	dst := pgtest.NewDB(t)
	if err := pgtest.Exec(ctx, dst, "CREATE SCHEMA s; CREATE TABLE s.activity (id int, note text)"); err != nil {
		t.Fatal(err)
	}
	e := newEngine(t, Config{DSN: dst})
	e.beforeChange = func(ctx context.Context) {
		// An application writes to the (so far empty) table.
		if err := pgtest.Exec(ctx, dst, "INSERT INTO s.activity VALUES (99, 'written meanwhile')"); err != nil {
			t.Error(err)
		}
	}
	res, err := e.Restore(ctx, req)
	if len(res.Plan.Conflicts) != 1 || res.Plan.Conflicts[0].Blocking {
		t.Fatalf("plan: %+v, want the empty table to be replaced", res.Plan.Conflicts)
	}
	var re *engine.RestoreError
	if !errors.As(err, &re) || !strings.Contains(re.Issue.Reason, "holds rows") {
		t.Fatalf("Restore() error = %v, want the conflict that now holds rows", err)
	}
	var note string
	if err := queryRow(ctx, dst, "SELECT note FROM s.activity WHERE id = 99", &note); err != nil || note != "written meanwhile" {
		t.Errorf("the row written meanwhile: %q, %v", note, err)
	}
	var n int
	if err := queryInt(ctx, dst, "SELECT count(*) FROM pg_class WHERE relnamespace = 's'::regnamespace AND relname = 'other'", &n); err != nil || n != 0 {
		t.Errorf("the restore created objects before stopping (%d, %v)", n, err)
	}
}

// An object the undo cannot remove (another session holds a lock on it) is
// named in the result, and the restore does not claim a clean state.
func TestEngine_Restore_UndoNamesWhatRemains(t *testing.T) {
	ctx := testCtx(t)
	src := pgtest.NewDB(t)
	// The refresh of the stale materialized view fails at the very end.
	if err := pgtest.Exec(ctx, src, `CREATE SCHEMA s; CREATE TABLE s.t (d int); INSERT INTO s.t VALUES (1);
		CREATE TABLE s.u (a int); CREATE MATERIALIZED VIEW s.ratio AS SELECT 100 / d AS r FROM s.t; UPDATE s.t SET d = 0`); err != nil {
		t.Fatal(err)
	}
	req := archiveOf(t, ctx, src, "s")

	dst := pgtest.NewDB(t)
	if err := pgtest.Exec(ctx, dst, "CREATE SCHEMA s; CREATE TABLE s.mine (a int)"); err != nil {
		t.Fatal(err)
	}
	e := newEngine(t, Config{DSN: dst, LockTimeout: 300 * time.Millisecond})
	var holder *pgx.Conn
	e.beforeUndo = func(ctx context.Context) {
		var err error
		if holder, err = pgx.Connect(ctx, dst); err != nil {
			t.Fatal(err)
		}
		if _, err := holder.Exec(ctx, "BEGIN; LOCK TABLE s.t IN ACCESS SHARE MODE"); err != nil {
			t.Fatal(err)
		}
	}
	res, err := e.Restore(ctx, req)
	if holder != nil {
		holder.Close(context.Background())
	}
	var re *engine.RestoreError
	if !errors.As(err, &re) || re.Issue.Object != "MATERIALIZED VIEW s.ratio" {
		t.Fatalf("Restore() error = %v, want the refresh to fail", err)
	}
	if diff := cmp.Diff([]string{"table s.t: canceling statement due to lock timeout"}, res.NotUndone); diff != "" {
		t.Errorf("NotUndone (-want +got):\n%s", diff)
	}
}

func queryRow(ctx context.Context, dsn, sql string, dst any) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	return conn.QueryRow(ctx, sql).Scan(dst)
}
