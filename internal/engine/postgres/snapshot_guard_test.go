package postgres

import (
	"context"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hubble/hubble-applianceapi/internal/engine"
	"github.com/hubble/hubble-applianceapi/internal/pgtest"
	"github.com/jackc/pgx/v5"
)

// lockHolders lists the sessions of app holding a granted lock on rel.
func lockHolders(ctx context.Context, t *testing.T, dsn, app, rel string) []int64 {
	t.Helper()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, `SELECT l.pid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
		WHERE a.application_name = $1 AND l.relation = $2::regclass AND l.granted ORDER BY 1`, app, rel)
	if err != nil {
		t.Fatal(err)
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		t.Fatal(err)
	}
	return pids
}

// waitFor polls cond (a query of the server's state) until it holds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond) // polling the server's state with a deadline
	}
}

func terminate(ctx context.Context, t *testing.T, dsn string, pid int64) {
	t.Helper()
	if err := pgtest.Exec(ctx, dsn, "SELECT pg_terminate_backend("+strconv.FormatInt(pid, 10)+", 10000)"); err != nil {
		t.Fatal(err)
	}
}

// The defect of issue 10: the session holding the snapshot and the locks
// dies during the data phase, a TRUNCATE (not MVCC-safe) empties a table not
// yet copied, and the copy read 0 rows where the snapshot had 5,000. The
// copy must fail naming the cause, never return a short table.
func TestSnapshot_CoordinatorLost(t *testing.T) {
	ctx := testCtx(t)
	dsn := pgtest.NewDB(t)
	err := pgtest.Exec(ctx, dsn, `CREATE SCHEMA hubble;
		CREATE TABLE hubble.first AS SELECT g AS id, md5(g::text) AS t FROM generate_series(1, 20000) g;
		CREATE TABLE hubble.later AS SELECT g AS id FROM generate_series(1, 5000) g;`)
	if err != nil {
		t.Fatal(err)
	}
	app := uniqueApp(t)
	e := newEngine(t, Config{DSN: dsn, AppName: app, LockTimeout: 20 * time.Second})
	s, err := e.Snapshot(ctx, "hubble", 1)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	dumped(s)
	tables := s.Tables()
	if len(tables) != 2 || tables[0].Name != "first" {
		t.Fatalf("Tables() = %+v, want first, later", tables)
	}
	if n, err := s.CopyOut(ctx, tables[0], io.Discard); err != nil || n != 20000 {
		t.Fatalf("CopyOut(first) = %d, %v", n, err)
	}
	// No worker touched "later" yet: the only lock on it is the coordinator's.
	holders := lockHolders(ctx, t, dsn, app, "hubble.later")
	if len(holders) != 1 {
		t.Fatalf("sessions locking hubble.later = %v, want the coordinator alone", holders)
	}
	terminate(ctx, t, dsn, holders[0])
	if err := pgtest.Exec(ctx, dsn, "SET lock_timeout = '20s'; TRUNCATE hubble.later"); err != nil {
		t.Fatalf("TRUNCATE after the coordinator died: %v", err)
	}

	n, err := s.CopyOut(ctx, tables[1], io.Discard)
	if err == nil {
		t.Fatalf("CopyOut(later) = %d rows, nil error: a short table passed as the snapshot's", n)
	}
	if !errors.Is(err, engine.ErrSnapshotLost) || !strings.Contains(err.Error(), "57P01") ||
		!strings.Contains(err.Error(), `"hubble"."later"`) {
		t.Errorf("CopyOut(later) error = %v, want ErrSnapshotLost naming the table and the server's reason", err)
	}
	t.Logf("message: %v", err)
	if err := s.Verify(ctx); !errors.Is(err, engine.ErrSnapshotLost) {
		t.Errorf("Verify() = %v, want ErrSnapshotLost", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close() = %v", err)
	}
	waitNoBackends(ctx, t, dsn, app)
}

// The coordinator dies after the last copy: Verify catches it.
func TestSnapshot_VerifyAfterCoordinatorLost(t *testing.T) {
	ctx := testCtx(t)
	dsn := pgtest.NewDB(t)
	if err := pgtest.Exec(ctx, dsn, "CREATE SCHEMA hubble; CREATE TABLE hubble.t AS SELECT 1 AS a"); err != nil {
		t.Fatal(err)
	}
	app := uniqueApp(t)
	s := openSnapshot(t, ctx, newEngine(t, Config{DSN: dsn, AppName: app}), "hubble", 1)
	if err := s.Verify(ctx); err != nil {
		t.Fatalf("Verify() of a live snapshot = %v", err)
	}
	holders := lockHolders(ctx, t, dsn, app, "hubble.t")
	if len(holders) != 1 {
		t.Fatalf("sessions locking hubble.t = %v, want the coordinator alone", holders)
	}
	terminate(ctx, t, dsn, holders[0])
	if err := s.Verify(ctx); !errors.Is(err, engine.ErrSnapshotLost) {
		t.Errorf("Verify() after the coordinator died = %v, want ErrSnapshotLost", err)
	}
}

// The locks are taken before the snapshot: a TRUNCATE that commits while
// the backup waits for its lock is entirely inside or outside the snapshot.
// Taken the other way round, the snapshot predates the TRUNCATE's commit, and
// the table reads empty beside rows of the same transaction that are absent.
func TestSnapshot_LocksBeforeSnapshot(t *testing.T) {
	ctx := testCtx(t)
	dsn := pgtest.NewDB(t)
	err := pgtest.Exec(ctx, dsn, `CREATE SCHEMA hubble;
		CREATE TABLE hubble.t AS SELECT g AS id FROM generate_series(1, 5000) g;
		CREATE TABLE hubble.marker (a int);`)
	if err != nil {
		t.Fatal(err)
	}
	other, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close(context.Background())
	tx, err := other.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(ctx, "LOCK TABLE hubble.t IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}

	app := uniqueApp(t)
	e := newEngine(t, Config{DSN: dsn, AppName: app})
	type opened struct {
		s   engine.Snapshot
		err error
	}
	done := make(chan opened, 1)
	go func() {
		s, err := e.Snapshot(ctx, "hubble", 1)
		done <- opened{s, err}
	}()
	waitFor(t, "the backup to wait for its lock", func() bool {
		var waiting bool
		_ = other.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
			WHERE a.application_name = $1 AND NOT l.granted)`, app).Scan(&waiting)
		return waiting
	})
	if _, err := tx.Exec(ctx, "TRUNCATE hubble.t; INSERT INTO hubble.marker VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	res := <-done
	if res.err != nil {
		t.Fatal(res.err)
	}
	defer res.s.Close()
	rows := map[string]int64{}
	for _, tb := range res.s.Tables() {
		n, err := res.s.CopyOut(ctx, tb, io.Discard)
		if err != nil {
			t.Fatalf("CopyOut(%s) = %v", tb.Name, err)
		}
		rows[tb.Name] = n
	}
	if rows["t"] != 0 || rows["marker"] != 1 {
		t.Errorf("rows = %v, want t: 0 and marker: 1 (both sides of one transaction)", rows)
	}
}

// An ALTER TABLE queued behind the coordinator's lock blocks a worker's own
// lock: the cycle (worker -> ALTER -> coordinator -> worker) is invisible to
// the server's deadlock detector, so the worker's lock wait is bounded and
// the copy fails with the reason instead of hanging.
func TestSnapshot_WorkerLockBehindQueuedDDL(t *testing.T) {
	ctx := testCtx(t)
	dsn := pgtest.NewDB(t)
	if err := pgtest.Exec(ctx, dsn, "CREATE SCHEMA hubble; CREATE TABLE hubble.t AS SELECT 1 AS a"); err != nil {
		t.Fatal(err)
	}
	app := uniqueApp(t)
	s := openSnapshot(t, ctx, newEngine(t, Config{DSN: dsn, AppName: app, LockTimeout: time.Second}), "hubble", 1)
	alter := make(chan error, 1)
	go func() { alter <- pgtest.Exec(ctx, dsn, "ALTER TABLE hubble.t ADD COLUMN b int") }()
	waitFor(t, "the ALTER TABLE to queue", func() bool {
		var n int
		_ = queryInt(ctx, dsn, "SELECT count(*) FROM pg_locks WHERE relation = 'hubble.t'::regclass AND NOT granted", &n)
		return n > 0
	})
	start := time.Now()
	_, err := s.CopyOut(ctx, s.Tables()[0], io.Discard)
	if err == nil || !strings.Contains(err.Error(), "conflicting lock") {
		t.Fatalf("CopyOut() = %v, want the lock timeout's reason", err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("CopyOut() took %s with a 1 s lock timeout", d)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close() = %v", err)
	}
	if err := <-alter; err != nil {
		t.Errorf("ALTER TABLE after the backup = %v", err)
	}
}

// Timeouts a role's settings enable (idle in transaction, statement, idle
// session) must not end a backup's sessions: the snapshot sits idle in its
// transaction for the whole data phase.
func TestSnapshot_RoleTimeouts(t *testing.T) {
	ctx := testCtx(t)
	dsn := pgtest.NewDB(t)
	role := "hubble_timeouts_" + uniqueApp(t)[len("hubble-test-"):]
	err := pgtest.Exec(ctx, dsn, `CREATE SCHEMA hubble;
		CREATE TABLE hubble.t AS SELECT g AS id FROM generate_series(1, 1000) g;
		CREATE ROLE `+role+` LOGIN;
		GRANT USAGE ON SCHEMA hubble TO `+role+`;
		GRANT SELECT ON ALL TABLES IN SCHEMA hubble TO `+role+`;
		ALTER ROLE `+role+` SET idle_in_transaction_session_timeout = '200ms';
		ALTER ROLE `+role+` SET idle_session_timeout = '200ms';
		ALTER ROLE `+role+` SET statement_timeout = '200ms';`)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = pgtest.Exec(context.Background(), dsn, "DROP OWNED BY "+role+"; DROP ROLE "+role)
	})
	roleDSN := strings.Replace(dsn, "postgres@", role+"@", 1)
	if !strings.Contains(roleDSN, role+"@") {
		t.Fatalf("cannot make a DSN for role %s from %s", role, dsn)
	}
	app := uniqueApp(t)
	e := newEngine(t, Config{DSN: roleDSN, AppName: app})
	if _, err := e.Check(ctx, "hubble"); err != nil {
		t.Fatal(err)
	}
	s := openSnapshot(t, ctx, e, "hubble", 1)
	// Idle in the transaction for longer than every timeout of the role.
	<-time.After(time.Second)
	if n, err := s.CopyOut(ctx, s.Tables()[0], io.Discard); err != nil || n != 1000 {
		t.Fatalf("CopyOut() after idling = %d, %v", n, err)
	}
	if err := s.Verify(ctx); err != nil {
		t.Errorf("Verify() = %v", err)
	}
}

// A pooler between us and the server (a real pgbouncer) is refused with a
// clear reason: in transaction or statement mode the sessions the snapshot
// relies on are not ours, and pg_dump's session settings are lost.
func TestEngine_RefusesPooler(t *testing.T) {
	ctx := testCtx(t)
	dsn := pgtest.NewDB(t)
	if err := pgtest.Exec(ctx, dsn, "CREATE SCHEMA hubble; CREATE TABLE hubble.t AS SELECT 1 AS a"); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{"transaction", "session"} {
		t.Run(mode, func(t *testing.T) {
			pooled := pgtest.StartPgbouncer(t, dsn, mode)
			app := uniqueApp(t)
			e := newEngine(t, Config{DSN: pooled, AppName: app})
			if _, err := e.Check(ctx, "hubble"); !errors.Is(err, ErrPooler) {
				t.Errorf("Check() through pgbouncer = %v, want ErrPooler", err)
			} else {
				t.Logf("message: %v", err)
			}
			if s, err := e.Snapshot(ctx, "hubble", 1); !errors.Is(err, ErrPooler) {
				if err == nil {
					s.Close()
				}
				t.Errorf("Snapshot() through pgbouncer = %v, want ErrPooler", err)
			}
		})
	}
}
