package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hubble/hubble-applianceapi/internal/engine"
	"github.com/hubble/hubble-applianceapi/internal/pgtest"
	"github.com/jackc/pgx/v5"
)

func openSnapshot(t *testing.T, ctx context.Context, e *Engine, schema string, workers int) engine.Snapshot {
	t.Helper()
	s, err := e.Snapshot(ctx, schema, workers)
	if err != nil {
		t.Fatalf("Snapshot() error = %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close() error = %v", err)
		}
	})
	dumped(s)
	return s
}

const tablesSQL = `
CREATE SCHEMA other;
CREATE SCHEMA "S q";
CREATE TABLE "S q".small (a int, b int GENERATED ALWAYS AS (a * 2) STORED, c text);
ALTER TABLE "S q".small DROP COLUMN c;
ALTER TABLE "S q".small ADD COLUMN "D col" text;
INSERT INTO "S q".small (a, "D col") VALUES (1, 'x');
CREATE TABLE "S q".big (x text);
INSERT INTO "S q".big SELECT repeat('x', 100) FROM generate_series(1, 5000);
CREATE TABLE "S q".p (k int, v text) PARTITION BY RANGE (k);
CREATE TABLE "S q".p1 PARTITION OF "S q".p FOR VALUES FROM (0) TO (10);
CREATE TABLE "S q".p2 PARTITION OF "S q".p FOR VALUES FROM (10) TO (20) PARTITION BY RANGE (k);
CREATE TABLE "S q".p2a PARTITION OF "S q".p2 FOR VALUES FROM (10) TO (15);
CREATE TABLE other.p3 PARTITION OF "S q".p FOR VALUES FROM (20) TO (30);
INSERT INTO "S q".p VALUES (1, 'a'), (11, 'b'), (21, 'c');
CREATE TABLE "S q".parent (a int);
CREATE TABLE "S q".child (b int) INHERITS ("S q".parent);
INSERT INTO "S q".parent VALUES (1), (2);
INSERT INTO "S q".child VALUES (3, 3);
CREATE VIEW "S q".v AS SELECT 1 AS one;
CREATE MATERIALIZED VIEW "S q".mv AS SELECT 1 AS one;
CREATE TABLE other.t (a int);
`

func TestSnapshot_Tables(t *testing.T) {
	ctx := testCtx(t)
	dsn := pgtest.NewDB(t)
	if err := pgtest.Exec(ctx, dsn, tablesSQL); err != nil {
		t.Fatal(err)
	}
	s := openSnapshot(t, ctx, newEngine(t, Config{DSN: dsn}), "S q", 2)
	tables := s.Tables()
	if len(tables) == 0 || tables[0].Name != "big" {
		t.Fatalf("Tables() = %+v, want big first", tables)
	}
	if !sort.SliceIsSorted(tables, func(i, j int) bool { return tables[i].Bytes > tables[j].Bytes }) {
		t.Errorf("Tables() not largest first: %+v", tables)
	}
	got := map[string][]string{}
	for _, tb := range tables {
		if tb.Schema != "S q" {
			t.Errorf("table %s in schema %q", tb.Name, tb.Schema)
		}
		got[tb.Name] = tb.Columns
	}
	want := map[string][]string{
		"big":    {"x"},
		"small":  {"a", "D col"}, // generated b and the dropped column left out
		"p1":     {"k", "v"},     // leaves only: p and p2 have no rows of their own,
		"p2a":    {"k", "v"},     // other.p3 lives in another schema
		"parent": {"a"},
		"child":  {"a", "b"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Tables() columns (-want +got):\n%s", diff)
	}

	rows := map[string]int64{}
	for _, tb := range tables {
		n, err := s.CopyOut(ctx, tb, io.Discard)
		if err != nil {
			t.Fatalf("CopyOut(%s) error = %v", tb.Name, err)
		}
		rows[tb.Name] = n
	}
	wantRows := map[string]int64{"big": 5000, "small": 1, "p1": 1, "p2a": 1, "parent": 2, "child": 1}
	if diff := cmp.Diff(wantRows, rows); diff != "" {
		t.Errorf("CopyOut() rows (-want +got):\n%s", diff)
	}
}

// Nasty data must come back identical when its COPY text is loaded again.
func TestSnapshot_CopyOutRoundTrip(t *testing.T) {
	ctx := testCtx(t)
	dsn := pgtest.NewDB(t)
	if err := pgtest.CreateHubble(ctx, dsn, pgtest.HubbleOptions{Rows: 300}); err != nil {
		t.Fatal(err)
	}
	if err := pgtest.Exec(ctx, dsn, "CREATE SCHEMA rt"); err != nil {
		t.Fatal(err)
	}
	s := openSnapshot(t, ctx, newEngine(t, Config{DSN: dsn}), "hubble", 2)
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for _, tb := range s.Tables() {
		src := quoteIdent(tb.Schema, tb.Name)
		dst := quoteIdent("rt", tb.Name)
		if _, err := conn.Exec(ctx, "CREATE TABLE "+dst+" (LIKE "+src+")"); err != nil {
			t.Fatal(err)
		}
		// Stream through a pipe: nothing holds a whole table in memory.
		pr, pw := io.Pipe()
		type result struct {
			rows int64
			err  error
		}
		done := make(chan result, 1)
		go func() {
			n, err := s.CopyOut(ctx, tb, pw)
			pw.CloseWithError(err)
			done <- result{n, err}
		}()
		tag, err := conn.PgConn().CopyFrom(ctx, pr, "COPY "+dst+" ("+columnList(tb.Columns)+") FROM STDIN")
		res := <-done
		if err != nil || res.err != nil {
			t.Fatalf("round trip %s: copy from: %v, copy out: %v", src, err, res.err)
		}
		if tag.RowsAffected() != res.rows {
			t.Errorf("%s: CopyOut() rows = %d, loaded %d", src, res.rows, tag.RowsAffected())
		}
		// A subquery of the copied columns only: LIKE made the generated
		// columns plain. ROW(...) keeps a column named t from shadowing
		// TableHash's alias.
		cols := columnList(tb.Columns)
		want, err := pgtest.TableHash(ctx, dsn, "(SELECT ROW("+cols+")::text AS row_text FROM ONLY "+src+")")
		if err != nil {
			t.Fatal(err)
		}
		got, err := pgtest.TableHash(ctx, dsn, "(SELECT ROW("+cols+")::text AS row_text FROM "+dst+")")
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%s: round trip hash %s, want %s", src, got, want)
		}
	}
}

