package s3test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
)

const (
	sharedPrefix = "hubble-s3test-"
	ownerFile    = "owner.pid"
)

// removeOrphans removes the data of shared servers whose test binary died
// without stopping them (killed by a timeout, say; the server itself dies
// with it, by Pdeathsig).
func removeOrphans() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), sharedPrefix+"*"))
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, ownerFile))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 0 || syscall.Kill(pid, 0) != syscall.ESRCH {
			continue
		}
		os.RemoveAll(d)
	}
}

var shared struct {
	once sync.Once
	srv  *Server
	dir  string
	err  error
}

// Shared returns the server shared by the tests of one test binary, started
// on first use; Main stops it.
func Shared(t testing.TB) *Server {
	t.Helper()
	shared.once.Do(func() {
		removeOrphans()
		shared.dir, shared.err = os.MkdirTemp("", sharedPrefix)
		if shared.err == nil {
			shared.err = os.WriteFile(filepath.Join(shared.dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o600)
		}
		if shared.err == nil {
			shared.srv, shared.err = Start(context.Background(), shared.dir, t.Logf)
		}
	})
	if shared.err != nil {
		t.Fatalf("S3 test server: %v", shared.err)
	}
	return shared.srv
}

// Main runs the tests, then stops the shared server and removes its data.
func Main(m *testing.M) int {
	code := m.Run()
	StopShared()
	return code
}

// StopShared stops the shared server, if one was started, and removes its
// data (for TestMains that run the tests through another harness).
func StopShared() {
	if shared.srv != nil {
		shared.srv.Stop()
	}
	if shared.dir != "" {
		if err := os.RemoveAll(shared.dir); err != nil {
			fmt.Fprintln(os.Stderr, "s3test:", err)
		}
	}
}

// NewBucket makes a fresh bucket on the shared server.
func NewBucket(t testing.TB) (*Server, string) {
	t.Helper()
	s := Shared(t)
	b, err := s.Bucket(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return s, b
}
