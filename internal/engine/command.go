package engine

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// DefaultStderrTail is how many bytes of a command's stderr are kept for its
// error message when Command.StderrTail is zero.
const DefaultStderrTail = 4096

// Command is one run of a vendor command-line tool (pg_dump, repctl, ...).
//
// Secrets never go into Args: they are passed in Env (e.g. PGPASSWORD), so
// they do not show in ps output, in String() or in error messages.
type Command struct {
	Path string   // program; looked up in PATH when it has no slash
	Args []string // arguments after the program name; never secrets
	Env  []string // extra "KEY=value" entries, overriding the inherited environment
	// Environ, when not nil, is the child's whole environment: nothing of
	// ours is inherited and Env is ignored (the replication commands, run as
	// another user, get only an allowlist). When nil, the child inherits our
	// environment without the HUBBLE_* configuration variables
	// (HUBBLE_DATABASE_DSN may hold a password the tools never need), plus Env.
	Environ []string
	Dir     string // working directory; "" = ours
	Stdin   io.Reader
	Stdout  io.Writer // nil discards the output
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

// supervisor runs a tool in the process group of a shell that kills that
// whole group when it gets its parent-death signal (SIGTERM): when we die the
// kernel signals only our direct child, and the tool's own children would
// outlive us otherwise. The tool and its arguments are positional
// parameters, never parsed by the shell; its stdin is the real one (an
// asynchronous list would get /dev/null), through fd 3; the shell's own PWD
// is not passed on, so the tool's environment is exactly Command's.
const supervisor = `unset PWD; exec 3<&0; trap 'kill -KILL 0' TERM; "$@" <&3 3<&- & wait $!`

// shell runs the supervisor; absolute, so no PATH can replace it.
const shell = "/bin/sh"

// Run runs the command and waits for it. When ctx ends first, the command's
// whole process group is killed (children of the tool included) and the
// returned error wraps ctx.Err(). Whatever the tool leaves running in its
// process group when it exits is killed too, and if this process dies
// (kill -9 included) the whole group is killed at once: the tool runs under
// a supervising shell whose parent-death signal kills the group. Should even
// that fail, the group recorded through the context's ProcessRecorder is
// killed by whoever sweeps the work's leftovers.
func (c *Command) Run(ctx context.Context) error {
	tailSize := c.StderrTail
	if tailSize <= 0 {
		tailSize = DefaultStderrTail
	}
	stderr := &tailBuffer{max: tailSize}
	// Looked up in our PATH, as exec.Command would, so the shell runs
	// exactly this program.
	path, err := exec.LookPath(c.Path)
	if err != nil {
		return &CommandError{Command: c.String(), Err: err}
	}
	cmd := exec.CommandContext(ctx, shell, append([]string{"-c", supervisor, "sh", path}, c.Args...)...)
	cmd.Env = c.environ()
	cmd.Dir = c.Dir
	cmd.Stdin = c.Stdin
	cmd.Stdout = c.Stdout
	cmd.Stderr = stderr
	// Its own process group, so that a cancel reaches grandchildren too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: c.Credential, Pdeathsig: syscall.SIGTERM}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	// A grandchild keeping our pipes open must not make Wait hang forever.
	cmd.WaitDelay = 5 * time.Second

	// The parent-death signal fires when the *thread* that forked the child
	// ends, not the process (golang/go#27505), and the runtime ends a thread
	// when a goroutine locked to it exits. Holding this goroutine on its
	// thread until the child is reaped keeps any other goroutine from ever
	// owning, and ending, that thread under a live child.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := cmd.Start(); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			err = ctxErr
		}
		return &CommandError{Command: c.String(), Err: err, Stderr: stderr.String()}
	}
	pid := cmd.Process.Pid
	rec := recorderFrom(ctx)
	if rec != nil {
		rec.Started(pid)
	}
	// Until the tool is reaped its pid still names its group, so killing the
	// group now cannot hit another process that reused the number.
	waitExited(pid)
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	err = cmd.Wait()
	if rec != nil {
		rec.Ended(pid)
	}
	if err == nil {
		return nil
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		err = ctxErr
	}
	return &CommandError{Command: c.String(), Err: err, Stderr: stderr.String()}
}

// waitExited blocks until pid has exited, without reaping it.
func waitExited(pid int) {
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if !errors.Is(err, unix.EINTR) {
			return
		}
	}
}

// environ is the child's environment (see Command.Environ).
func (c *Command) environ() []string {
	if c.Environ != nil {
		return c.Environ
	}
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "HUBBLE_") {
			env = append(env, kv)
		}
	}
	return append(env, c.Env...)
}

// ProcessRecorder notes the process group of every child started for one
// piece of work (its leader's pid is the group id), so that if this process
// dies without stopping them, whoever sweeps the work's leftovers can kill
// them first. Started is called once the child runs, Ended once it is
// reaped and its group killed.
type ProcessRecorder interface {
	Started(pgid int)
	Ended(pgid int)
}

type recorderKey struct{}

// WithProcessRecorder returns ctx carrying r: every Command run with it
// reports its process group to r.
func WithProcessRecorder(ctx context.Context, r ProcessRecorder) context.Context {
	return context.WithValue(ctx, recorderKey{}, r)
}

func recorderFrom(ctx context.Context) ProcessRecorder {
	r, _ := ctx.Value(recorderKey{}).(ProcessRecorder)
	return r
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
