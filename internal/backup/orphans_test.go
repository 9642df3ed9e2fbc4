package backup_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/hubble/hubble-applianceapi/internal/flock"
	"github.com/hubble/hubble-applianceapi/internal/storage/local"
)

// A foreground backup killed with -9 leaves a staging folder and a partial
// archive that no job store remembers; the next backup removes them, and
// never touches the files of a backup still running.
func TestPipeline_Run_RemovesLeftoversOfDeadBackups(t *testing.T) {
	f := newFixture(t, hubbleDB(t))
	f.p.Opts.Replication = nil

	// A dead process's leftovers: made and locked by a child that is then
	// killed with -9, as a CLI backup would be.
	deadStage := filepath.Join(f.tempDir, "hubble-backup-deadbeefdeadbeefdeadbeefdeadbeef-1")
	if err := os.Mkdir(deadStage, 0o700); err != nil {
		t.Fatal(err)
	}
	deadPartial := filepath.Join(f.backupDir, ".partial-deadbeefdeadbeefdeadbeefdeadbeef-1")
	for _, p := range []string{deadStage + ".owner", deadPartial} {
		if err := os.WriteFile(p, []byte("half"), 0o600); err != nil {
			t.Fatal(err)
		}
		// --close: only flock(1) itself holds the lock, not its sleep.
		child := exec.Command("flock", "--exclusive", "--close", p, "sleep", "600")
		child.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := child.Start(); err != nil {
			t.Fatalf("flock(1): %v", err)
		}
		waitLocked(t, p)
		syscall.Kill(-child.Process.Pid, syscall.SIGKILL)
		child.Wait()
	}

	// A live backup's files, held by this process.
	live, err := local.New(f.backupDir).Create(context.Background(), "livejob", func(int) string { return "live.tar.gz" })
	if err != nil {
		t.Fatal(err)
	}
	defer live.Abort()
	liveWork, err := flock.MkdirTemp(f.tempDir, "hubble-backup-livejob-")
	if err != nil {
		t.Fatal(err)
	}
	defer liveWork.Release()
	liveStage := liveWork.Path

	if _, err := f.p.Run(context.Background(), "0123456789abcdef0123456789abcdef", nil); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{deadStage, deadStage + ".owner", deadPartial} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("leftover of a dead backup still there: %s", p)
		}
	}
	if _, err := os.Stat(liveStage); err != nil {
		t.Errorf("staging folder of a live backup removed: %v", err)
	}
	partials, _ := filepath.Glob(filepath.Join(f.backupDir, ".partial-livejob-*"))
	if len(partials) != 1 {
		t.Errorf("partial archive of a live backup removed: %v", partials)
	}
}

// waitLocked polls (bounded) until a child holds path's lock.
func waitLocked(t *testing.T, path string) {
	t.Helper()
	for range 1000 {
		if gone, err := flock.Abandoned(path); err == nil && !gone {
			return
		}
		sleepBriefly()
	}
	t.Fatalf("child never locked %s", path)
}
