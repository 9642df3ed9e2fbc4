package engine

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		helperMain()
	}
	goleak.VerifyTestMain(m)
}

func TestCommand_Run(t *testing.T) {
	tests := []struct {
		name       string
		cmd        Command
		wantOut    string
		wantErr    bool
		wantStderr string
	}{
		{name: "success", cmd: Command{Path: "sh", Args: []string{"-c", "echo hello"}}, wantOut: "hello\n"},
		{name: "env carries values", cmd: Command{Path: "sh", Args: []string{"-c", `printf %s "$SECRET_X"`}, Env: []string{"SECRET_X=s3cr3t"}}, wantOut: "s3cr3t"},
		{name: "stdin", cmd: Command{Path: "cat", Stdin: strings.NewReader("in")}, wantOut: "in"},
		{name: "failure keeps stderr", cmd: Command{Path: "sh", Args: []string{"-c", "echo boom >&2; exit 3"}}, wantErr: true, wantStderr: "boom"},
		{name: "stderr tail only", cmd: Command{Path: "sh", Args: []string{"-c", "echo first-line >&2; echo 0123456789 >&2; exit 1"}, StderrTail: 8}, wantErr: true, wantStderr: "...3456789"},
		{name: "missing program", cmd: Command{Path: "/nonexistent/prog"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := tt.cmd.Output(context.Background())
			if (err != nil) != tt.wantErr {
				t.Fatalf("Output() error = %v, want error %v", err, tt.wantErr)
			}
			if !tt.wantErr {
				if string(out) != tt.wantOut {
					t.Errorf("Output() = %q, want %q", out, tt.wantOut)
				}
				return
			}
			var ce *CommandError
			if !errors.As(err, &ce) {
				t.Fatalf("error %T is not a *CommandError", err)
			}
			if ce.Command != tt.cmd.String() {
				t.Errorf("Command = %q, want %q", ce.Command, tt.cmd.String())
			}
			if ce.Stderr != tt.wantStderr {
				t.Errorf("Stderr = %q, want %q", ce.Stderr, tt.wantStderr)
			}
		})
	}
}

func TestCommand_String(t *testing.T) {
	c := Command{Path: "pg_dump", Args: []string{"--schema-only", "-n", `"x"`}, Env: []string{"PGPASSWORD=secret"}}
	if got, want := c.String(), `pg_dump --schema-only -n "x"`; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	err := &CommandError{Command: c.String(), Err: errors.New("exit status 1"), Stderr: "bad"}
	if strings.Contains(err.Error(), "secret") {
		t.Errorf("error %q shows the environment", err)
	}
}

// A cancel must kill the tool's children too, not only the tool.
func TestCommand_RunCancelKillsProcessGroup(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pid")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		c := Command{Path: "sh", Args: []string{"-c", `sleep 300 & echo $! > "$1.tmp"; mv "$1.tmp" "$1"; wait`, "sh", pidFile}}
		errc <- c.Run(ctx)
	}()
	var pid int
	deadline := time.Now().Add(10 * time.Second)
	for pid == 0 {
		if time.Now().After(deadline) {
			t.Fatal("grandchild never started")
		}
		if b, err := os.ReadFile(pidFile); err == nil {
			pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		}
		time.Sleep(10 * time.Millisecond) // polling for a file, not waiting for a state blindly
	}
	cancel()
	err := <-errc
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run() error = %v, want context.Canceled", err)
	}
	deadline = time.Now().Add(10 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("grandchild %d still alive after cancel", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// alive reports whether pid runs (a zombie waiting to be reaped is dead).
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}
