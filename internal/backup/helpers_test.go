package backup_test

import (
	"context"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hubble/hubble-applianceapi/internal/backup"
	"github.com/hubble/hubble-applianceapi/internal/engine/postgres"
	"github.com/hubble/hubble-applianceapi/internal/pgtest"
	"github.com/hubble/hubble-applianceapi/internal/replication"
	"github.com/hubble/hubble-applianceapi/internal/storage/local"
)

// fixture is a pipeline over a fresh database with the Hubble schema, and
// empty backup and temp directories.
type fixture struct {
	dsn       string
	backupDir string
	tempDir   string
	p         *backup.Pipeline
}

func newFixture(t *testing.T, dsn string) *fixture {
	t.Helper()
	eng, err := postgres.New(postgres.Config{DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{dsn: dsn, backupDir: t.TempDir(), tempDir: t.TempDir()}
	f.p = &backup.Pipeline{
		Engine: eng,
		Target: local.New(f.backupDir),
		FS:     backup.OSFS{},
		Log:    slog.New(slog.NewTextHandler(testWriter{t}, nil)),
		Opts: backup.Options{
			BackupDir: f.backupDir, TempDir: f.tempDir, MinFreeMB: 1, Schema: "hubble", Parallel: 2, Level: 6,
			Replication: &replication.Tool{Argv: []string{standIn(t), "exportrepository", "json_file={file}"}},
			Version:     "test",
		},
	}
	return f
}

func hubbleDB(t *testing.T) string {
	t.Helper()
	dsn := pgtest.NewDB(t)
	if err := pgtest.CreateHubble(context.Background(), dsn, pgtest.HubbleOptions{}); err != nil {
		t.Fatal(err)
	}
	return dsn
}

// assertNothingLeft checks that temp_dir and backup_dir are empty.
func (f *fixture) assertNothingLeft(t *testing.T) {
	t.Helper()
	for _, dir := range []string{f.tempDir, f.backupDir} {
		des, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, de := range des {
			t.Errorf("left behind in %s: %s", dir, de.Name())
		}
	}
}

// assertNoBackends waits (bounded) until no session of ours is left.
func assertNoBackends(t *testing.T, dsn string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, err := countBackends(dsn)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d backends of ours still in pg_stat_activity", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func countBackends(dsn string) (int, error) {
	conn, err := pgxConnect(dsn)
	if err != nil {
		return 0, err
	}
	defer conn.Close(context.Background())
	var n int
	err = conn.QueryRow(context.Background(),
		"SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()",
		postgres.DefaultAppName).Scan(&n)
	return n, err
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

// standIn copies the repctl stand-in somewhere any user can run it.
func standIn(t *testing.T) string {
	b, err := os.ReadFile("../../testdata/repctl")
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "repctl-*")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	p := filepath.Join(dir, "repctl")
	if err := os.WriteFile(p, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// fakeFS injects failures into the pre-flight filesystem queries.
type fakeFS struct {
	backup.OSFS
	freeErr error
}

func (f fakeFS) FreeBytes(path string) (uint64, error) {
	if f.freeErr != nil {
		return 0, f.freeErr
	}
	return f.OSFS.FreeBytes(path)
}

func (f fakeFS) Stat(path string) (fs.FileInfo, error) { return f.OSFS.Stat(path) }

func pgxConnect(dsn string) (*pgx.Conn, error) { return pgx.Connect(context.Background(), dsn) }

func localTarget(dir string) *local.Target { return local.New(dir) }

func sleepBriefly() { time.Sleep(10 * time.Millisecond) }
