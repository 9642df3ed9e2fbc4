package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hubble/hubble-applianceapi/internal/pgtest"
)

// The database of the database-fault scenarios: schema "faults" with three
// tables whose COPY takes a while (the data phase lasts long enough to strike
// in it) and a small one, copied last.
const (
	faultsSchema = "faults"
	faultsBig    = 600_000
	faultsSmall  = 5000
)

var (
	faultsDBOnce sync.Once
	faultsDSN    string
	faultsDBErr  error
)

func faultsDB(t testing.TB) string {
	t.Helper()
	faultsDBOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		admin := pgtest.ServerDSN()
		const name = "hubble_e2e_faults"
		if faultsDBErr = pgtest.Exec(ctx, admin, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); faultsDBErr != nil {
			return
		}
		if faultsDBErr = pgtest.Exec(ctx, admin, "CREATE DATABASE "+name+" TEMPLATE template0 ENCODING 'UTF8'"); faultsDBErr != nil {
			return
		}
		if faultsDSN, faultsDBErr = pgtest.WithDatabase(admin, name); faultsDBErr != nil {
			return
		}
		var b strings.Builder
		fmt.Fprintf(&b, "CREATE SCHEMA %s;\n", faultsSchema)
		for _, tb := range []string{"t1", "t2", "t3"} {
			fmt.Fprintf(&b, "CREATE UNLOGGED TABLE %[1]s.%[2]s AS SELECT g AS id, md5(g::text) AS a, md5((g+1)::text) AS b FROM generate_series(1, %[3]d) g;\n",
				faultsSchema, tb, faultsBig)
		}
		fmt.Fprintf(&b, "CREATE TABLE %s.zz_small (id int);\n", faultsSchema)
		b.WriteString(refillSmall)
		faultsDBErr = pgtest.Exec(ctx, faultsDSN, b.String())
	})
	if faultsDBErr != nil {
		t.Fatal(faultsDBErr)
	}
	return faultsDSN
}

var refillSmall = fmt.Sprintf("TRUNCATE %[1]s.zz_small; INSERT INTO %[1]s.zz_small SELECT g FROM generate_series(1, %[2]d) g;", faultsSchema, faultsSmall)

// newDBFaultEnv is a fault env backing up schema "faults" of dsn.
func newDBFaultEnv(t *testing.T, dsn string, extraEnv ...string) *faultEnv {
	t.Helper()
	fe := newFaultEnv(t, options{}, "0")
	fe.extraEnv = append([]string{"HUBBLE_DATABASE_DSN=" + dsn, "HUBBLE_DATABASE_SCHEMA=" + faultsSchema}, extraEnv...)
	fe.dsn = dsn
	return fe
}

// phaseOf returns a job's status and phase from its record.
func (s *service) phaseOf(id string) (string, string, error) {
	code, b, err := s.call("GET", "/api/Backup/Jobs/"+id)
	if err != nil {
		return "", "", err
	}
	var rec record
	if err := json.Unmarshal(b, &rec); err != nil || code != 200 {
		return "", "", fmt.Errorf("Jobs/%s: HTTP %d %s", id, code, b)
	}
	return rec.Status, rec.Phase, nil
}

