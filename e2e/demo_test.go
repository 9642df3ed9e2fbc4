package e2e

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/hubble/hubble-applianceapi/internal/pgtest"
)

// TestDemo_StopsItsPostgres runs the README's demo (scripts/demo.sh) on the
// ports DEMO_PORT and DEMO_PG_PORT name, waits for its API, presses Ctrl-C
// (SIGINT to its process group): the service stops, then the demo's
// PostgreSQL too; nothing of the demo keeps running.
func TestDemo_StopsItsPostgres(t *testing.T) {
	// Not t.TempDir: its parent is private, and the cluster runs as
	// postgres when we are root.
	dir, err := os.MkdirTemp("", "hubble-demo-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	apiPort, pgPort := freeTCPPort(t), freeTCPPort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "../scripts/demo.sh")
	cmd.Env = append(os.Environ(), "DEMO_DIR="+dir, "DEMO_PORT="+strconv.Itoa(apiPort), "DEMO_PG_PORT="+strconv.Itoa(pgPort))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pgid := cmd.Process.Pid
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer func() {
		// Whatever happened, leave nothing running.
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		if c, err := pgtest.OpenCluster(filepath.Join(dir, "pg")); err == nil {
			_ = c.Stop(context.Background())
		}
	}()

	api := "http://127.0.0.1:" + strconv.Itoa(apiPort) + "/api/"
	for {
		if resp, err := http.Get(api); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case err := <-done:
			t.Fatalf("demo ended before serving: %v\n%s", err, out.String())
		case <-ctx.Done():
			t.Fatalf("demo not serving on %s: %v\n%s", api, ctx.Err(), out.String())
		case <-time.After(pollInterval):
		}
	}
	if !listening(pgPort) {
		t.Fatalf("the demo's PostgreSQL does not listen on DEMO_PG_PORT %d\n%s", pgPort, out.String())
	}

	if err := syscall.Kill(-pgid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatal(err)
		}
		if err != nil {
			t.Errorf("demo after Ctrl-C: %v\n%s", err, out.String())
		}
	case <-time.After(2 * time.Minute):
		t.Fatalf("demo still running 2 min after Ctrl-C\n%s", out.String())
	}
	if listening(pgPort) || listening(apiPort) {
		t.Errorf("after Ctrl-C still listening: PostgreSQL %v, API %v\n%s", listening(pgPort), listening(apiPort), out.String())
	}
}

func freeTCPPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func listening(port int) bool {
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}
