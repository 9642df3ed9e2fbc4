package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/hubble/hubble-applianceapi/internal/engine"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// The guarantee of a Snapshot: every table is read under the exported
// snapshot while a lock that keeps DDL and TRUNCATE away has been held on it
// without a gap since before the snapshot was taken. TRUNCATE is not
// MVCC-safe: a table truncated after the snapshot reads as empty under it,
// so a gap in the locks is a silently short table.
//
//   - The coordinating transaction locks the schema's tables first and takes
//     the snapshot after (LOCK does not fix a REPEATABLE READ snapshot), then
//     checks in pg_locks that every table the snapshot sees is locked.
//   - Each worker locks the table it copies in its own transaction, as
//     pg_dump's workers do, then checks in pg_locks that the coordinating
//     transaction (its pid and virtual transaction id) still holds its lock
//     on that table. Locks are released only at the end of a transaction, so
//     the coordinator's lock covered the table from the snapshot until the
//     worker's lock took over. If the coordinator is gone (terminated, its
//     connection dropped, a server restart, a timeout), the copy fails.
//   - At the end of the data phase Verify confirms that the coordinator is
//     still alive in the same transaction.

// beginAttempts bounds how often begin retries when tables appear or
// disappear between listing and locking them.
const beginAttempts = 3

// begin opens the coordinating transaction: locks, then the snapshot.
func (s *Snapshot) begin(ctx context.Context, schema string) error {
	for attempt := 1; ; attempt++ {
		// Listed outside the transaction: a catalog query inside it would
		// fix the snapshot before the locks are taken.
		names, err := lockableTables(ctx, s.coord, schema)
		if err != nil {
			return err
		}
		changed, err := s.beginOnce(ctx, schema, names)
		if err != nil || len(changed) == 0 {
			return err
		}
		if rbErr := s.coordTx.Rollback(ctx); rbErr != nil {
			return fmt.Errorf("end snapshot transaction: %w", rbErr)
		}
		s.coordTx = nil
		if attempt == beginAttempts {
			return fmt.Errorf("lock tables of schema %q: tables were created or dropped while the backup started, %d times in a row (last: %s); try again",
				schema, attempt, strings.Join(changed, ", "))
		}
	}
}

// beginOnce locks names, exports the snapshot and returns the tables the
// snapshot sees without our lock (created after the listing, or dropped
// before the lock); with any, the caller rolls back and tries again.
func (s *Snapshot) beginOnce(ctx context.Context, schema string, names []string) (changed []string, err error) {
	s.coordTx, err = s.coord.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, fmt.Errorf("begin snapshot transaction: %w", err)
	}
	if gone, err := s.lock(ctx, schema, names); err != nil || gone != "" {
		return []string{gone}, err
	}
	var exists bool
	err = s.coordTx.QueryRow(ctx, `SELECT pg_catalog.pg_export_snapshot(), now(), current_database(),
		EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1),
		pg_catalog.pg_backend_pid(),
		(SELECT l.virtualtransaction FROM pg_catalog.pg_locks l
			WHERE l.pid = pg_catalog.pg_backend_pid() AND l.locktype = 'virtualxid')`, schema).
		Scan(&s.snapshotID, &s.info.SnapshotTime, &s.info.Database, &exists, &s.holder.pid, &s.holder.vxid)
	if err != nil {
		return nil, fmt.Errorf("export snapshot: %w", err)
	}
	s.info.SnapshotTime = s.info.SnapshotTime.UTC()
	if !exists {
		return nil, fmt.Errorf("schema %q in database %q: %w", schema, s.info.Database, engine.ErrSchemaNotFound)
	}
	rows, err := s.coordTx.Query(ctx, `SELECT c.relname FROM pg_catalog.pg_class c
		JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND `+notExtensionMember+`
		AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_locks l
			WHERE l.pid = pg_catalog.pg_backend_pid() AND l.locktype = 'relation' AND l.relation = c.oid
			AND l.database = (SELECT d.oid FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database())
			AND l.granted)
		ORDER BY c.relname`, schema)
	if err != nil {
		return nil, fmt.Errorf("check locks of schema %q: %w", schema, err)
	}
	changed, err = pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("check locks of schema %q: %w", schema, err)
	}
	return changed, nil
}

// lock takes ACCESS SHARE locks on the schema's tables: DDL that would
// change, drop or truncate them waits until the backup is over. A table
// dropped since it was listed is returned as gone, without an error.
func (s *Snapshot) lock(ctx context.Context, schema string, names []string) (gone string, err error) {
	timeout := fmt.Sprintf("SET LOCAL lock_timeout = %d", s.eng.cfg.LockTimeout.Milliseconds())
	if _, err := s.coordTx.Exec(ctx, timeout); err != nil {
		return "", fmt.Errorf("set lock timeout: %w", err)
	}
	const batch = 500
	for len(names) > 0 {
		n := min(batch, len(names))
		quoted := make([]string, n)
		for i, name := range names[:n] {
			quoted[i] = "ONLY " + quoteIdent(schema, name)
		}
		if _, err := s.coordTx.Exec(ctx, "LOCK TABLE "+strings.Join(quoted, ", ")+" IN ACCESS SHARE MODE"); err != nil {
			var pe *pgconn.PgError
			switch {
			case errors.As(err, &pe) && pe.Code == "42P01": // undefined_table
				return pe.Message, nil
			case isLockTimeout(err):
				return "", fmt.Errorf("lock tables of schema %q: another session held a conflicting lock (DDL such as ALTER TABLE?) for more than %s: %w",
					schema, s.eng.cfg.LockTimeout, err)
			}
			return "", fmt.Errorf("lock tables of schema %q: %w", schema, err)
		}
		names = names[n:]
	}
	return "", nil
}

