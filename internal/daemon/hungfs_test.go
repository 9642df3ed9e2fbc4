package daemon_test

import (
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hubble/hubble-applianceapi/internal/daemon"
	"github.com/hubble/hubble-applianceapi/internal/fscheck"
)

// hungShare makes backup_dir a hard-mounted NFS share whose server is gone:
// stat and statfs on it never return (until the test ends); temp_dir works.
type hungShare struct {
	dir     string
	calls   atomic.Int64
	release chan struct{}
	once    sync.Once
}

func (h *hungShare) stat(p string) (fs.FileInfo, error) {
	if strings.HasPrefix(p, h.dir) {
		h.calls.Add(1)
		<-h.release
		return nil, errors.New("stale file handle")
	}
	return os.Stat(p)
}

func (h *hungShare) statfs(p string) (uint64, error) {
	if strings.HasPrefix(p, h.dir) {
		h.calls.Add(1)
		<-h.release
		return 0, errors.New("stale file handle")
	}
	return 10 << 30, nil
}

func (h *hungShare) unhang() { h.once.Do(func() { close(h.release) }) }

// A statfs that never returns on backup_dir: Execute, /readyz and /metrics
// all answer after the deadline (the first two with the SPEC message), the
// metrics serve the last value with its age, and however many requests
// come, one call at a time waits on the mount.
func TestDaemon_HungBackupDir(t *testing.T) {
	e := newEnv(t)
	cfg := e.config(t, "")
	h := &hungShare{dir: cfg.BackupDir, release: make(chan struct{})}
	defer h.unhang()
	// A healthy first measurement, then the share hangs.
	healthy := true
	checker := fscheck.NewWith(200*time.Millisecond, h.stat, func(p string) (uint64, error) {
		if healthy {
			return 5 << 30, nil
		}
		return h.statfs(p)
	}, time.Now)
	if _, err := checker.FreeBytes(cfg.BackupDir); err != nil {
		t.Fatal(err)
	}
	healthy = false
	logBuf := &syncBuffer{}
	d := newDaemon(t, cfg, logBuf)
	daemon.SetChecker(d, checker)
	r := serveDaemon(t, d, logBuf)
	t.Cleanup(h.unhang) // before the daemon stops: its calls must return

	want := "Unable to determine the drive of path '" + cfg.BackupDir + "'"
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			s := r.execute(t)
			if s.Status != "Error" || s.Message != want {
				t.Errorf("Execute = %+v, want Error %q", s, want)
			}
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("Execute took %v", took)
			}
		}()
	}
	wg.Wait()

	root := strings.TrimSuffix(r.base, "api/")
	resp, err := r.client.Get(root + "readyz")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(b), want) {
		t.Errorf("/readyz = %d %s, want 503 naming %q", resp.StatusCode, b, want)
	}

	resp, err = r.client.Get(root + "metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, line := range []string{
		`hubble_backup_dir_free_bytes{dir="backup_dir"} 5.36870912e+09`,
		`hubble_backup_dir_free_bytes{dir="temp_dir"} 1.073741824e+10`,
		`hubble_backup_dir_free_age_seconds{dir="backup_dir"} `,
	} {
		if !strings.Contains(string(b), line) {
			t.Errorf("/metrics lacks %q", line)
		}
	}
	if n := h.calls.Load(); n != 1 {
		t.Errorf("%d calls reached the hung share, want 1 (at most one outstanding)", n)
	}
}
