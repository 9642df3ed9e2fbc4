package daemon_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"text/template"
	"time"

	"go.uber.org/goleak"

	"github.com/hubble/hubble-applianceapi/internal/config"
	"github.com/hubble/hubble-applianceapi/internal/daemon"
	"github.com/hubble/hubble-applianceapi/internal/pgtest"
	"github.com/hubble/hubble-applianceapi/internal/s3test"
)

func TestMain(m *testing.M) {
	code := pgtest.Run(m)
	s3test.StopShared()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// env is what a daemon under test runs against: a database with the Hubble
// schema, empty backup/temp/state directories and the repctl stand-in.
type env struct {
	DSN, BackupDir, TempDir, StateDir, LogFile, Repctl string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	dsn := pgtest.NewDB(t)
	if err := pgtest.CreateHubble(context.Background(), dsn, pgtest.HubbleOptions{}); err != nil {
		t.Fatal(err)
	}
	return &env{
		DSN: dsn, BackupDir: t.TempDir(), TempDir: t.TempDir(), StateDir: t.TempDir(),
		LogFile: filepath.Join(t.TempDir(), "ybapi.log"), Repctl: standIn(t),
	}
}

// baseConfig is the part of every test configuration that points at env;
// a test appends its own keys.
const baseConfig = `listen: "127.0.0.1:0"
backup_dir: {{.BackupDir}}
temp_dir: {{.TempDir}}
state_dir: {{.StateDir}}
log_file: {{.LogFile}}
min_free_mb: 1
database:
  dsn: "{{.DSN}}"
  schema: hubble
  parallel: 2
replication:
  enabled: true
  user: ""
  export_command: ["{{.Repctl}}", "exportrepository", "json_file={file}"]
  import_command: ["{{.Repctl}}", "importrepository", "json_file={file}"]
`

// config parses baseConfig + extra with config.Parse, as the service does.
func (e *env) config(t *testing.T, extra string) *config.Config {
	t.Helper()
	var b bytes.Buffer
	if err := template.Must(template.New("cfg").Parse(baseConfig+extra)).Execute(&b, e); err != nil {
		t.Fatal(err)
	}
	cfg, warnings, err := config.Parse(&b, nil)
	if err != nil {
		t.Fatalf("config.Parse: %v\n%s", err, b.String())
	}
	if len(warnings) > 0 {
		t.Fatalf("config warnings: %v", warnings)
	}
	return cfg
}

// running is a daemon serving on a loopback port.
type running struct {
	d      *daemon.Daemon
	base   string // http://127.0.0.1:PORT/api/
	log    *syncBuffer
	cancel context.CancelFunc
	done   chan error
	client *http.Client
}

// serve builds a Daemon with daemon.New and serves it until stop (or the end
// of the test).
func serve(t *testing.T, cfg *config.Config, logBuf *syncBuffer) *running {
	t.Helper()
	if logBuf == nil {
		logBuf = &syncBuffer{}
	}
	d := newDaemon(t, cfg, logBuf)
	return serveDaemon(t, d, logBuf)
}

// newDaemon builds a Daemon with daemon.New, logging to logBuf.
func newDaemon(t *testing.T, cfg *config.Config, logBuf *syncBuffer) *daemon.Daemon {
	t.Helper()
	log := slog.New(slog.NewTextHandler(logBuf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	d, err := daemon.New(cfg, log, "test")
	if err != nil {
		t.Fatalf("daemon.New: %v", err)
	}
	return d
}

// serveDaemon serves d until stop (or the end of the test).
func serveDaemon(t *testing.T, d *daemon.Daemon, logBuf *syncBuffer) *running {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		d.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{
		d: d, base: "http://" + ln.Addr().String() + "/api/", log: logBuf, cancel: cancel,
		done:   make(chan error, 1),
		client: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}},
	}
	go func() { r.done <- d.Serve(ctx, ln) }()
	t.Cleanup(func() {
		if err := r.stop(); err != nil {
			t.Errorf("Serve: %v", err)
		}
		if t.Failed() {
			t.Logf("daemon log:\n%s", logBuf.String())
		}
	})
	return r
}

// stop cancels Serve's context and waits (bounded) for it to return.
// Calling it again returns nil.
func (r *running) stop() error {
	if r.done == nil {
		return nil
	}
	r.cancel()
	defer func() { r.done = nil }()
	select {
	case err := <-r.done:
		return err
	case <-time.After(2 * time.Minute):
		return fmt.Errorf("Serve did not return within 2 minutes of its context ending")
	}
}

// status is the Status JSON of SPEC section 4.
type status struct{ Id, Status, Message string }

// jobRecord is one record of GET /api/Backup/Jobs.
type jobRecord struct {
	ID         string     `json:"id"`
	Status     string     `json:"status"`
	Message    string     `json:"message"`
	Trigger    string     `json:"trigger"`
	CreatedAt  *time.Time `json:"created_at"`
	StartedAt  *time.Time `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at"`
	Archive    string     `json:"archive"`
	SHA256     string     `json:"sha256"`
	Copies     []string   `json:"copies"`
}

func (r *running) do(t *testing.T, method, path string, v any) {
	t.Helper()
	req, err := http.NewRequest(method, r.base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := r.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: %s: %s", method, path, resp.Status, b)
	}
	if v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
}

func (r *running) execute(t *testing.T) status {
	t.Helper()
	var s status
	r.do(t, http.MethodPost, "Backup/Execute", &s)
	return s
}

func (r *running) status(t *testing.T, id string) status {
	t.Helper()
	var s status
	r.do(t, http.MethodGet, "Backup/Status?id="+id, &s)
	return s
}

func (r *running) jobs(t *testing.T) []jobRecord {
	t.Helper()
	var l struct {
		Jobs []jobRecord `json:"jobs"`
	}
	r.do(t, http.MethodGet, "Backup/Jobs?limit=1000", &l)
	return l.Jobs
}

// metric returns the value of an unlabelled metric from GET /metrics.
func (r *running) metric(t *testing.T, name string) string {
	t.Helper()
	resp, err := r.client.Get(strings.TrimSuffix(r.base, "api/") + "metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			return v
		}
	}
	t.Fatalf("metric %s not in GET /metrics", name)
	return ""
}

// wait polls cond every 50 ms until it is true or limit passes.
func wait(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting until %s", limit, what)
		}
		time.Sleep(50 * time.Millisecond) // polling interval, not a wait for a state
	}
}

// waitFinal polls a job's Status until it is final.
func (r *running) waitFinal(t *testing.T, id string, limit time.Duration) status {
	t.Helper()
	var s status
	wait(t, limit, "job "+id+" ends", func() bool {
		s = r.status(t, id)
		return s.Status != "Queued" && s.Status != "Executing"
	})
	return s
}

// standIn copies the repctl stand-in somewhere any user can run it.
func standIn(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../testdata/repctl")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "repctl")
	if err := os.WriteFile(p, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// syncBuffer is a bytes.Buffer safe for the daemon's concurrent logging.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
