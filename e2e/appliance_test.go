package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/hubble/hubble-applianceapi/internal/ostest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hubble/hubble-applianceapi/internal/pgtest"
)

// The appliance's shape: the daemon runs as root with replication.user set
// to an unprivileged user made for the test, temp_dir and backup_dir are
// root's 0755 folders, the database password is in PGPASSWORD and in a
// HUBBLE_DATABASE_DSN; a CLI backup runs beside a service backup, then a
// restore with the replication step. Everything succeeds, the replication
// commands prove they ran as that user with its groups and only the
// allowlisted environment, and neither secret shows in any child's
// environment or argv, the log or any answer.
func TestAppliance_RootDaemonReplicationUser(t *testing.T) {
	requireRoot(t)
	acct := ostest.SystemUser(t, "hubrepl", true)
	base, err := os.MkdirTemp("", "hubble-appliance-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	os.Chmod(base, 0o755)
	tempDir, backupDir := rootFolder(t, base, "tmp"), rootFolder(t, base, "backup")
	repctl := standIn(t, rootFolder(t, base, "bin"))
	// The replication tool's own data folder, which an administrator grants
	// to the replication user; the stand-in logs its calls there.
	data := filepath.Join(base, "replicate-data")
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(data, acct.UID, acct.GID); err != nil {
		t.Fatal(err)
	}
	calls := filepath.Join(data, "calls.log")
	svc := filepath.Join(base, "svc")
	if err := os.Mkdir(svc, 0o700); err != nil {
		t.Fatal(err)
	}

	const pgSecret, dsnSecret = "pgpass-Qz81vv", "dsnpass-Xk27ww"
	u, err := url.Parse(pgtest.PasswordRole(t, sharedDB(t), dsnSecret))
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(u.User.Username(), dsnSecret)
	roleDSN := u.String()
	e := &env{dsn: roleDSN, dir: svc, configPath: filepath.Join(svc, "config.yaml"), backupDir: backupDir,
		tempDir: tempDir, stateDir: filepath.Join(svc, "state"), logFile: filepath.Join(svc, "ybapi.log"), repctl: repctl}
	cfg := fmt.Sprintf(`listen: "127.0.0.1:0"
backup_dir: %q
temp_dir: %q
min_free_mb: 1
log_file: %q
state_dir: %q
max_concurrent_jobs: 2
database:
  schema: hubble
  parallel: 2
replication:
  enabled: true
  export_command: [%q, "exportrepository", "json_file={file}"]
  import_command: [%q, "importrepository", "json_file={file}"]
  user: %s
  env: {REPCTL_LOG: %q, REPCTL_SLEEP: "1"}
compression_level: 1
`, backupDir, tempDir, e.logFile, e.stateDir, repctl, repctl, acct.Name, calls)
	if err := os.WriteFile(e.configPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	secrets := []string{"HUBBLE_DATABASE_DSN=" + roleDSN, "PGPASSWORD=" + pgSecret}

	s := e.start(t, secrets...)
	watch := watchChildren(acct.UID, pgSecret, dsnSecret)

	// A service backup and a CLI backup side by side.
	job := s.execute(t)
	cli := exec.Command(binary(t), "backup", "--config", e.configPath)
	cli.Env = append(os.Environ(), secrets...)
	var cliOut, cliErr bytes.Buffer
	cli.Stdout, cli.Stderr = &cliOut, &cliErr
	if err := cli.Run(); err != nil {
		t.Errorf("CLI backup beside the service: %v\n%s", err, cliErr.String())
	}
	st, _ := s.waitStatus(t, job.ID, "Success", 2*time.Minute)
	rec := s.record(t, job.ID)
	cliArchive := strings.TrimSpace(cliOut.String())
	archives := []string{rec.Archive, cliArchive}
	for _, a := range archives {
		checkExport(t, a, acct)
	}
	if names := entries(t, backupDir); len(names) != 2 {
		t.Errorf("backup_dir holds %v, want the two archives", names)
	}

	// The restore, replication step included, onto a fresh database.
	dst := pgtest.NewDB(t)
	if err := pgtest.CreateERP(context.Background(), dst); err != nil {
		t.Fatal(err)
	}
	restore := exec.Command(binary(t), "restore", rec.Archive, "--config", e.configPath, "--dsn", dst)
	restore.Env = append(os.Environ(), secrets...)
	restoreOut, err := restore.CombinedOutput()
	if err != nil {
		t.Errorf("restore with the replication step: %v\n%s", err, restoreOut)
	}
	seen := watch.stop()
	if seen == 0 {
		t.Error("no process of the replication user was ever seen: the environment check did not run")
	}
	for _, v := range watch.violations() {
		t.Error(v)
	}
	t.Logf("%d samples of the replication user's processes checked", seen)

	log, _ := os.ReadFile(calls)
	lines := strings.Split(strings.TrimSpace(string(log)), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[2], "importrepository ") {
		t.Errorf("repctl calls:\n%s\nwant two exports then one import", log)
	}
	for _, line := range lines {
		checkCall(t, line, acct)
	}

	// Neither secret anywhere a user or an administrator can read.
	answers := curl(t, s.base+"/api/Backup/Jobs").body
	answers = append(answers, curl(t, s.base+"/api/Backup/Status?id="+st.ID).body...)
	answers = append(answers, curl(t, s.base+"/readyz").body...)
	logFile, _ := os.ReadFile(e.logFile)
	output, _ := os.ReadFile(filepath.Join(svc, "restore_output.txt"))
	for what, b := range map[string][]byte{
		"the API's answers": answers, "log_file": logFile, "the service's stderr": []byte(s.log()),
		"the CLI backup's output": append(cliOut.Bytes(), cliErr.Bytes()...), "the restore's output": restoreOut,
		"restore_output.txt": output, "the repctl calls": log,
	} {
		for _, secret := range []string{pgSecret, dsnSecret} {
			if bytes.Contains(b, []byte(secret)) {
				t.Errorf("%s shows the secret %q", what, secret)
			}
		}
	}
	if code := s.stop(t, 30*time.Second); code != 0 {
		t.Errorf("SIGTERM: exit code %d", code)
	}
	assertEmpty(t, tempDir)
	for _, dir := range []string{tempDir, backupDir} {
		if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o755 || owner(fi) != 0 {
			t.Errorf("%s changed: %v, owner %d", dir, fi.Mode(), owner(fi))
		}
	}
}

// allowedEnv is what the replication commands may see (SPEC section 3):
// the allowlist, replication.env, and the shell's own PWD.
func allowedEnv(name string) bool {
	return slices.Contains([]string{"PATH", "HOME", "USER", "LOGNAME", "LANG", "TZ", "PWD", "REPCTL_LOG", "REPCTL_SLEEP"}, name) ||
		strings.HasPrefix(name, "LC_")
}

// checkExport reads the stand-in's export in archive: who it ran as and
// what environment it had.
func checkExport(t *testing.T, archive string, acct ostest.Account) {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("tar", "xzf", archive, "-C", dir).CombinedOutput(); err != nil {
		t.Fatalf("tar xzf %s: %v\n%s", archive, err, out)
	}
	b, err := os.ReadFile(filepath.Join(dir, "AttunityBackup", "Replication_Definition.json"))
	if err != nil {
		t.Fatal(err)
	}
	var export struct {
		UID         int      `json:"ran_as_uid"`
		Groups      []int    `json:"ran_as_groups"`
		Environment []string `json:"environment"`
	}
	if err := json.Unmarshal(b, &export); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	if export.UID != acct.UID || !slices.Contains(export.Groups, acct.GID) || !slices.Contains(export.Groups, acct.ExtraGID) ||
		slices.Contains(export.Groups, 0) {
		t.Errorf("export of %s ran as uid %d groups %v, want uid %d groups %d and %d (never root's)",
			filepath.Base(archive), export.UID, export.Groups, acct.UID, acct.GID, acct.ExtraGID)
	}
	for _, name := range export.Environment {
		if !allowedEnv(name) {
			t.Errorf("export of %s saw %s in its environment", filepath.Base(archive), name)
		}
	}
	for _, want := range []string{"HOME", "USER", "LOGNAME", "PATH", "REPCTL_LOG"} {
		if !slices.Contains(export.Environment, want) {
			t.Errorf("export of %s lacks %s in its environment", filepath.Base(archive), want)
		}
	}
}

// checkCall checks one REPCTL_LOG line: "verb file user uid=N groups=G,.. env=A,B".
func checkCall(t *testing.T, line string, acct ostest.Account) {
	t.Helper()
	f := strings.Fields(line)
	if len(f) != 6 || f[2] != acct.Name || f[3] != "uid="+strconv.Itoa(acct.UID) {
		t.Errorf("repctl call %q, want one run as %s (uid %d)", line, acct.Name, acct.UID)
		return
	}
	for _, name := range strings.Split(strings.TrimPrefix(f[5], "env="), ",") {
		if !allowedEnv(name) {
			t.Errorf("repctl call %q saw %s in its environment", line, name)
		}
	}
}

// childWatch samples every process while a test runs: the replication
// user's may hold neither secret nor our variables in their environment,
// and no process may hold a secret in its argv.
type childWatch struct {
	stopc chan struct{}
	done  chan struct{}
	mu    sync.Mutex
	seen  int
	bad   []string
}

func watchChildren(uid int, secrets ...string) *childWatch {
	w := &childWatch{stopc: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for {
			select {
			case <-w.stopc:
				return
			case <-time.After(5 * time.Millisecond): // sampling pace
			}
			stats, _ := filepath.Glob("/proc/[0-9]*")
			for _, p := range stats {
				pid, err := strconv.Atoi(filepath.Base(p))
				if err != nil || pid == os.Getpid() {
					continue
				}
				info, ok := readProc(pid)
				if !ok {
					continue
				}
				w.check(pid, info, uid, secrets)
			}
		}
	}()
	return w
}

func (w *childWatch) check(pid int, info procInfo, uid int, secrets []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	argv := strings.ReplaceAll(string(info.cmdline), "\x00", " ")
	for _, s := range secrets {
		if strings.Contains(argv, s) {
			w.bad = append(w.bad, fmt.Sprintf("process %d has a secret in its argv: %s", pid, argv))
		}
	}
	if info.uid != uid {
		return
	}
	w.seen++
	env := "\x00" + string(info.environ)
	for _, s := range append([]string{"\x00PGPASSWORD=", "\x00HUBBLE_"}, secrets...) {
		if strings.Contains(env, s) {
			w.bad = append(w.bad, fmt.Sprintf("process %d (%s) of the replication user has %q in its environment", pid, argv, strings.TrimPrefix(s, "\x00")))
		}
	}
}

func (w *childWatch) stop() int {
	close(w.stopc)
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.seen
}

func (w *childWatch) violations() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Compact(w.bad)
}

func owner(fi os.FileInfo) int {
	if fi == nil {
		return -1
	}
	return statUID(fi)
}
