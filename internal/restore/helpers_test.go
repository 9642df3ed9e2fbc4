package restore_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hubble/hubble-applianceapi/internal/backup"
	"github.com/hubble/hubble-applianceapi/internal/engine/postgres"
	"github.com/hubble/hubble-applianceapi/internal/pgtest"
	"github.com/hubble/hubble-applianceapi/internal/replication"
	"github.com/hubble/hubble-applianceapi/internal/restore"
	"github.com/hubble/hubble-applianceapi/internal/storage/local"
)

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

func testLog(t testing.TB) *slog.Logger { return slog.New(slog.NewTextHandler(testWriter{t}, nil)) }

// makeArchive backs schema of dsn up with the real pipeline (with the
// repctl stand-in's export when repl is true) and returns the archive.
func makeArchive(t testing.TB, dsn, schema string, repl bool) string {
	t.Helper()
	eng, err := postgres.New(postgres.Config{DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	p := &backup.Pipeline{
		Engine: eng,
		Target: local.New(dir),
		FS:     backup.OSFS{},
		Log:    testLog(t),
		Opts: backup.Options{BackupDir: dir, TempDir: t.TempDir(), MinFreeMB: 1, Schema: schema, Parallel: 2, Level: 1,
			Version: "test"},
	}
	if repl {
		p.Opts.Replication = &replication.Tool{Argv: []string{standIn(t), "exportrepository", "json_file={file}"}}
	}
	res, err := p.Run(testCtx(t), "0123456789abcdef0123456789abcdef", nil)
	if err != nil {
		t.Fatalf("backup: %v", err)
	}
	return filepath.Join(dir, res.Name)
}

// fixture is a restorer into dsn with its own temp_dir and log folder.
type fixture struct {
	dsn     string
	tempDir string
	out     bytes.Buffer
	r       *restore.Restorer
	opts    restore.Options
}

func newFixture(t testing.TB, dsn, archivePath string) *fixture {
	t.Helper()
	eng, err := postgres.New(postgres.Config{DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{dsn: dsn, tempDir: t.TempDir()}
	f.r = &restore.Restorer{Engine: eng, Log: testLog(t), Out: &f.out}
	f.opts = restore.Options{
		Archive:    archivePath,
		TempDir:    f.tempDir,
		Parallel:   2,
		OutputFile: filepath.Join(t.TempDir(), restore.OutputName),
	}
	return f
}

func (f *fixture) run(t *testing.T) (*restore.Result, error) {
	t.Helper()
	res, err := f.r.Run(testCtx(t), f.opts)
	t.Logf("restore output:\n%s", f.out.String())
	if des, _ := os.ReadDir(f.tempDir); len(des) != 0 {
		t.Errorf("temp_dir not empty after restore: %v", des)
	}
	return res, err
}

// state is what a database holds in a schema: its DDL and table hashes.
type state struct {
	DDL    string
	Hashes map[string]string
	Seqs   map[string]string
}

func stateOf(t *testing.T, dsn, schema string) state {
	t.Helper()
	ctx := testCtx(t)
	ddl, err := pgtest.SchemaDDL(ctx, dsn, schema)
	if err != nil {
		t.Fatal(err)
	}
	h, err := pgtest.TableHashes(ctx, dsn, schema)
	if err != nil {
		t.Fatal(err)
	}
	s, err := pgtest.SequenceValues(ctx, dsn, schema)
	if err != nil {
		t.Fatal(err)
	}
	return state{DDL: ddl, Hashes: h, Seqs: s}
}

func assertSame(t *testing.T, want, got state) {
	t.Helper()
	if diff := cmp.Diff(want.DDL, got.DDL); diff != "" {
		t.Errorf("schema DDL differs (-source +target):\n%s", diff)
	}
	if diff := cmp.Diff(want.Hashes, got.Hashes); diff != "" {
		t.Errorf("table contents differ (-source +target):\n%s", diff)
	}
	if diff := cmp.Diff(want.Seqs, got.Seqs); diff != "" {
		t.Errorf("sequences differ (-source +target):\n%s", diff)
	}
}

func mustExec(t *testing.T, dsn, sql string) {
	t.Helper()
	if err := pgtest.Exec(testCtx(t), dsn, sql); err != nil {
		t.Fatal(err)
	}
}

// standIn copies the repctl stand-in somewhere any user can run it.
func standIn(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile("../../testdata/repctl")
	if err != nil {
		t.Fatal(err)
	}
	dir := openDir(t)
	p := filepath.Join(dir, "repctl")
	if err := os.WriteFile(p, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// openDir is a directory every OS user can enter and write.
func openDir(t testing.TB) string {
	t.Helper()
	d, err := os.MkdirTemp("", "restore-test-*")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	if err := os.Chmod(d, 0o777); err != nil {
		t.Fatal(err)
	}
	return d
}