// heldSQL is true when the coordinating transaction holds its granted
// ACCESS SHARE lock on the relation $3 (a quoted, qualified name).
const heldSQL = `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_locks l
	WHERE l.pid = $1 AND l.virtualtransaction = $2 AND l.locktype = 'relation'
	AND l.database = (SELECT d.oid FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database())
	AND l.relation = pg_catalog.to_regclass($3) AND l.mode = 'AccessShareLock' AND l.granted)`

// guard takes the worker's own lock on t, then proves that the
// coordinator's lock on t was held until then.
func (s *Snapshot) guard(ctx context.Context, conn *pgx.Conn, t engine.Table) error {
	name := quoteIdent(t.Schema, t.Name)
	if _, err := conn.Exec(ctx, "LOCK TABLE ONLY "+name+" IN ACCESS SHARE MODE"); err != nil {
		if isLockTimeout(err) {
			return fmt.Errorf("lock: another session awaited or held a conflicting lock (DDL such as ALTER TABLE or TRUNCATE?) for more than %s: %w",
				s.eng.cfg.LockTimeout, err)
		}
		return fmt.Errorf("lock: %w", err)
	}
	var held bool
	if err := conn.QueryRow(ctx, heldSQL, int64(s.holder.pid), s.holder.vxid, name).Scan(&held); err != nil {
		return fmt.Errorf("check the snapshot's lock: %w", err)
	}
	if !held {
		return s.lost(ctx)
	}
	return nil
}

// Verify confirms, at the end of the data phase, that the coordinating
// session is alive in the transaction that took the snapshot and its locks.
func (s *Snapshot) Verify(ctx context.Context) error {
	s.coordMu.Lock()
	defer s.coordMu.Unlock()
	if s.lostErr != nil {
		return s.lostErr
	}
	var vxid string
	err := s.coordTx.QueryRow(ctx, `SELECT l.virtualtransaction FROM pg_catalog.pg_locks l
		WHERE l.pid = pg_catalog.pg_backend_pid() AND l.locktype = 'virtualxid'`).Scan(&vxid)
	switch {
	case err != nil && ctx.Err() != nil:
		return ctx.Err()
	case err != nil:
		return s.lostLocked(err.Error())
	case vxid != s.holder.vxid:
		return s.lostLocked("its transaction " + s.holder.vxid + " is now " + vxid)
	}
	return nil
}

// lost finds out why the coordinator no longer holds its locks: querying
// it returns the error that ended its session.
func (s *Snapshot) lost(ctx context.Context) error {
	s.coordMu.Lock()
	defer s.coordMu.Unlock()
	if s.lostErr != nil {
		return s.lostErr
	}
	cause := "it no longer holds its locks"
	if _, err := s.coordTx.Exec(ctx, "SELECT 1"); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		cause = err.Error()
	}
	return s.lostLocked(cause)
}

// lostLocked records and returns the snapshot's loss; s.coordMu is held.
func (s *Snapshot) lostLocked(cause string) error {
	s.lostErr = fmt.Errorf("%w: the session that holds the snapshot and the locks of schema %q (pid %d) ended (%s); a table read after that could have been emptied by TRUNCATE or changed by DDL, so the backup is not consistent",
		engine.ErrSnapshotLost, s.info.Schema, s.holder.pid, cause)
	return s.lostErr
}

// direct refuses a connection that reaches the server through a pooler or
// proxy: a pooler hands out its own backend key, so the pid the protocol
// announced is not the server's pid. In transaction or statement pooling
// mode, session state (pg_dump's settings, our timeouts) is lost between
// transactions and the sessions we rely on are not ours; the snapshot's
// guarantees rest on pids seen in pg_locks.
func direct(ctx context.Context, conn *pgx.Conn) error {
	var pid int64
	// The simple protocol: a pooler in transaction mode breaks the
	// prepared statements of the extended one before we could tell why.
	err := conn.QueryRow(ctx, "SELECT pg_catalog.pg_backend_pid()", pgx.QueryExecModeSimpleProtocol).Scan(&pid)
	if err != nil {
		return fmt.Errorf("query backend pid: %w", err)
	}
	if announced := conn.PgConn().PID(); int64(announced) != pid {
		return fmt.Errorf("%w: the server's session is pid %d but the connection announced pid %d; a backup needs sessions of its own on the server (an exported snapshot and its locks, shared with pg_dump): connect to PostgreSQL itself, not to pgbouncer or another pooler",
			ErrPooler, pid, announced)
	}
	return nil
}

// ErrPooler is wrapped by Check and Snapshot when the connection goes
// through a connection pooler or proxy.
var ErrPooler = errors.New("the database connection goes through a connection pooler or proxy")