// dumped waits until the snapshot's pg_dump, which runs beside the copies,
// is over: its session and locks are gone.
func dumped(s engine.Snapshot) { <-s.(*Snapshot).ddlDone }

// backends counts the sessions with our application name.
func backends(ctx context.Context, t *testing.T, dsn, app string) int {
	t.Helper()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", app).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func waitNoBackends(ctx context.Context, t *testing.T, dsn, app string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		n := backends(ctx, t, dsn, app)
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d backends of %s remain in pg_stat_activity", n, app)
		}
		time.Sleep(50 * time.Millisecond) // polling the server's state with a deadline
	}
}

func uniqueApp(t *testing.T) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return "hubble-test-" + hex.EncodeToString(b[:])
}

// cancelWriter cancels the copy's context on the first write.
type cancelWriter struct {
	cancel context.CancelFunc
	n      int64
}

func (w *cancelWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	w.cancel()
	return len(p), nil
}

func TestSnapshot_CopyOutCancel(t *testing.T) {
	ctx := testCtx(t)
	dsn := pgtest.NewDB(t)
	err := pgtest.Exec(ctx, dsn, `CREATE SCHEMA hubble;
		CREATE TABLE hubble.big AS SELECT g AS id, md5(g::text) AS t FROM generate_series(1, 300000) g;`)
	if err != nil {
		t.Fatal(err)
	}
	app := uniqueApp(t)
	e := newEngine(t, Config{DSN: dsn, AppName: app})
	s, err := e.Snapshot(ctx, "hubble", 2)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	dumped(s)
	if n := backends(ctx, t, dsn, app); n != 3 {
		t.Errorf("%d backends with application_name %s, want 3 (coordinator + 2 workers)", n, app)
	}
	tb := s.Tables()[0]

	copyCtx, cancel := context.WithCancel(ctx)
	w := &cancelWriter{cancel: cancel}
	_, err = s.CopyOut(copyCtx, tb, w)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("CopyOut() error = %v, want context.Canceled", err)
	}
	if w.n == 0 {
		t.Fatalf("the copy was canceled before it started")
	}
	// The snapshot stays usable: the broken worker is replaced.
	n, err := s.CopyOut(ctx, tb, io.Discard)
	if err != nil || n != 300000 {
		t.Fatalf("CopyOut() after a canceled copy = %d, %v; want 300000 rows", n, err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close() error = %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close() error = %v", err)
	}
	waitNoBackends(ctx, t, dsn, app)
	if _, err := s.CopyOut(ctx, tb, io.Discard); err == nil {
		t.Errorf("CopyOut() after Close succeeded")
	}
}

// Canceling while the snapshot opens leaves no session either.
func TestEngine_SnapshotCanceled(t *testing.T) {
	ctx := testCtx(t)
	dsn := pgtest.NewDB(t)
	if err := pgtest.Exec(ctx, dsn, "CREATE SCHEMA hubble; CREATE TABLE hubble.t (a int)"); err != nil {
		t.Fatal(err)
	}
	app := uniqueApp(t)
	e := newEngine(t, Config{DSN: dsn, AppName: app})
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := e.Snapshot(canceled, "hubble", 2); err == nil {
		t.Fatal("Snapshot() with a canceled context succeeded")
	}
	if _, err := e.Snapshot(ctx, "missing", 2); !errors.Is(err, engine.ErrSchemaNotFound) {
		t.Fatalf("Snapshot() of a missing schema error = %v, want ErrSchemaNotFound", err)
	}
	waitNoBackends(ctx, t, dsn, app)
}

// A session holding a conflicting lock (an ALTER TABLE in progress) makes
// the snapshot fail after LockTimeout with a reason, instead of hanging.
func TestEngine_SnapshotLockTimeout(t *testing.T) {
	ctx := testCtx(t)
	dsn := pgtest.NewDB(t)
	if err := pgtest.Exec(ctx, dsn, "CREATE SCHEMA hubble; CREATE TABLE hubble.t (a int)"); err != nil {
		t.Fatal(err)
	}
	holder, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close(ctx)
	tx, err := holder.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "LOCK TABLE hubble.t IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	app := uniqueApp(t)
	e := newEngine(t, Config{DSN: dsn, AppName: app, LockTimeout: time.Second})
	start := time.Now()
	_, err = e.Snapshot(ctx, "hubble", 2)
	if err == nil || !strings.Contains(err.Error(), "conflicting lock") {
		t.Fatalf("Snapshot() error = %v, want the lock timeout", err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("Snapshot() took %s with a 1 s lock timeout", d)
	}
	tx.Rollback(ctx)
	waitNoBackends(ctx, t, dsn, app)
}
