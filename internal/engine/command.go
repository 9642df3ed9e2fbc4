package engine

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// DefaultStderrTail is how many bytes of a command's stderr are kept for its
// error message when Command.StderrTail is zero.
const DefaultStderrTail = 4096

// Command is one run of a vendor command-line tool (pg_dump, repctl, ...).
//
// Secrets never go into Args: they are passed in Env (e.g. PGPASSWORD), so
// they do not show in ps output, in String() or in error messages.
type Command struct {
	Path   string   // program; looked up in PATH when it has no slash
	Args   []string // arguments after the program name; never secrets
	Env    []string // extra "KEY=value" entries, overriding the inherited environment
	Dir    string   // working directory; "" = ours
	Stdin  io.Reader
	Stdout io.Writer // nil discards the output
	// Credential runs the command as another OS user (needs root); nil = ourselves.
	Credential *syscall.Credential
	// StderrTail is how many trailing bytes of stderr are kept for the
	// error; 0 means DefaultStderrTail.
	StderrTail int
}

// String is the program and its arguments joined by spaces, as shown in
// messages. It holds no secret because Args holds none.
func (c *Command) String() string {
	return strings.Join(append([]string{c.Path}, c.Args...), " ")
}

// CommandError reports a command that could not start, exited non-zero or
// was stopped by its context.
type CommandError struct {
	Command string // Command.String()
	Err     error  // *exec.ExitError, a start error, or the context's error
	Stderr  string // trailing part of stderr, trimmed
}

func (e *CommandError) Error() string {
	msg := "run " + e.Command + ": " + e.Err.Error()
	if e.Stderr != "" {
		msg += ": " + e.Stderr
	}
	return msg
}

func (e *CommandError) Unwrap() error { return e.Err }

// Run runs the command and waits for it. When ctx ends first, the command's
// whole process group is killed (children of the tool included) and the
// returned error wraps ctx.Err().
func (c *Command) Run(ctx context.Context) error {
	tailSize := c.StderrTail
	if tailSize <= 0 {
		tailSize = DefaultStderrTail
	}
	stderr := &tailBuffer{max: tailSize}
	cmd := exec.CommandContext(ctx, c.Path, c.Args...)
	cmd.Env = append(os.Environ(), c.Env...)
	cmd.Dir = c.Dir
	cmd.Stdin = c.Stdin
	cmd.Stdout = c.Stdout
	cmd.Stderr = stderr
	// Its own process group, so that a cancel reaches grandchildren too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: c.Credential}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	// A grandchild keeping our pipes open must not make Wait hang forever.
	cmd.WaitDelay = 5 * time.Second

	err := cmd.Run()
	if err == nil {
		return nil
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		err = ctxErr
	}
	return &CommandError{Command: c.String(), Err: err, Stderr: stderr.String()}
}

// Output runs the command and returns its stdout, for tools whose output is
// small (version strings, schema-only dumps).
func (c *Command) Output(ctx context.Context) ([]byte, error) {
	if c.Stdout != nil {
		return nil, errors.New("output: stdout already set")
	}
	var out bytes.Buffer
	cc := *c
	cc.Stdout = &out
	if err := cc.Run(ctx); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu   sync.Mutex
	max  int
	buf  []byte
	lost bool
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := len(p)
	if len(p) >= t.max {
		p = p[len(p)-t.max:]
		t.buf = t.buf[:0]
		t.lost = true
	}
	if over := len(t.buf) + len(p) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
		t.lost = true
	}
	t.buf = append(t.buf, p...)
	return n, nil
}

// String is the kept tail, trimmed, marked with "..." when the start was cut.
func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := strings.TrimSpace(string(t.buf))
	if t.lost && s != "" {
		s = "..." + s
	}
	return s
}
