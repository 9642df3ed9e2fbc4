package pgtest

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// StartPgbouncer runs a real pgbouncer (the Debian package's) in front of
// the database of dsn, in pool mode mode ("session", "transaction" or
// "statement"), for the test's duration, and returns a DSN through it. As
// root, pgbouncer runs as the postgres OS user (it refuses root).
func StartPgbouncer(t testing.TB, dsn, mode string) string {
	t.Helper()
	bin, err := exec.LookPath("pgbouncer")
	if err != nil {
		if bin, err = exec.LookPath("/usr/sbin/pgbouncer"); err != nil {
			t.Fatalf("pgbouncer is not installed (scripts/deps.sh installs it): %v", err)
		}
	}
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme != "postgres" {
		t.Fatalf("StartPgbouncer: want a postgres:// URL, got %q", dsn)
	}
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil {
		t.Fatalf("StartPgbouncer: %s: %v", u.Host, err)
	}
	db := u.Path[1:]
	dir, err := os.MkdirTemp("", "hubble-pgbouncer-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	listen, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`[databases]
%s = host=%s port=%s dbname=%s user=%s
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
unix_socket_dir =
auth_type = any
pool_mode = %s
ignore_startup_parameters = statement_timeout,idle_in_transaction_session_timeout,extra_float_digits
logfile = %s
pidfile = %s
`, db, host, port, db, u.User.Username(), listen, mode, filepath.Join(dir, "pgbouncer.log"), filepath.Join(dir, "pgbouncer.pid"))
	ini := filepath.Join(dir, "pgbouncer.ini")
	if err := os.WriteFile(ini, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{ini}
	if os.Geteuid() == 0 {
		pg, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("running pgbouncer as root needs the postgres OS user: %v", err)
		}
		uid, _ := strconv.Atoi(pg.Uid)
		gid, _ := strconv.Atoi(pg.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		args = append([]string{"-u", "postgres"}, args...)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	out, err := os.Create(filepath.Join(os.TempDir(), "hubble-pgbouncer-"+strconv.Itoa(listen)+".out"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { out.Close(); os.Remove(out.Name()) })
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start pgbouncer: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	})
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(listen))
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(out.Name())
			t.Fatalf("pgbouncer did not listen on %s: %v\n%s", addr, err, b)
		}
		time.Sleep(20 * time.Millisecond) // polling for the listener with a deadline
	}
	through := *u
	through.Host = addr
	// pgbouncer checks the connection works before the caller relies on it.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := Exec(ctx, through.String(), "SELECT 1"); err != nil {
		t.Fatalf("connect through pgbouncer: %v", err)
	}
	return through.String()
}
