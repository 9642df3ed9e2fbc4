package pgtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Cluster is a local PostgreSQL cluster started with initdb and pg_ctl.
// Its files live under Dir: data/ (PGDATA), sock/ (unix socket), postgres.log.
type Cluster struct {
	Dir       string // root directory of the cluster
	DataDir   string // PGDATA
	SocketDir string // unix_socket_directories
	LogFile   string // server log (pg_ctl -l)
	Port      int    // TCP port on 127.0.0.1
	BinDir    string // where initdb/pg_ctl were found

	temp bool                // Dir was created by StartCluster and is removed by Stop
	cred *syscall.Credential // run the server programs as this user (root only)
}

const confName = "pgtest.conf" // our settings, included from postgresql.conf

// StartCluster starts a cluster in dir and returns it. With dir == "" it makes
// a temporary directory that Stop removes; otherwise the cluster persists in
// dir: it is created by initdb the first time, reused afterwards, and if it is
// already running the running cluster is returned as is. Port 0 picks a free
// port (or the port the cluster in dir used last time).
//
// As root the server programs run as the postgres OS user (initdb refuses
// root), and dir is chowned to it.
func StartCluster(ctx context.Context, dir string, port int) (*Cluster, error) {
	bin, err := BinDir()
	if err != nil {
		return nil, err
	}
	c := &Cluster{BinDir: bin}
	if dir == "" {
		if dir, err = os.MkdirTemp("", tempPrefix); err != nil {
			return nil, fmt.Errorf("create cluster dir: %w", err)
		}
		c.temp = true
		// Recorded so that a later test binary can clean up after one that was killed.
		if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
			return nil, fmt.Errorf("write owner of %s: %w", dir, err)
		}
	} else {
		if dir, err = filepath.Abs(dir); err != nil {
			return nil, fmt.Errorf("cluster dir %s: %w", dir, err)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("create cluster dir %s: %w", dir, err)
		}
	}
	c.setPaths(dir)
	if err := c.start(ctx, port); err != nil {
		if c.temp {
			_ = os.RemoveAll(dir)
		}
		return nil, err
	}
	return c, nil
}

// OpenCluster returns the cluster previously created by StartCluster in dir,
// without starting it, e.g. to Stop it from another process.
func OpenCluster(dir string) (*Cluster, error) {
	bin, err := BinDir()
	if err != nil {
		return nil, err
	}
	dir, err = filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("cluster dir %s: %w", dir, err)
	}
	c := &Cluster{BinDir: bin}
	c.setPaths(dir)
	if _, err := os.Stat(filepath.Join(c.DataDir, "PG_VERSION")); err != nil {
		return nil, fmt.Errorf("open cluster %s: %w", dir, err)
	}
	if c.Port = c.confPort(); c.Port == 0 {
		return nil, fmt.Errorf("open cluster %s: no port in %s", dir, confName)
	}
	if err := c.setCred(); err != nil {
		return nil, err
	}
	return c, nil
}

// DSN returns a superuser URL for database db (no password: trust auth).
func (c *Cluster) DSN(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.Port, db)
}

// Running reports whether the cluster's server is up.
func (c *Cluster) Running(ctx context.Context) bool {
	_, err := c.run(ctx, "pg_ctl", "-D", c.DataDir, "status")
	return err == nil
}

// Stop shuts the server down (pg_ctl stop -m fast) and, for a temporary
// cluster, removes its directory.
func (c *Cluster) Stop(ctx context.Context) error {
	var err error
	if c.Running(ctx) {
		if _, e := c.run(ctx, "pg_ctl", "-D", c.DataDir, "-m", "fast", "-w", "-t", "60", "stop"); e != nil {
			err = fmt.Errorf("stop cluster %s: %w", c.Dir, e)
		}
	}
	if c.temp {
		if e := os.RemoveAll(c.Dir); e != nil && err == nil {
			err = fmt.Errorf("remove cluster dir: %w", e)
		}
	}
	return err
}

// Restart restarts the server (pg_ctl restart -m fast): every session is
// terminated, as on a server restart in production.
func (c *Cluster) Restart(ctx context.Context) error {
	if _, err := c.run(ctx, "pg_ctl", "-D", c.DataDir, "-l", c.LogFile, "-m", "fast", "-w", "-t", "120", "-s", "restart"); err != nil {
		return fmt.Errorf("restart cluster %s: %w", c.Dir, err)
	}
	return nil
}

func (c *Cluster) setPaths(dir string) {
	c.Dir = dir
	c.DataDir = filepath.Join(dir, "data")
	c.SocketDir = filepath.Join(dir, "sock")
	c.LogFile = filepath.Join(dir, "postgres.log")
}

