package postgres

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hubble/hubble-applianceapi/internal/engine"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// DefaultAppName is the application_name of every connection we open,
// pg_dump's included, so that our backends can be told apart in
// pg_stat_activity.
const DefaultAppName = "hubble-applianceapi"

// Config configures the PostgreSQL engine.
type Config struct {
	// DSN is a libpq connection string (URL or key=value). An inline
	// password is accepted but never shown; Password takes precedence.
	DSN string
	// Password comes from password_file or the environment; may be empty.
	Password string
	// BinDir holds pg_dump and pg_restore. Empty: the newest
	// /usr/lib/postgresql/*/bin whose major version is at least the
	// server's, else the tools found in PATH.
	BinDir string
	// AppName is the application_name of our sessions; "" = DefaultAppName.
	AppName string
	// LockTimeout bounds how long a backup waits for the locks on the
	// schema's tables (its own, and pg_dump's) when another session holds
	// or awaits a conflicting one, e.g. an ALTER TABLE; 0 = DefaultLockTimeout.
	LockTimeout time.Duration
}

// DefaultLockTimeout is Config.LockTimeout's default. Without a bound, a
// DDL statement queued between our lock and pg_dump's would hang the backup
// for ever: pg_dump waits behind the DDL, the DDL waits for our snapshot.
const DefaultLockTimeout = 2 * time.Minute

// Engine is the PostgreSQL implementation of engine.Engine.
type Engine struct {
	cfg      Config
	connCfg  *pgx.ConnConfig
	redacted string

	mu      sync.Mutex
	binDirs map[int]string // server major -> resolved tool directory

	// Set by tests: beforeChange runs when a restore has planned and not
	// yet changed anything, beforeUndo when a failed restore starts its undo.
	beforeChange, beforeUndo func(context.Context)
	// afterCommit runs when a restore has committed step 1 ("objects") or
	// its last transaction ("finished").
	afterCommit func(ctx context.Context, point string)
}

var _ engine.Engine = (*Engine)(nil)

// New validates cfg. It does not connect.
func New(cfg Config) (*Engine, error) {
	if cfg.AppName == "" {
		cfg.AppName = DefaultAppName
	}
	if cfg.LockTimeout <= 0 {
		cfg.LockTimeout = DefaultLockTimeout
	}
	redacted := RedactDSN(cfg.DSN)
	connCfg, err := pgx.ParseConfig(cfg.DSN)
	if err != nil {
		// pgx's parse errors may quote the DSN; never pass them on.
		return nil, fmt.Errorf("parse database dsn %s: invalid connection string", redacted)
	}
	if cfg.Password != "" {
		connCfg.Password = cfg.Password
	}
	connCfg.RuntimeParams["application_name"] = cfg.AppName
	// A server-wide timeout must not kill a long backup's snapshot.
	connCfg.RuntimeParams["statement_timeout"] = "0"
	connCfg.RuntimeParams["idle_in_transaction_session_timeout"] = "0"
	connCfg.AfterConnect = sessionSettings
	return &Engine{cfg: cfg, connCfg: connCfg, redacted: redacted, binDirs: map[int]string{}, afterCommit: faultPoint}, nil
}

// sessionSettings fixes, for our session, how COPY text writes dates,
// intervals and floats (pg_dump's choices: the data files then read back
// the same on any server, where a server set to DateStyle 'SQL, DMY' would
// write dates that one set to MDY reads as other days; and the restore's
// binary COPY conversion expects them), and turns off the timeouts of newer
// servers that a role or database setting may enable and that would end a
// long backup's snapshot: idle_session_timeout (14) and transaction_timeout
// (17). None go in the startup packet: poolers and older servers refuse
// parameters there.
func sessionSettings(ctx context.Context, pgc *pgconn.PgConn) error {
	set := []string{"SET DateStyle = ISO", "SET IntervalStyle = postgres", "SET extra_float_digits = 3"}
	major := majorOf(pgc.ParameterStatus("server_version"))
	if major >= 14 {
		set = append(set, "SET idle_session_timeout = 0")
	}
	if major >= 17 {
		set = append(set, "SET transaction_timeout = 0")
	}
	if err := pgc.Exec(ctx, strings.Join(set, "; ")).Close(); err != nil {
		return fmt.Errorf("session settings: %w", err)
	}
	return nil
}

type appNameKey struct{}

// withAppName names the sessions opened with ctx (a restore's, so that
// the next restore can find them if it dies).
func withAppName(ctx context.Context, app string) context.Context {
	return context.WithValue(ctx, appNameKey{}, app)
}

