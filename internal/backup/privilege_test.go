package backup_test

import (
	"context"
	"encoding/json"
	"github.com/hubble/hubble-applianceapi/internal/ostest"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/hubble/hubble-applianceapi/internal/archive"
)

// The packaged set-up: the service runs as root with replication.user set,
// temp_dir and backup_dir are root's 0755 folders. The export runs as that
// user, with its own environment, and the backup succeeds (it failed with
// "permission denied": the staging folder was closed to the user).
func TestPipeline_Run_ReplicationUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test switches to an unprivileged replication user and must run as root (as CI does)")
	}
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Fatalf("user nobody: %v", err)
	}
	t.Setenv("PGPASSWORD", "pg-secret-for-the-database-only")
	t.Setenv("HUBBLE_DATABASE_DSN", "postgres://hubble:dsn-secret@localhost/db")
	f := newFixture(t, hubbleDB(t))
	f.tempDir, f.backupDir = ostest.AdminDir(t, "hubble-admin-*"), ostest.AdminDir(t, "hubble-admin-*")
	f.p.Opts.TempDir, f.p.Opts.BackupDir = f.tempDir, f.backupDir
	f.p.Target = localTarget(f.backupDir)
	f.p.Opts.Replication.User = "nobody"

	res, err := f.p.Run(context.Background(), "0123456789abcdef0123456789abcdef", nil)
	if err != nil {
		t.Fatalf("backup with replication user nobody in root's 0755 folders: %v", err)
	}
	out := extract(t, filepath.Join(f.backupDir, res.Name))
	b, err := os.ReadFile(filepath.Join(out, filepath.FromSlash(archive.ReplicationFile)))
	if err != nil {
		t.Fatal(err)
	}
	var export struct {
		UID         int      `json:"ran_as_uid"`
		Environment []string `json:"environment"`
	}
	if err := json.Unmarshal(b, &export); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	if strconv.Itoa(export.UID) != nobody.Uid {
		t.Errorf("export ran as uid %d, want nobody (%s)", export.UID, nobody.Uid)
	}
	for _, name := range export.Environment {
		if name == "PGPASSWORD" || strings.HasPrefix(name, "HUBBLE_") ||
			!slices.Contains([]string{"PATH", "HOME", "USER", "LOGNAME", "LANG", "TZ", "PWD"}, name) && !strings.HasPrefix(name, "LC_") {
			t.Errorf("the export saw %s in its environment", name)
		}
	}
	if des, _ := os.ReadDir(f.tempDir); len(des) != 0 {
		t.Errorf("left behind in temp_dir: %v", des)
	}
}
