package backup_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hubble/hubble-applianceapi/internal/backup"
	"github.com/hubble/hubble-applianceapi/internal/engine"
	"github.com/hubble/hubble-applianceapi/internal/pgtest"
)

// bigDB is the Hubble schema plus one table large enough that its COPY
// takes a while (~100 MB of text).
func bigDB(t *testing.T) string {
	t.Helper()
	dsn := hubbleDB(t)
	err := pgtest.Exec(context.Background(), dsn, `CREATE TABLE hubble.big_ledger AS
		SELECT g AS id, md5(g::text) || md5((g * 7)::text) || repeat(md5((g * 13)::text), 2) AS payload
		FROM generate_series(1, 800000) g`)
	if err != nil {
		t.Fatal(err)
	}
	return dsn
}

// stagedBytes is the size of the largest file under dir.
func stagedBytes(dir string) int64 {
	var most int64
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() && fi.Size() > most {
			most = fi.Size()
		}
		return nil
	})
	return most
}

func TestPipeline_Run_CancelMidCopy(t *testing.T) {
	dsn := bigDB(t)
	f := newFixture(t, dsn)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := f.p.Run(ctx, "0123456789abcdef0123456789abcdef", nil)
		done <- err
	}()
	deadline := time.After(60 * time.Second)
	for stagedBytes(f.tempDir) < 1<<20 {
		select {
		case err := <-done:
			t.Fatalf("backup ended before it was canceled: %v", err)
		case <-deadline:
			t.Fatal("COPY never started")
		case <-time.After(10 * time.Millisecond):
		}
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("backup did not stop within 10 s of the cancel")
	}
	f.assertNothingLeft(t)
	assertNoBackends(t, dsn)
}

// tmpfs mounts a small filesystem (we run as root in CI) so that a full
// disk is real, not simulated.
func tmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs (needs root): %v: %s", err, out)
	}
	t.Cleanup(func() { syscall.Unmount(dir, 0) })
	return dir
}

func TestPipeline_Run_DiskFull(t *testing.T) {
	dsn := bigDB(t)
	for _, where := range []string{"temp_dir", "backup_dir"} {
		t.Run(where, func(t *testing.T) {
			f := newFixture(t, dsn)
			small := tmpfs(t, "4m")
			if where == "temp_dir" {
				f.tempDir, f.p.Opts.TempDir = small, small
			} else {
				f.backupDir, f.p.Opts.BackupDir = small, small
				f.p.Target = localTarget(small)
			}
			_, err := f.p.Run(context.Background(), "0123456789abcdef0123456789abcdef", nil)
			if err == nil || !strings.Contains(err.Error(), "no space left on device") {
				t.Fatalf("err = %v, want a no-space error", err)
			}
			f.assertNothingLeft(t)
			assertNoBackends(t, dsn)
		})
	}
}

func TestPipeline_Run_DatabaseGoneMidJob(t *testing.T) {
	dsn := bigDB(t)
	f := newFixture(t, dsn)
	done := make(chan error, 1)
	go func() {
		_, err := f.p.Run(context.Background(), "0123456789abcdef0123456789abcdef", nil)
		done <- err
	}()
	deadline := time.After(60 * time.Second)
	for stagedBytes(f.tempDir) < 1<<20 {
		select {
		case err := <-done:
			t.Fatalf("backup ended too early: %v", err)
		case <-deadline:
			t.Fatal("COPY never started")
		case <-time.After(10 * time.Millisecond):
		}
	}
	// The administrator's view of "the database went away": every session
	// of ours is terminated.
	if err := pgtest.Exec(context.Background(), dsn,
		"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'hubble-applianceapi'"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		// Either worker may report first; each names its table.
		if err == nil || !strings.Contains(err.Error(), `copy table "hubble".`) || !strings.Contains(err.Error(), "57P01") {
			t.Fatalf("err = %v, want the server's message naming a table being copied", err)
		}
		t.Logf("message: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("backup did not end after its sessions were terminated")
	}
	f.assertNothingLeft(t)
	assertNoBackends(t, dsn)
}

// The session holding the snapshot and the locks dies as the data phase
// starts, and a table not yet copied is truncated: the backup fails naming
// the cause, and publishes nothing (before issue 10 it published the
// truncated table as empty and reported success).
func TestPipeline_Run_CoordinatorLost(t *testing.T) {
	ctx := context.Background()
	dsn := bigDB(t)
	if err := pgtest.Exec(ctx, dsn, `CREATE TABLE hubble.zz_later AS SELECT g AS id FROM generate_series(1, 5000) g`); err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, dsn)
	f.p.Opts.Parallel = 1
	struck := false
	_, err := f.p.Run(ctx, "0123456789abcdef0123456789abcdef", func(p backup.Progress) {
		if p.Phase != "data" || struck {
			return
		}
		struck = true
		// Only the coordinator holds locks before the first copy starts.
		err := pgtest.Exec(ctx, dsn, `SELECT pg_terminate_backend(l.pid, 10000) FROM pg_locks l
			JOIN pg_stat_activity a ON a.pid = l.pid
			WHERE a.application_name = 'hubble-applianceapi' AND l.relation = 'hubble.zz_later'::regclass AND l.granted`)
		if err == nil {
			err = pgtest.Exec(ctx, dsn, "SET lock_timeout = '10s'; TRUNCATE hubble.zz_later")
		}
		if err != nil {
			t.Errorf("strike at the coordinator: %v", err)
		}
	})
	if !struck {
		t.Fatal("the data phase was never reported")
	}
	if !errors.Is(err, engine.ErrSnapshotLost) || !strings.Contains(err.Error(), "57P01") {
		t.Fatalf("err = %v, want the snapshot's loss with the server's reason", err)
	}
	t.Logf("message: %v", err)
	f.assertNothingLeft(t)
	assertNoBackends(t, dsn)
}
