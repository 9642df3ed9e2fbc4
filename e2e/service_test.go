package e2e

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// env is one service installation: its config file and directories. Several
// service processes may run from it one after the other (restart tests).
type env struct {
	dsn        string
	dir        string // holds everything below but backup_dir and temp_dir
	configPath string
	backupDir  string
	tempDir    string
	stateDir   string
	logFile    string
	repctl     string
}

// options are the config keys a test varies.
type options struct {
	schema        string // default schemaSmall
	maxConcurrent int    // default 1
	maxQueued     int    // default 1
	backupDir     string // default: a fresh empty directory
	tempDir       string // default: a fresh empty directory
	extra         string // appended YAML
	// replEnv is replication.env: the stand-in's knobs (REPCTL_SLEEP, ...)
	// reach it only through it, never through the service's environment.
	replEnv map[string]string
}

// newEnv writes a config for a service on 127.0.0.1 (port chosen by the
// kernel) backing up the shared database.
func newEnv(t testing.TB, o options) *env {
	t.Helper()
	if o.schema == "" {
		o.schema = schemaSmall
	}
	if o.maxConcurrent == 0 {
		o.maxConcurrent = 1
	}
	if o.maxQueued == 0 {
		o.maxQueued = 1
	}
	e := &env{dsn: sharedDB(t), dir: t.TempDir(), backupDir: o.backupDir, tempDir: o.tempDir}
	if e.backupDir == "" {
		e.backupDir = t.TempDir()
	}
	if e.tempDir == "" {
		e.tempDir = t.TempDir()
	}
	e.configPath = filepath.Join(e.dir, "config.yaml")
	e.stateDir = filepath.Join(e.dir, "state")
	e.logFile = filepath.Join(e.dir, "service.log")
	e.repctl = standIn(t, e.dir)
	cfg := fmt.Sprintf(`listen: "127.0.0.1:0"
backup_dir: %q
temp_dir: %q
min_free_mb: 1
log_file: %q
state_dir: %q
max_concurrent_jobs: %d
max_queued_jobs: %d
database:
  engine: postgres
  dsn: %q
  schema: %s
  parallel: 2
replication:
  enabled: true
  export_command: [%q, "exportrepository", "json_file={file}"]
  import_command: [%q, "importrepository", "json_file={file}"]
  user: ""
  env: %s
compression_level: 1
%s`, e.backupDir, e.tempDir, e.logFile, e.stateDir, o.maxConcurrent, o.maxQueued, e.dsn, o.schema, e.repctl, e.repctl,
		yamlMap(o.replEnv), o.extra)
	if err := os.WriteFile(e.configPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return e
}

// setReplEnv rewrites replication.env in e's config (for the next start).
func (e *env) setReplEnv(t testing.TB, m map[string]string) {
	t.Helper()
	b, err := os.ReadFile(e.configPath)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "  env: {") {
			lines[i] = "  env: " + yamlMap(m)
		}
	}
	if err := os.WriteFile(e.configPath, []byte(strings.Join(lines, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
}

// yamlMap renders m as a YAML flow mapping.
func yamlMap(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s: %q", k, m[k])
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// standIn copies testdata/repctl (the replication tool's stand-in) into dir.
func standIn(t testing.TB, dir string) string {
	t.Helper()
	b, err := os.ReadFile("../testdata/repctl")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "repctl")
	if err := os.WriteFile(p, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// service is one running `hubble-applianceapi serve` process.
type service struct {
	t          testing.TB
	cmd        *exec.Cmd
	base       string   // http://127.0.0.1:PORT
	curlArgs   []string // what every helper request adds: credentials, --cacert
	stderrPath string   // the process's stderr, a file: no pipe can slow it down
	done       chan struct{}
	err        error // Wait's result, valid after done
}

// maxLog bounds the service's stderr shown in failure reports.
const maxLog = 1 << 20

var (
	listenRE = regexp.MustCompile(`msg="service started" listen=(\S+)`)
	starts   atomic.Int64
)

// start runs `serve --config` with extraEnv added to the environment and
// waits until it logs the address it listens on. The process (and its
// process group, so children such as a sleeping repctl) is killed when the
// test ends.
func (e *env) start(t testing.TB, extraEnv ...string) *service {
	t.Helper()
	return e.startWith(t, startOptions{env: extraEnv})
}

// startOptions vary how a service process runs.
type startOptions struct {
	env   []string // added to the environment
	https bool     // the config serves TLS: base is https://
	netns bool     // run in a network namespace of its own (see netns_test.go)
}

// startWith is start with options.
func (e *env) startWith(t testing.TB, o startOptions) *service {
	t.Helper()
	s := &service{t: t, done: make(chan struct{})}
	s.stderrPath = filepath.Join(e.dir, fmt.Sprintf("stderr-%d.log", starts.Add(1)))
	f, err := os.Create(s.stderrPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s.cmd = exec.Command(binary(t), "serve", "--config", e.configPath)
	s.cmd.Env = append(os.Environ(), o.env...)
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if o.netns {
		s.cmd.SysProcAttr.Cloneflags = syscall.CLONE_NEWNET
	}
	s.cmd.Stderr = f
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		s.err = s.cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		s.kill()
		if t.Failed() {
			t.Logf("service stderr:\n%s", s.log())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		if m := listenRE.FindStringSubmatch(s.log()); m != nil {
			s.base = "http://" + m[1]
			if o.https {
				s.base = "https://" + m[1]
			}
			return s
		}
		select {
		case <-s.done:
			t.Fatalf("service exited before listening: %v\n%s", s.err, s.log())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("service did not start listening within 30 s\n%s", s.log())
		}
		time.Sleep(pollInterval)
	}
}

// log returns the tail of the service's stderr.
func (s *service) log() string {
	b, err := os.ReadFile(s.stderrPath)
	if err != nil {
		return err.Error()
	}
	if len(b) > maxLog {
		b = b[len(b)-maxLog:]
	}
	return string(b)
}

// kill sends SIGKILL to the service, its process group and every process
// below it (a child may run in a process group of its own), and reaps it.
func (s *service) kill() {
	for pid := range descendants(s.cmd.Process.Pid) {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	<-s.done
}

// killService sends SIGKILL to the service process only (what `kill -9 PID`
// does) and waits until it is gone.
func (s *service) killService(t testing.TB) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		t.Fatal("service did not die within 10 s of SIGKILL")
	}
}

// stop sends SIGTERM and returns the exit code once the process has ended.
func (s *service) stop(t testing.TB, within time.Duration) int {
	t.Helper()
	return s.signal(t, syscall.SIGTERM, within)
}

// signal sends sig and returns the exit code once the process has ended.
func (s *service) signal(t testing.TB, sig os.Signal, within time.Duration) int {
	t.Helper()
	if err := s.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.done:
	case <-time.After(within):
		t.Fatalf("service did not exit within %v of %v\n%s", within, sig, s.log())
	}
	var ee *exec.ExitError
	if errors.As(s.err, &ee) {
		return ee.ExitCode()
	}
	if s.err != nil {
		t.Fatal(s.err)
	}
	return 0
}
