package s3test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
)

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
		shared.dir, shared.err = os.MkdirTemp("", "hubble-s3test-")
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