// localServer reports whether the database runs on this machine (a Unix
// socket or a loopback address), so that its server processes and ours
// share the same cores.
func (e *Engine) localServer() bool {
	h := e.connCfg.Host
	if strings.HasPrefix(h, "/") || h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// connect opens one session; failures are *engine.ConnectError.
func (e *Engine) connect(ctx context.Context) (*pgx.Conn, error) {
	cfg := e.connCfg.Copy()
	if app, ok := ctx.Value(appNameKey{}).(string); ok {
		cfg.RuntimeParams["application_name"] = app
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, &engine.ConnectError{DSN: e.redacted, Err: err}
	}
	return conn, nil
}

// Check connects, confirms that schema exists and that usable client tools
// are installed. The returned Info is filled as far as it is known, even
// with an error (Database names the database for the "schema does not
// exist" message).
func (e *Engine) Check(ctx context.Context, schema string) (engine.Info, error) {
	info := engine.Info{Engine: "postgres", Schema: schema}
	conn, err := e.connect(ctx)
	if err != nil {
		return info, err
	}
	defer closeConn(conn)
	info.ServerVersion = serverVersion(conn)
	if err := direct(ctx, conn); err != nil {
		return info, err
	}
	var exists bool
	err = conn.QueryRow(ctx,
		"SELECT current_database(), EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1)",
		schema).Scan(&info.Database, &exists)
	if err != nil {
		return info, fmt.Errorf("query schema %q: %w", schema, err)
	}
	if !exists {
		return info, fmt.Errorf("schema %q in database %q: %w", schema, info.Database, engine.ErrSchemaNotFound)
	}
	tools, err := e.tools(ctx, conn)
	if err != nil {
		return info, err
	}
	info.ClientVersion = tools.version
	return info, nil
}

// closeConn closes conn, bounded in time, and waits until pgx's background
// cleanup of the socket is over.
func closeConn(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = conn.Close(ctx)
	select {
	case <-conn.PgConn().CleanupDone():
	case <-ctx.Done():
	}
}

// serverVersion is the server's version without the distribution suffix,
// e.g. "15.18" from "15.18 (Debian 15.18-0+deb12u1)".
func serverVersion(conn *pgx.Conn) string {
	v, _, _ := strings.Cut(conn.PgConn().ParameterStatus("server_version"), " ")
	return v
}

// toolSet is where pg_dump and pg_restore live, and pg_dump's version.
type toolSet struct {
	dir     string // "" = PATH
	version string
}

func (t toolSet) path(name string) string {
	if t.dir == "" {
		return name
	}
	return filepath.Join(t.dir, name)
}

// env is the environment of every vendor tool run: the secret and our
// application name travel here, never on the command line.
func (e *Engine) env() []string {
	env := []string{"PGAPPNAME=" + e.cfg.AppName}
	if e.connCfg.Password != "" {
		env = append(env, "PGPASSWORD="+e.connCfg.Password)
	}
	return env
}

// tools finds client tools able to dump the server conn is connected to.
func (e *Engine) tools(ctx context.Context, conn *pgx.Conn) (toolSet, error) {
	serverMajor := majorOf(serverVersion(conn))
	dir := e.cfg.BinDir
	if dir == "" {
		dir = e.defaultBinDir(serverMajor)
	}
	t := toolSet{dir: dir}
	cmd := engine.Command{Path: t.path("pg_dump"), Args: []string{"--version"}}
	out, err := cmd.Output(ctx)
	if err != nil {
		return t, err
	}
	t.version = parseToolVersion(string(out))
	if t.version == "" {
		return t, fmt.Errorf("read version of %s: unexpected output %q", cmd.Path, strings.TrimSpace(string(out)))
	}
	if m := majorOf(t.version); m < serverMajor {
		return t, fmt.Errorf("check client tools: %s is version %s, older than the server (%s); install the PostgreSQL %d client or set the tools directory",
			cmd.Path, t.version, serverVersion(conn), serverMajor)
	}
	return t, nil
}

// defaultBinDir picks the newest /usr/lib/postgresql/N/bin that has pg_dump
// when N is at least the server's major version; else "" (PATH).
func (e *Engine) defaultBinDir(serverMajor int) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if dir, ok := e.binDirs[serverMajor]; ok {
		return dir
	}
	dir := ""
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_dump")
	sort.Slice(found, func(i, j int) bool { return majorOf(dirVersion(found[i])) > majorOf(dirVersion(found[j])) })
	if len(found) > 0 && majorOf(dirVersion(found[0])) >= serverMajor {
		dir = filepath.Dir(found[0])
	} else if p, err := exec.LookPath("pg_dump"); err == nil {
		dir = filepath.Dir(p)
	}
	e.binDirs[serverMajor] = dir
	return dir
}

// dirVersion is N of /usr/lib/postgresql/N/bin/pg_dump.
func dirVersion(pgDump string) string { return filepath.Base(filepath.Dir(filepath.Dir(pgDump))) }

// parseToolVersion reads "15.18" from "pg_dump (PostgreSQL) 15.18 (Debian ...)".
func parseToolVersion(out string) string {
	_, rest, ok := strings.Cut(out, "(PostgreSQL) ")
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(strings.TrimSpace(rest), " ")
	return v
}

// majorOf is the major version of "15.18", "9.6.24" (9), "17beta1" (17).
func majorOf(v string) int {
	end := 0
	for end < len(v) && v[end] >= '0' && v[end] <= '9' {
		end++
	}
	n, err := strconv.Atoi(v[:end])
	if err != nil {
		return 0
	}
	return n
}

// quoteIdent quotes a (schema-qualified) name for SQL.
func quoteIdent(parts ...string) string { return pgx.Identifier(parts).Sanitize() }

var errClosed = errors.New("snapshot closed")