func (c *Cluster) setCred() error {
	if os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return fmt.Errorf("running as root needs the postgres OS user: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	c.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	return nil
}

func (c *Cluster) start(ctx context.Context, port int) error {
	if err := c.setCred(); err != nil {
		return err
	}
	if err := os.MkdirAll(c.SocketDir, 0o755); err != nil {
		return fmt.Errorf("create socket dir: %w", err)
	}
	if err := c.chown(); err != nil {
		return err
	}
	if err := c.checkSearchable(); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(c.DataDir, "PG_VERSION")); errors.Is(err, fs.ErrNotExist) {
		if err := c.initdb(ctx); err != nil {
			return err
		}
	}
	if c.Running(ctx) {
		if c.Port = c.confPort(); c.Port == 0 {
			return fmt.Errorf("cluster %s is running but has no port in %s", c.Dir, confName)
		}
		return nil
	}
	auto := port == 0
	if auto {
		port = c.confPort()
	}
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		if auto && (port == 0 || attempt > 0) {
			if port, err = freePort(); err != nil {
				return err
			}
		}
		if err = c.startOn(ctx, port); err == nil || !auto {
			return err
		}
	}
	return err
}

func (c *Cluster) initdb(ctx context.Context) error {
	_, err := c.run(ctx, "initdb", "-D", c.DataDir, "-A", "trust", "-U", "postgres",
		"-E", "UTF8", "--no-locale", "--no-sync")
	if err != nil {
		return fmt.Errorf("initdb %s: %w", c.DataDir, err)
	}
	f, err := os.OpenFile(filepath.Join(c.DataDir, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("open postgresql.conf: %w", err)
	}
	_, err = fmt.Fprintf(f, "\ninclude_if_exists = '%s'\n", confName)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write postgresql.conf: %w", err)
	}
	return nil
}

func (c *Cluster) startOn(ctx context.Context, port int) error {
	// Durability is worthless for throwaway clusters; speed is not.
	conf := fmt.Sprintf(`# written by internal/pgtest
port = %d
listen_addresses = '127.0.0.1'
unix_socket_directories = '%s'
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
max_wal_size = '4GB'
checkpoint_timeout = '30min'
log_line_prefix = '%%m [%%p] %%q%%u@%%d '
`, port, c.SocketDir)
	path := filepath.Join(c.DataDir, confName)
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := c.chown(); err != nil {
		return err
	}
	_, err := c.run(ctx, "pg_ctl", "-D", c.DataDir, "-l", c.LogFile, "-w", "-t", "120", "-s", "start")
	if err != nil {
		return fmt.Errorf("start cluster on port %d: %w; server log %s:\n%s", port, err, c.LogFile, tail(c.LogFile, 2000))
	}
	c.Port = port
	return nil
}

// confPort reads the port from our settings file; 0 when absent.
func (c *Cluster) confPort() int {
	b, err := os.ReadFile(filepath.Join(c.DataDir, confName))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, "=")
		if ok && strings.TrimSpace(k) == "port" {
			p, _ := strconv.Atoi(strings.TrimSpace(v))
			return p
		}
	}
	return 0
}

func (c *Cluster) chown() error {
	if c.cred == nil {
		return nil
	}
	err := filepath.WalkDir(c.Dir, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, int(c.cred.Uid), int(c.cred.Gid))
	})
	if err != nil {
		return fmt.Errorf("chown %s to postgres: %w", c.Dir, err)
	}
	return nil
}

// checkSearchable makes sure the postgres OS user can reach the cluster
// directory: initdb's own error about it is cryptic.
func (c *Cluster) checkSearchable() error {
	if c.cred == nil {
		return nil
	}
	for d := filepath.Dir(c.Dir); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return fmt.Errorf("cluster dir parent %s: %w", d, err)
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if ok && st.Uid != c.cred.Uid && fi.Mode().Perm()&0o001 == 0 && !(st.Gid == c.cred.Gid && fi.Mode().Perm()&0o010 != 0) {
			return fmt.Errorf("cluster dir %s: the postgres OS user cannot enter %s (mode %v): choose a directory under /tmp or chmod o+x it",
				c.Dir, d, fi.Mode().Perm())
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

// run runs a server program from BinDir as the cluster's user and returns
// its combined output; the error carries that output.
func (c *Cluster) run(ctx context.Context, prog string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(c.BinDir, prog), args...)
	cmd.Env = cleanEnv()
	cmd.Dir = c.Dir // the caller's cwd may be unreadable for postgres
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		return out.Bytes(), fmt.Errorf("%s: %w: %s", prog, err, strings.TrimSpace(out.String()))
	}
	return out.Bytes(), nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
