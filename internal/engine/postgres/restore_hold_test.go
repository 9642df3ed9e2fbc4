package postgres

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hubble/hubble-applianceapi/internal/engine"
	"github.com/hubble/hubble-applianceapi/internal/pgtest"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// dumpForRestore writes schema's data files and scripts into dir and
// returns the tables as a restore request lists them.
func dumpForRestore(ctx context.Context, t *testing.T, e *Engine, schema, dir string) []engine.RestoreTable {
	t.Helper()
	s, err := e.Snapshot(ctx, schema, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tables := s.Tables()
	names := dataFileNames(tables)
	var out []engine.RestoreTable
	for i, tb := range tables {
		f, err := os.Create(filepath.Join(dir, names[i]))
		if err != nil {
			t.Fatal(err)
		}
		rows, err := s.CopyOut(ctx, tb, f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			t.Fatal(err)
		}
		fi, _ := os.Stat(f.Name())
		out = append(out, engine.RestoreTable{Schema: tb.Schema, Name: tb.Name, File: names[i], Rows: rows, Bytes: fi.Size()})
	}
	files, err := s.Files(ctx, names)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f.Name), f.Data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// holdFixture is a Hubble-like schema dumped for a restore into a fresh
// database.
type holdFixture struct {
	src, dst string
	eng      *Engine
	req      engine.RestoreRequest
}

func newHoldFixture(t *testing.T, ctx context.Context) *holdFixture {
	src := pgtest.NewDB(t)
	if err := pgtest.CreateHubble(ctx, src, pgtest.HubbleOptions{Rows: 300}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	tables := dumpForRestore(ctx, t, newEngine(t, Config{DSN: src}), "hubble", dir)
	dst := pgtest.NewDB(t)
	if err := pgtest.CreateERP(ctx, dst); err != nil {
		t.Fatal(err)
	}
	req := engine.RestoreRequest{Dir: dir, SourceSchema: "hubble", Tables: tables, Workers: 2,
		Open: func(_ context.Context, tb engine.RestoreTable) (io.ReadCloser, error) {
			return os.Open(filepath.Join(dir, tb.File))
		}}
	return &holdFixture{src: src, dst: dst, eng: newEngine(t, Config{DSN: dst}), req: req}
}

// schemaExists tells whether the restore left the schema behind.
func schemaExists(ctx context.Context, t *testing.T, dsn string) bool {
	var n int
	if err := queryInt(ctx, dsn, "SELECT count(*)::int FROM pg_namespace WHERE nspname = 'hubble'", &n); err != nil {
		t.Fatal(err)
	}
	return n > 0
}

// TestRestore_HeldUntilVerified: with Verified set, every table is loaded
// before the verdict is asked for, and until it is given no other session
// can read a loaded row; after it the data is all there.
func TestRestore_HeldUntilVerified(t *testing.T) {
	for _, target := range []string{"", "other"} {
		t.Run("target="+target, func(t *testing.T) {
			ctx := testCtx(t)
			f := newHoldFixture(t, ctx)
			f.req.TargetSchema = target
			schema := f.req.SourceSchema
			if target != "" {
				schema = target
			}
			probe := func() error {
				conn, err := pgx.Connect(ctx, f.dst)
				if err != nil {
					return err
				}
				defer conn.Close(context.Background())
				if _, err := conn.Exec(ctx, "SET lock_timeout = '200ms'"); err != nil {
					return err
				}
				var n int64
				return conn.QueryRow(ctx, "SELECT count(*) FROM "+quoteIdent(schema, "gl_budget")).Scan(&n)
			}
			var probeErr error
			f.req.Verified = func(ctx context.Context) error {
				probeErr = probe()
				return nil
			}
			res, err := f.eng.Restore(ctx, f.req)
			if err != nil {
				t.Fatalf("Restore() error = %v", err)
			}
			var pe *pgconn.PgError
			if !errors.As(probeErr, &pe) || pe.Code != "55P03" {
				t.Errorf("reading a loaded table before the verdict: %v, want a lock timeout (55P03)", probeErr)
			}
			if res.Tables != len(f.req.Tables) {
				t.Errorf("Restore() loaded %d tables, want %d", res.Tables, len(f.req.Tables))
			}
			if target != "" {
				mustExecT(t, f.dst, "ALTER SCHEMA other RENAME TO hubble")
			}
			want, got := relationHashes(ctx, t, f.src, "hubble"), relationHashes(ctx, t, f.dst, "hubble")
			for name, h := range want {
				if got[name] != h {
					t.Errorf("table %s differs after the restore", name)
				}
			}
		})
	}
}

// TestRestore_RefusedVerdict: a failing verdict, or data that fails its
// check at its end, stops the restore (even with ContinueOnError) and
// leaves nothing behind: no loaded table was ever committed.
func TestRestore_RefusedVerdict(t *testing.T) {
	damaged := errors.New("DatabaseBackup/gl_budget.hubble: sha256 mismatch")
	tests := []struct {
		name     string
		verdict  error
		badTable string // whose data fails at its end
		cont     bool
	}{
		{name: "verdict", verdict: damaged},
		{name: "data", badTable: "gl_budget"},
		{name: "data, continue on error", badTable: "gl_budget", cont: true},
		{name: "small table, continue on error", badTable: "budget_version", cont: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testCtx(t)
			f := newHoldFixture(t, ctx)
			f.req.ContinueOnError = tt.cont
			open := f.req.Open
			f.req.Open = func(ctx context.Context, tb engine.RestoreTable) (io.ReadCloser, error) {
				r, err := open(ctx, tb)
				if err != nil || tb.Name != tt.badTable {
					return r, err
				}
				return &failAtEOF{ReadCloser: r, err: damaged}, nil
			}
			f.req.Verified = func(context.Context) error { return tt.verdict }
			_, err := f.eng.Restore(ctx, f.req)
			if !errors.Is(err, damaged) {
				t.Fatalf("Restore() error = %v, want %v", err, damaged)
			}
			if tt.badTable != "" && !strings.Contains(err.Error(), "read data file") {
				t.Errorf("Restore() error = %v, want it to name the data file", err)
			}
			if schemaExists(ctx, t, f.dst) {
				t.Error("the refused restore left schema hubble behind")
			}
		})
	}
}

// failAtEOF fails where its reader would end, as an archive entry whose
// checksum does not match.
type failAtEOF struct {
	io.ReadCloser
	err error
}

func (f *failAtEOF) Read(p []byte) (int, error) {
	n, err := f.ReadCloser.Read(p)
	if err == io.EOF {
		err = f.err
	}
	return n, err
}

func mustExecT(t *testing.T, dsn, sql string) {
	t.Helper()
	if err := pgtest.Exec(context.Background(), dsn, sql); err != nil {
		t.Fatal(err)
	}
}
