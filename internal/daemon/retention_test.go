package daemon_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestDaemon_RetentionAfterBackup: with retention.keep_last 2, three
// successful backups leave exactly the newest two archives; files that are
// not archives (other names, partial files, a directory and a link named
// like archives) stay untouched.
func TestDaemon_RetentionAfterBackup(t *testing.T) {
	e := newEnv(t)
	outside := filepath.Join(t.TempDir(), "precious")
	decoys := map[string]string{ // name -> content ("" for special files)
		"notes.txt": "not an archive",
		"hubble_schema_backup_2001_01_01_00_00_00.tar.gz.partial":   "partial",
		".hubble_schema_backup_2001_01_01_00_00_01.tar.gz.tmp":      "hidden temporary",
		"other_schema_backup_2001_01_01_00_00_00.tar.gz":            "another product's",
		"hubble_schema_backup_2001_01_01.tar.gz":                    "name without a time",
		"hubble_schema_backup_2001_01_01_00_00_02.tar.gz.sha256sum": "checksum",
	}
	for name, content := range decoys {
		if err := os.WriteFile(filepath.Join(e.BackupDir, name), []byte(content), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(outside, []byte("outside backup_dir"), 0o640); err != nil {
		t.Fatal(err)
	}
	linkName, dirName := "hubble_schema_backup_2001_01_01_00_00_03.tar.gz", "hubble_schema_backup_2001_01_01_00_00_04.tar.gz"
	if err := os.Symlink(outside, filepath.Join(e.BackupDir, linkName)); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(e.BackupDir, dirName), 0o750); err != nil {
		t.Fatal(err)
	}

	r := serve(t, e.config(t, `retention:
  keep_last: 2
`), nil)
	var archives []string
	for range 3 {
		job := r.execute(t)
		if s := r.waitFinal(t, job.Id, time.Minute); s.Status != "Success" {
			t.Fatalf("backup: %+v, want Success", s)
		}
		for _, j := range r.jobs(t) {
			if j.ID == job.Id {
				archives = append(archives, filepath.Base(j.Archive))
			}
		}
	}
	if len(archives) != 3 || archives[0] == "" {
		t.Fatalf("archives of the three jobs: %q", archives)
	}

	// Retention runs after the job is recorded: wait until the oldest goes.
	wait(t, 10*time.Second, "the oldest archive is removed", func() bool {
		_, err := os.Stat(filepath.Join(e.BackupDir, archives[0]))
		return os.IsNotExist(err)
	})
	var want []string
	for name := range decoys {
		want = append(want, name)
	}
	want = append(want, linkName, dirName, archives[1], archives[2])
	slices.Sort(want)
	des, err := os.ReadDir(e.BackupDir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, de := range des {
		got = append(got, de.Name())
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("backup_dir after three backups with keep_last 2 (-want +got):\n%s", diff)
	}
	for name, content := range decoys {
		if b, err := os.ReadFile(filepath.Join(e.BackupDir, name)); err != nil || string(b) != content {
			t.Errorf("decoy %s changed: %q, %v", name, b, err)
		}
	}
	if b, err := os.ReadFile(outside); err != nil || string(b) != "outside backup_dir" {
		t.Errorf("file behind the link changed: %q, %v", b, err)
	}
}
