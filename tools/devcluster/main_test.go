package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hubble/hubble-applianceapi/internal/pgtest"
)

func TestRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// The server runs as postgres when we are root: its parent must be enterable.
	base, err := os.MkdirTemp("", "devcluster-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(base) })
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(base, "pg")

	var out, errOut bytes.Buffer
	if err := run(ctx, []string{"start", "--dir", dir, "--db", "demo"}, &out, &errOut); err != nil {
		t.Fatalf("start: %v\n%s", err, errOut.String())
	}
	t.Cleanup(func() { _ = run(context.Background(), []string{"stop", "--dir", dir}, &out, &errOut) })
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	dsn := lines[len(lines)-1]
	if !strings.HasPrefix(dsn, "postgres://postgres@127.0.0.1:") || !strings.Contains(dsn, "/demo?") {
		t.Fatalf("last stdout line %q is not a DSN", dsn)
	}

	out.Reset()
	if err := run(ctx, []string{"start", "--dir", dir, "--db", "demo"}, &out, &errOut); err != nil || strings.TrimSpace(out.String()) != dsn {
		t.Fatalf("second start = %q, %v; want the running cluster's DSN %q", out.String(), err, dsn)
	}
	for _, args := range [][]string{
		{"gen", "--dsn", dsn, "--kind", "objectrich"},
		{"gen", "--dsn", dsn, "--kind", "objectrich", "--if-missing"},
		{"gen", "--dsn", dsn, "--kind", "hubble", "--rows", "50"},
	} {
		if err := run(ctx, args, &out, &errOut); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
	}
	tables, err := pgtest.Tables(ctx, dsn, "hubble")
	if err != nil || len(tables) == 0 {
		t.Fatalf("hubble tables = %v, %v", tables, err)
	}
	if err := run(ctx, []string{"gen", "--dsn", dsn, "--kind", "objectrich"}, &out, &errOut); err == nil {
		t.Error("gen into an existing schema without --if-missing succeeded")
	}
	if err := run(ctx, []string{"stop", "--dir", dir}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if err := pgtest.Exec(ctx, dsn, "SELECT 1"); err == nil {
		t.Error("server still answers after stop")
	}
}

func TestRun_usage(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"no command", nil},
		{"unknown command", []string{"frobnicate"}},
		{"start without dir", []string{"start"}},
		{"gen without dsn", []string{"gen"}},
		{"bad flag", []string{"stop", "--nope"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := run(context.Background(), tt.args, &out, &errOut)
			if err == nil {
				t.Fatal("no error")
			}
			if out.Len() != 0 {
				t.Errorf("stdout %q, want nothing", out.String())
			}
		})
	}
}
