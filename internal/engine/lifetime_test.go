package engine

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// helperEnv makes the test binary act as a parent process (see TestMain):
// it runs the command of helperMain, so a test can kill -9 it.
const helperEnv = "HUBBLE_ENGINE_TEST_PARENT"

// helperMain runs a tool that starts a child of its own, records both pids
// in the file named by the environment variable, and waits.
func helperMain() {
	pidFile := os.Getenv(helperEnv)
	c := Command{Path: "sh", Args: []string{"-c", `sleep 300 & echo $$ $! > "$1.tmp" && mv "$1.tmp" "$1"; wait`, "sh", pidFile}}
	c.Run(context.Background())
	os.Exit(0)
}

// waitPid polls (bounded) until file holds a pid (the first of several).
func waitPid(t *testing.T, file string) int {
	return waitPids(t, file)[0]
}

// waitPids polls (bounded) until file holds pids.
func waitPids(t *testing.T, file string) []int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if b, err := os.ReadFile(file); err == nil {
			var pids []int
			for _, f := range strings.Fields(string(b)) {
				if pid, err := strconv.Atoi(f); err == nil {
					pids = append(pids, pid)
				}
			}
			if len(pids) > 0 {
				return pids
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no pid in %s", file)
		}
		time.Sleep(10 * time.Millisecond) // polling for a file
	}
}

// waitDead polls (bounded) until pid no longer runs.
func waitDead(t *testing.T, pid int, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("%s (pid %d) still runs", what, pid)
		}
		time.Sleep(10 * time.Millisecond) // polling the kernel's process table
	}
}

// kill -9 of the parent kills the tool and what it started at once (the
// supervisor's parent-death signal kills the tool's process group).
func TestCommand_ParentKilled(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	pidFile := filepath.Join(t.TempDir(), "pid")
	parent := exec.Command(self)
	parent.Env = append(os.Environ(), helperEnv+"="+pidFile)
	if err := parent.Start(); err != nil {
		t.Fatal(err)
	}
	pids := waitPids(t, pidFile)
	if err := parent.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	parent.Wait()
	waitDead(t, pids[0], "the tool of a parent killed with -9")
	waitDead(t, pids[1], "the tool's own child, its parent killed with -9")
}

// What a tool leaves running in its process group is killed when it exits,
// and the group is reported to the context's recorder.
func TestCommand_KillsLeftoversAndRecords(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	rec := &recorder{}
	ctx := WithProcessRecorder(context.Background(), rec)
	c := Command{Path: "sh", Args: []string{"-c", `sleep 300 & echo $! > "$1"`, "sh", pidFile}}
	start := time.Now()
	if err := c.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 4*time.Second {
		t.Errorf("Run took %v: it waited for the leftover's pipes", took)
	}
	waitDead(t, waitPid(t, pidFile), "a leftover of the tool")
	if len(rec.started) != 1 || !slices.Equal(rec.started, rec.ended) {
		t.Errorf("recorded started %v, ended %v; want one group, ended", rec.started, rec.ended)
	}
}

type recorder struct {
	mu             sync.Mutex
	started, ended []int
}

func (r *recorder) Started(pgid int) { r.mu.Lock(); r.started = append(r.started, pgid); r.mu.Unlock() }
func (r *recorder) Ended(pgid int)   { r.mu.Lock(); r.ended = append(r.ended, pgid); r.mu.Unlock() }

// The tools never see our configuration variables (a DSN may hold a
// password); Environ replaces the environment entirely.
func TestCommand_Environment(t *testing.T) {
	t.Setenv("HUBBLE_DATABASE_DSN", "postgres://u:secret@h/db")
	t.Setenv("PGSSLMODE", "disable")
	out, err := (&Command{Path: "env", Env: []string{"PGAPPNAME=x"}}).Output(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if s := string(out); strings.Contains(s, "HUBBLE_") || !strings.Contains(s, "PGSSLMODE=disable") || !strings.Contains(s, "PGAPPNAME=x") {
		t.Errorf("inherited environment:\n%s", s)
	}
	out, err = (&Command{Path: "/usr/bin/env", Environ: []string{"ONLY=1"}, Env: []string{"IGNORED=1"}}).Output(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != "ONLY=1\n" {
		t.Errorf("Environ: child environment %q, want only ONLY=1", out)
	}
}
