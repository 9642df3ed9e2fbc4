package etc_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/hubble/hubble-applianceapi/internal/ostest"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hubble/hubble-applianceapi/internal/pgtest"
)

// checkLifecycle installs the package with dpkg -i, verifies the unit, runs
// the installed service against a test database, removes and purges it. The
// machine ends as it was, whatever fails: t.Cleanup stops the service and
// purges the package.
func checkLifecycle(t *testing.T, deb string) {
	if st := dpkgStatus(); st != "" && !strings.HasSuffix(st, "not-installed") {
		t.Fatalf("%s is already known to dpkg (%q): this test installs and purges it, so it will not touch an existing installation; run `dpkg -P %s` first if it is a leftover", pkgName, st, pkgName)
	}
	for _, p := range []string{"/etc/hubble-applianceapi", stateDir, "/usr/libexec/hubble-applianceapi"} {
		if _, err := os.Lstat(p); err == nil {
			t.Fatalf("%s exists although %s is not installed: remove it before running this test", p, pkgName)
		}
	}
	before := machineState(t)
	t.Cleanup(func() {
		if dpkgStatus() == "" {
			return
		}
		if out, err := runErr("", nil, "dpkg", "-P", pkgName); err != nil {
			t.Errorf("cleanup: dpkg -P %s: %v\n%s", pkgName, err, out)
		}
	})

	// Install: no running systemd here, the maintainer scripts must cope.
	out := run(t, "", nil, "dpkg", "-i", deb)
	if st := dpkgStatus(); st != "install ok installed" {
		t.Fatalf("after dpkg -i: status %q, want installed\n%s", st, out)
	}
	checkModes(t, "/")
	if target, err := filepath.EvalSymlinks(linkPath); err != nil || target != binPath {
		t.Errorf("%s resolves to %q (%v), want %s", linkPath, target, err, binPath)
	}
	if out := run(t, "", nil, linkPath, "version"); !strings.Contains(out, testVersion) {
		t.Errorf("hubble-applianceapi version = %q, want %s", out, testVersion)
	}
	// Enabled (starts at boot), not started: postinst only creates the link.
	wants := "/etc/systemd/system/multi-user.target.wants/hubble-applianceapi.service"
	if target, err := os.Readlink(wants); err != nil || !strings.HasSuffix(target, "/systemd/system/hubble-applianceapi.service") {
		t.Errorf("service not enabled: %s -> %q (%v)", wants, target, err)
	}

	// The installed unit is valid for systemd (no running systemd needed).
	if out, err := runErr("", nil, "systemd-analyze", "verify", unitPath); err != nil || strings.TrimSpace(out) != "" {
		t.Errorf("systemd-analyze verify %s: %v\n%s", unitPath, err, out)
	}

	backupDir := runService(t)

	// dpkg -r: program and unit go; config, job history and archives stay.
	run(t, "", nil, "dpkg", "-r", pkgName)
	if st := dpkgStatus(); st != "deinstall ok config-files" {
		t.Errorf("after dpkg -r: status %q, want deinstall ok config-files", st)
	}
	for _, p := range []string{binPath, linkPath, unitPath} {
		if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("after dpkg -r: %s still there (%v)", p, err)
		}
	}
	for _, p := range []string{configPath, filepath.Join(stateDir, "jobs.db")} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("after dpkg -r: %s not kept: %v", p, err)
		}
	}
	archives := archivesIn(t, backupDir)
	if len(archives) != 1 {
		t.Errorf("after dpkg -r: archives in backup_dir = %v, want the one backup kept", archives)
	}

	// dpkg -P: config and state go too; archives are the administrator's.
	run(t, "", nil, "dpkg", "-P", pkgName)
	if st := dpkgStatus(); st != "" && !strings.HasSuffix(st, "not-installed") {
		t.Errorf("after dpkg -P: status %q, want unknown to dpkg", st)
	}
	if got := archivesIn(t, backupDir); !cmp.Equal(got, archives) {
		t.Errorf("after dpkg -P: archives %v, want %v kept", got, archives)
	}
	if diff := cmp.Diff(before, machineState(t)); diff != "" {
		t.Errorf("after dpkg -P the machine differs from before the install (-before +after):\n%s", diff)
	}
}

