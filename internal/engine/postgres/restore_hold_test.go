package postgres

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hubble/hubble-applianceapi/internal/engine"
	"github.com/hubble/hubble-applianceapi/internal/pgtest"
	"github.com/hubble/hubble-applianceapi/internal/testlog"
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

// TestRestore_Striped: a table larger than its share of the workers is
// loaded by several sessions at once, cut between rows, and restores
// exactly; held, its rows stay invisible until the verdict.
func TestRestore_Striped(t *testing.T) {
	defer func(old int64) { minStripeBytes = old }(minStripeBytes)
	minStripeBytes = 1
	defer func() { joinHook = nil }()
	ctx := testCtx(t)
	src := pgtest.NewDB(t)
	if err := pgtest.GenerateBenchOneBig(ctx, src, "hubble", 12<<20, 1<<20, nil); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	tables := dumpForRestore(ctx, t, newEngine(t, Config{DSN: src}), "hubble", dir)
	damaged := errors.New("DatabaseBackup/gl_budget.hubble: sha256 mismatch")
	for _, tt := range []struct {
		name          string
		held, damaged bool
	}{{"held", true, false}, {"verified before", false, false}, {"damaged", true, true}} {
		held := tt.held
		t.Run(tt.name, func(t *testing.T) {
			dst := pgtest.NewDB(t)
			var log testlog.Buffer
			// gl_budget's data waits, after its first rows, for the other
			// worker to join (once it has loaded every other table).
			joined := make(chan struct{})
			var once sync.Once
			joinHook = func() { once.Do(func() { close(joined) }) }
			req := engine.RestoreRequest{Dir: dir, SourceSchema: "hubble", Tables: tables, Workers: 2,
				Log: slog.New(slog.NewTextHandler(&log, nil)),
				Open: func(ctx context.Context, tb engine.RestoreTable) (io.ReadCloser, error) {
					f, err := os.Open(filepath.Join(dir, tb.File))
					if err != nil || tb.Name != "gl_budget" {
						return f, err
					}
					var r io.ReadCloser = &gatedReader{ReadCloser: f, after: 2 << 20, gate: joined, ctx: ctx}
					if tt.damaged {
						r = &failAtEOF{ReadCloser: r, err: damaged}
					}
					return r, nil
				}}
			var visible int
			if held {
				req.Verified = func(ctx context.Context) error {
					return queryInt(ctx, dst, "SELECT count(*)::int FROM hubble.gl_budget", &visible)
				}
			}
			_, err := newEngine(t, Config{DSN: dst}).Restore(ctx, req)
			if tt.damaged {
				if !errors.Is(err, damaged) {
					t.Errorf("Restore() error = %v, want %v", err, damaged)
				}
				if schemaExists(ctx, t, dst) {
					t.Error("the refused restore left schema hubble behind")
				}
				return
			}
			if err != nil {
				t.Fatalf("Restore() error = %v", err)
			}
			if !strings.Contains(log.String(), `msg="table loaded by several sessions" table=hubble.gl_budget sessions=2`) {
				t.Errorf("gl_budget was not striped over 2 sessions:\n%s", log.String())
			}
			if visible != 0 {
				t.Errorf("%d rows of gl_budget visible before the verdict", visible)
			}
			want, got := relationHashes(ctx, t, src, "hubble"), relationHashes(ctx, t, dst, "hubble")
			for name, h := range want {
				if got[name] != h {
					t.Errorf("table %s differs after the restore", name)
				}
			}
		})
	}
}

// gatedReader stops after some bytes until gate is closed.
type gatedReader struct {
	io.ReadCloser
	after int64
	gate  chan struct{}
	ctx   context.Context
	n     int64
}

func (g *gatedReader) Read(p []byte) (int, error) {
	if g.n >= g.after {
		select {
		case <-g.gate:
		case <-g.ctx.Done():
			return 0, g.ctx.Err()
		}
	} else if int64(len(p)) > g.after-g.n {
		p = p[:g.after-g.n]
	}
	n, err := g.ReadCloser.Read(p)
	g.n += int64(n)
	return n, err
}
