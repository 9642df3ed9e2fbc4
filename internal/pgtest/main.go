package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unicode"
)

// EnvDSN names the environment variable that points the tests at an existing
// server instead of a throwaway cluster. Its user must be able to create
// databases and roles.
const EnvDSN = "HUBBLE_TEST_DSN"

const (
	tempPrefix = "hubble-pgtest-"
	ownerFile  = "owner.pid"
)

var (
	serverMu  sync.Mutex
	serverDSN string // DSN of the server's maintenance database
	dbCounter atomic.Int64
)

// Main runs the package's tests against one PostgreSQL server and exits:
// the server named by HUBBLE_TEST_DSN, else a throwaway cluster started for
// this test binary and stopped afterwards. Missing PostgreSQL binaries are a
// failure (exit 1), never a skip.
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
func Main(m *testing.M) { os.Exit(Run(m)) }

// Run is Main without the os.Exit, for a TestMain that does more after the
// tests (e.g. goleak.Find) before exiting with the returned code.
func Run(m *testing.M) int {
	if dsn := os.Getenv(EnvDSN); dsn != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := Exec(ctx, dsn, "SELECT 1")
		cancel()
		if err != nil {
			fmt.Fprintf(os.Stderr, "pgtest: %s does not reach a server: %v\n", EnvDSN, err)
			return 1
		}
		setServer(dsn)
		return m.Run()
	}

	cleanupOrphans()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	c, err := StartCluster(ctx, "", 0)
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "pgtest: cannot start a PostgreSQL test cluster: %v\n"+
			"pgtest: install the PostgreSQL server (apt-get install postgresql), set PG_BINDIR, or set %s\n", err, EnvDSN)
		return 1
	}
	setServer(c.DSN("postgres"))

	// Stop the cluster when interrupted, so Ctrl-C leaves no server behind.
	sig := make(chan os.Signal, 1)
	done := make(chan struct{})
	stopped := make(chan struct{})
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		defer close(stopped)
		select {
		case s := <-sig:
			stopCluster(c)
			fmt.Fprintf(os.Stderr, "pgtest: %v: test cluster stopped\n", s)
			os.Exit(1)
		case <-done:
		}
	}()

	code := m.Run()

	signal.Stop(sig)
	close(done)
	<-stopped
	if err := stopCluster(c); err != nil {
		fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

func stopCluster(c *Cluster) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return c.Stop(ctx)
}

func setServer(dsn string) {
	serverMu.Lock()
	defer serverMu.Unlock()
	serverDSN = dsn
}

// ServerDSN returns the superuser DSN of the test server's maintenance
// database ("postgres"), or "" when Main/Run is not running the tests.
func ServerDSN() string {
	serverMu.Lock()
	defer serverMu.Unlock()
	return serverDSN
}

// NewDB creates a fresh, empty database with a unique name on the test server
// and returns a superuser DSN for it. The database is dropped (WITH (FORCE))
// when the test ends.
func NewDB(t testing.TB) string {
	t.Helper()
	admin := ServerDSN()
	if admin == "" {
		t.Fatalf("pgtest.NewDB: no test server: call pgtest.Main(m) from TestMain")
	}
	name := dbName(t.Name())
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// template0: nobody is ever connected to it, so parallel creates cannot collide.
	if err := Exec(ctx, admin, "CREATE DATABASE "+QuoteIdent(name)+" TEMPLATE template0 ENCODING 'UTF8'"); err != nil {
		t.Fatalf("pgtest.NewDB: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := Exec(ctx, admin, "DROP DATABASE IF EXISTS "+QuoteIdent(name)+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: drop test database %s: %v", name, err)
		}
	})
	dsn, err := WithDatabase(admin, name)
	if err != nil {
		t.Fatalf("pgtest.NewDB: %v", err)
	}
	return dsn
}

// dbName makes a unique, readable database name from a test name.
func dbName(test string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(test) {
		switch {
		case r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)):
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "_"):
			b.WriteByte('_')
		}
		if b.Len() >= 30 {
			break
		}
	}
	var rnd [3]byte
	_, _ = rand.Read(rnd[:])
	return fmt.Sprintf("t_%s_%d_%s", strings.Trim(b.String(), "_"), dbCounter.Add(1), hex.EncodeToString(rnd[:]))
}

// WithDatabase returns dsn (URL or keyword/value form) pointing at database db.
func WithDatabase(dsn, db string) (string, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", fmt.Errorf("parse dsn: %w", err)
		}
		u.Path = "/" + db
		u.RawPath = ""
		return u.String(), nil
	}
	return dsn + " dbname='" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(db) + "'", nil
}

// cleanupOrphans stops and removes throwaway clusters whose test binary died
// without stopping them (killed by a timeout, for instance).
func cleanupOrphans() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), tempPrefix+"*"))
	for _, dir := range dirs {
		b, err := os.ReadFile(filepath.Join(dir, ownerFile))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 0 || syscall.Kill(pid, 0) != syscall.ESRCH {
			continue
		}
		c, err := OpenCluster(dir)
		if err == nil {
			c.temp = true
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			_, _ = c.run(ctx, "pg_ctl", "-D", c.DataDir, "-m", "immediate", "-w", "stop")
			cancel()
		}
		_ = os.RemoveAll(dir)
	}
}