// runService starts the installed service with the unit's ExecStart= and the
// installed config (replication enabled, with its default commands), pointed
// at a test database through HUBBLE_* overrides, as root with an unprivileged
// replication user and a root 0755 temp_dir, as on the appliance. It runs
// one backup over the API (the export runs as that user), rotates log_file
// with the installed logrotate rule, and stops the service with SIGTERM. It
// returns the backup directory.
func runService(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	dsn := pgtest.NewDB(t)
	if err := pgtest.CreateHubble(ctx, dsn, pgtest.HubbleOptions{}); err != nil {
		t.Fatal(err)
	}
	repl := ostest.SystemUser(t, "hubpkg", false)
	replUser, replUID := repl.Name, repl.UID
	// The stand-in of repctl on the service's PATH, where the replication
	// user can run it; temp_dir root's, 0755, as an administrator makes it.
	binDir, tempDir := ostest.AdminDir(t, "hubble-pkg-"), ostest.AdminDir(t, "hubble-pkg-")
	stand, err := os.ReadFile(filepath.Join(repoRoot(t), "testdata", "repctl"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(binDir, "repctl"), stand, 0o755); err != nil {
		t.Fatal(err)
	}
	backupDir, logDir := t.TempDir(), t.TempDir()
	logFile := filepath.Join(logDir, "ybapi.log")
	addr := "127.0.0.1:" + itoa(freePort(t))
	env := append(environWithout("HUBBLE_"),
		"PATH="+binDir+":"+os.Getenv("PATH"),
		"HUBBLE_DATABASE_DSN="+dsn,
		"HUBBLE_BACKUP_DIR="+backupDir,
		"HUBBLE_TEMP_DIR="+tempDir,
		"HUBBLE_LOG_FILE="+logFile,
		"HUBBLE_LISTEN="+addr,
		"HUBBLE_MIN_FREE_MB=1",
		"HUBBLE_REPLICATION_USER="+replUser,
		// state_dir stays the installed /var/lib/hubble-applianceapi, so
		// remove and purge are checked against a real job history.
	)
	argv := execStart(t, unitPath)
	if diff := cmp.Diff([]string{binPath, "serve", "--config", configPath}, argv); diff != "" {
		t.Errorf("unit ExecStart (-want +got):\n%s", diff)
	}
	outFile, err := os.Create(filepath.Join(logDir, "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	defer outFile.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env, cmd.Stdout, cmd.Stderr = env, outFile, outFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			cmd.Process.Kill()
			<-exited
		}
	})
	output := func() string { b, _ := os.ReadFile(outFile.Name()); return string(b) }

	base := "http://" + addr + "/api/"
	var root struct {
		Service, Version, Status string
		NextRun                  *time.Time `json:"next_run"`
	}
	poll(t, exited, output, 30*time.Second, "GET /api/ answers", func() bool {
		return getJSON(base, &root) == nil
	})
	if root.Version != testVersion || root.Status != "running" || root.NextRun == nil {
		t.Errorf("GET /api/ = %+v, want version %s, running, next_run of the installed schedule", root, testVersion)
	}

	var job struct{ Id, Status, Message string }
	if err := postJSON(base+"Backup/Execute", &job); err != nil {
		t.Fatalf("Execute: %v\n%s", err, output())
	}
	poll(t, exited, output, 2*time.Minute, "the backup job ends", func() bool {
		err := getJSON(base+"Backup/Status?id="+job.Id, &job)
		return err == nil && job.Status != "Queued" && job.Status != "Executing"
	})
	if job.Status != "Success" {
		t.Fatalf("backup job = %+v, want Success\n%s", job, output())
	}
	archives := archivesIn(t, backupDir)
	if len(archives) != 1 {
		t.Fatalf("archives = %v", archives)
	}
	x := t.TempDir()
	run(t, "", nil, "tar", "xzf", archives[0], "-C", x)
	export, err := os.ReadFile(filepath.Join(x, "AttunityBackup", "Replication_Definition.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(export), `"ran_as_uid": `+itoa(replUID)+",") {
		t.Errorf("the export did not run as %s (uid %d):\n%s", replUser, replUID, export)
	}
	checkLogrotate(t, logFile, cmd.Process.Pid, job.Id)

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		stopped = true
		if err != nil {
			t.Errorf("serve after SIGTERM: %v, want exit 0\n%s", err, output())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not stop within 30 s of SIGTERM\n%s", output())
	}
	return backupDir
}

// poll calls ok until it reports true, the service exits, or the time is up.
func poll(t *testing.T, exited <-chan error, output func() string, limit time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !ok() {
		select {
		case err := <-exited:
			t.Fatalf("service exited (%v) before %s\n%s", err, what, output())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting until %s\n%s", limit, what, output())
		}
	}
}

var client = &http.Client{Timeout: 5 * time.Second}

func getJSON(url string, v any) error {
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	return decode(resp, v)
}

func postJSON(url string, v any) error {
	resp, err := client.Post(url, "application/x-www-form-urlencoded", nil)
	if err != nil {
		return err
	}
	return decode(resp, v)
}

func decode(resp *http.Response, v any) error {
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", resp.Status, b)
	}
	return json.Unmarshal(b, v)
}

// archivesIn lists the archive names in dir.
func archivesIn(t *testing.T, dir string) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "hubble_schema_backup_*.tar.gz"))
	if err != nil {
		t.Fatal(err)
	}
	return names
}