// inPhase polls until the job executes in phase.
func (s *service) inPhase(id, phase string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		st, ph, err := s.phaseOf(id)
		if err != nil {
			return err
		}
		if st == "Executing" && ph == phase {
			return nil
		}
		if st != "Queued" && st != "Executing" || time.Now().After(deadline) {
			return fmt.Errorf("job %s never seen executing in phase %s (now %s, %s)", id, phase, st, ph)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// jobSessions lists the pids of the service's sessions on dsn's database,
// oldest first: during the data phase the coordinator, then the workers.
func jobSessions(ctx context.Context, dsn string) ([]int64, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, `SELECT pid FROM pg_stat_activity
		WHERE application_name = $1 AND datname = current_database() ORDER BY backend_start, pid`, appName)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}

// Each session of a job (the coordinator holding the snapshot and the locks,
// then each COPY worker) terminated in turn during the data phase; with the
// coordinator gone, a table not yet copied is truncated.
func TestFaults_SessionTerminated(t *testing.T) {
	sc := newScenario(t, "every session of a job terminated in turn (coordinator + TRUNCATE, worker 1, worker 2)",
		"Error naming the server's reason, never a short table or an archive; nothing left; the next backup succeeds",
		3, 4)
	dsn := faultsDB(t)
	fe := newDBFaultEnv(t, dsn)
	s := fe.start(t)
	defer stopService(s)
	roles := []string{"coordinator", "worker 1", "worker 2"}
	struck := map[string]int{}
	for i := range sc.n {
		sc.run(i, func() error {
			ctx := context.Background()
			role := i % len(roles)
			before, _ := fe.archives()
			st, err := s.tryExecute()
			if err != nil {
				return err
			}
			if err := s.inPhase(st.ID, "data", time.Minute); err != nil {
				return err
			}
			pids, err := jobSessions(ctx, dsn)
			if err != nil {
				return err
			}
			if len(pids) != 3 {
				return fmt.Errorf("sessions of the job in the data phase: %v, want 3", pids)
			}
			if err := pgtest.Exec(ctx, dsn, fmt.Sprintf("SELECT pg_terminate_backend(%d, 10000)", pids[role])); err != nil {
				return err
			}
			if role == 0 {
				// No longer blocked by the coordinator's lock; not MVCC-safe.
				if err := pgtest.Exec(ctx, dsn, "SET lock_timeout = '30s'; TRUNCATE "+faultsSchema+".zz_small"); err != nil {
					return fmt.Errorf("truncate after the coordinator died: %w", err)
				}
			}
			struck[roles[role]]++
			final, err := s.waitTerminal(st.ID, time.Minute)
			var errs []error
			errs = append(errs, err)
			if role == 0 {
				errs = append(errs, pgtest.Exec(ctx, dsn, refillSmall))
			}
			if final.Status != "Error" || !(strings.Contains(final.Message, "57P01") || strings.Contains(final.Message, "snapshot lost") ||
				// A backend terminated while sending COPY data cannot send its reason.
				strings.Contains(final.Message, "server closed the connection without a reason")) {
				errs = append(errs, fmt.Errorf("job ended %s: %s; want Error with the server's reason", final.Status, final.Message))
			}
			if after, _ := fe.archives(); len(after) != len(before) {
				errs = append(errs, fmt.Errorf("an archive was published: %v -> %v", before, after))
			}
			errs = append(errs, fe.settled(s), fe.verifyArchives(2), fe.nextBackup(s))
			return errors.Join(errs...)
		})
	}
	sc.note("struck: %s", countOutcomes(struck))
}

// The server restarted (pg_ctl restart -m fast) in the middle of the COPY.
func TestFaults_ServerRestart(t *testing.T) {
	sc := newScenario(t, "PostgreSQL restarted mid-COPY",
		"Error with the server's reason; nothing left; the next backup (server back) succeeds", 1, 20)
	ctx := context.Background()
	c, err := pgtest.StartCluster(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Stop(context.Background()) })
	admin := c.DSN("postgres")
	if err := pgtest.Exec(ctx, admin, "CREATE DATABASE restarted"); err != nil {
		t.Fatal(err)
	}
	dsn := c.DSN("restarted")
	err = pgtest.Exec(ctx, dsn, fmt.Sprintf(`CREATE SCHEMA %[1]s;
		CREATE TABLE %[1]s.t1 AS SELECT g AS id, md5(g::text) AS a FROM generate_series(1, %[2]d) g;
		CREATE TABLE %[1]s.t2 AS SELECT * FROM %[1]s.t1;`, faultsSchema, faultsBig*2))
	if err != nil {
		t.Fatal(err)
	}
	fe := newDBFaultEnv(t, dsn)
	s := fe.start(t)
	defer stopService(s)
	var took []time.Duration
	for i := range sc.n {
		sc.run(i, func() error {
			st, err := s.tryExecute()
			if err != nil {
				return err
			}
			if err := s.inPhase(st.ID, "data", time.Minute); err != nil {
				return err
			}
			start := time.Now()
			if err := c.Restart(ctx); err != nil {
				return err
			}
			final, err := s.waitTerminal(st.ID, time.Minute)
			took = append(took, time.Since(start))
			errs := []error{err}
			if final.Status != "Error" || final.Message == "" {
				errs = append(errs, fmt.Errorf("job ended %s: %s; want Error with a reason", final.Status, final.Message))
			} else if i == 0 {
				sc.note("message: %q", tail(final.Message, 160))
			}
			errs = append(errs, fe.settled(s), fe.verifyArchives(2), fe.nextBackup(s))
			return errors.Join(errs...)
		})
	}
	sc.note("job ended %s after the restart began", durations(took))
}

// A lock held past database.lock_timeout: a session holding a conflicting
// lock before the backup starts, or a DDL queued behind the backup's locks
// (which blocks a worker's own lock).
func TestFaults_LockTimeout(t *testing.T) {
	sc := newScenario(t, "a lock held past database.lock_timeout (1 s): held before the backup / a DDL queued behind it",
		"Error naming the conflicting lock, within seconds, never a hang; nothing left; the next backup succeeds", 2, 20)
	dsn := faultsDB(t)
	fe := newDBFaultEnv(t, dsn, "HUBBLE_DATABASE_LOCK_TIMEOUT=1s")
	s := fe.start(t)
	defer stopService(s)
	var took []time.Duration
	for i := range sc.n {
		sc.run(i, func() error {
			ctx := context.Background()
			var errs []error
			var st status
			var start time.Time
			if i%2 == 0 {
				holder, err := pgx.Connect(ctx, dsn)
				if err != nil {
					return err
				}
				defer holder.Close(ctx)
				tx, err := holder.Begin(ctx)
				if err != nil {
					return err
				}
				defer tx.Rollback(ctx)
				if _, err := tx.Exec(ctx, "LOCK TABLE "+faultsSchema+".t2 IN ACCESS EXCLUSIVE MODE"); err != nil {
					return err
				}
				if st, err = s.tryExecute(); err != nil {
					return err
				}
				start = time.Now()
				st, err = s.waitTerminal(st.ID, time.Minute)
				errs = append(errs, err, tx.Rollback(ctx))
			} else {
				var err error
				if st, err = s.tryExecute(); err != nil {
					return err
				}
				if err := s.inPhase(st.ID, "data", time.Minute); err != nil {
					return err
				}
				alter := make(chan error, 1)
				start = time.Now()
				go func() {
					alter <- pgtest.Exec(ctx, dsn, "ALTER TABLE "+faultsSchema+".zz_small ADD COLUMN extra int")
				}()
				st, err = s.waitTerminal(st.ID, time.Minute)
				errs = append(errs, err, <-alter, pgtest.Exec(ctx, dsn, "ALTER TABLE "+faultsSchema+".zz_small DROP COLUMN extra"))
			}
			took = append(took, time.Since(start))
			if st.Status != "Error" || !strings.Contains(st.Message, "conflicting lock") {
				errs = append(errs, fmt.Errorf("job ended %s: %s; want Error naming the conflicting lock", st.Status, st.Message))
			}
			errs = append(errs, fe.settled(s), fe.verifyArchives(2), fe.nextBackup(s))
			return errors.Join(errs...)
		})
	}
	sc.note("job ended %s after the conflict began", durations(took))
}
