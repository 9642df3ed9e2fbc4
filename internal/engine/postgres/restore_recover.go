package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hubble/hubble-applianceapi/internal/engine"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// recoverDead undoes what the restore of rec, which died, left in the
// target (see restore_journal.go). An error, or anything it could not undo
// (then a *engine.RestoreError), stops the restore before any change of
// its own.
func (e *Engine) recoverDead(ctx context.Context, conn *pgx.Conn, rec *journalRecord) (*engine.DeadRestore, error) {
	log := loggerFrom(ctx).With("dead_pid", rec.PID, "dead_started", rec.Started)
	log.Warn("found the journal of a restore into this schema that died; undoing what it left", "schema", rec.Schema)
	if err := endSessions(ctx, conn, rec.AppName, e.cfg.LockTimeout); err != nil {
		return nil, err
	}
	dr, err := undoDead(ctx, conn, rec, true, e.cfg.LockTimeout)
	if err != nil {
		return dr, fmt.Errorf("undo what a restore into schema %q that died left: %w", rec.Schema, err)
	}
	switch {
	case len(dr.NotUndone) > 0:
		return dr, &engine.RestoreError{Issue: engine.RestoreIssue{Object: "SCHEMA " + rec.Schema,
			Reason: fmt.Sprintf("a restore into this schema that died (process %d, started %s) left what could not be undone: %s; nothing else was changed",
				rec.PID, rec.Started.Format(time.RFC3339), joinMax(dr.NotUndone, 10))}}
	case dr.Finished:
		log.Info("the restore that died had finished its work; nothing to undo")
	default:
		log.Warn("undid what the restore that died left", "removed", len(dr.Removed), "put_back", len(dr.PutBack))
	}
	return dr, nil
}

// endSessions terminates the sessions named app (a dead restore's: their
// client is gone, but a backend busy with a statement notices only when it
// ends) and waits until they are gone, at most timeout.
func endSessions(ctx context.Context, conn *pgx.Conn, app string, timeout time.Duration) error {
	if app == "" {
		return nil
	}
	const list = "SELECT pid FROM pg_catalog.pg_stat_activity WHERE application_name = $1 AND pid <> pg_catalog.pg_backend_pid()"
	rows, err := conn.Query(ctx, list, app)
	if err != nil {
		return fmt.Errorf("list the sessions of the restore that died: %w", err)
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return fmt.Errorf("list the sessions of the restore that died: %w", err)
	}
	for _, pid := range pids {
		// Refused for a session of another role: then it is waited for.
		_, _ = conn.Exec(ctx, "SELECT pg_catalog.pg_terminate_backend($1)", pid)
	}
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		var n int
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM ("+list+") s", app).Scan(&n); err != nil {
			return fmt.Errorf("list the sessions of the restore that died: %w", err)
		}
		if n == 0 {
			return nil
		}
		select {
		case <-wctx.Done():
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("%d sessions of the restore that died (application_name %q) did not end within %s", n, app, timeout)
		case <-tick.C:
		}
	}
}

// xactStatus is the fate of transaction xid: committed, aborted, in
// progress, or unknown (too old for the server to tell).
func xactStatus(ctx context.Context, q querier, xid int64) (string, error) {
	var st *string
	if err := q.QueryRow(ctx, "SELECT txid_status($1)", xid).Scan(&st); err != nil {
		return "", fmt.Errorf("status of transaction %d: %w", xid, err)
	}
	if st == nil {
		return "unknown", nil
	}
	return *st, nil
}

// undoDead finds what rec's restore left and, with apply, undoes it in one
// transaction (lock waits bounded by lockTimeout); without, it only says
// what it would do (a plan).
func undoDead(ctx context.Context, conn *pgx.Conn, rec *journalRecord, apply bool, lockTimeout time.Duration) (*engine.DeadRestore, error) {
	dr := &engine.DeadRestore{PID: rec.PID, Started: rec.Started}
	if rec.FinalXid != 0 {
		st, err := xactStatus(ctx, conn, rec.FinalXid)
		if err != nil {
			return dr, err
		}
		// An unknown fate is taken as done: never undo a restore that may
		// have finished.
		if st == "committed" || st == "unknown" {
			dr.Finished = true
			return dr, nil
		}
	}
	if rec.ObjectsXid == 0 {
		return dr, nil // it died before committing anything
	}
	st, err := xactStatus(ctx, conn, rec.ObjectsXid)
	switch {
	case err != nil:
		return dr, err
	case st == "aborted":
		return dr, nil
	case st == "in progress" && apply:
		return dr, fmt.Errorf("its transaction %d is still in progress", rec.ObjectsXid)
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return dr, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if apply {
		if _, err := tx.Exec(ctx, fmt.Sprintf("SET LOCAL lock_timeout = %d", lockTimeout.Milliseconds())); err != nil {
			return dr, err
		}
	}
	var schema string
	err = tx.QueryRow(ctx, "SELECT nspname FROM pg_catalog.pg_namespace WHERE oid = $1", rec.SchemaOID).Scan(&schema)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return dr, fmt.Errorf("look up schema %q: %w", rec.Schema, err)
	}
	created := map[objectID]bool{}
	for _, o := range rec.Created {
		created[objectID{o.ClassID, o.ObjID}] = true
	}
	var drop []schemaObject
	if schema != "" {
		objs, err := listSchemaObjects(ctx, tx, schema)
		if err != nil {
			return dr, err
		}
		for _, o := range objs {
			if created[o.id] {
				drop = append(drop, o)
				dr.Removed = append(dr.Removed, o.String())
			}
		}
	}
	var back []journalRel
	for _, h := range rec.Held {
		var nsp string
		err := tx.QueryRow(ctx, `SELECT n.nspname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
			WHERE c.oid = $1`, h.OID).Scan(&nsp)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return dr, fmt.Errorf("look up table %q: %w", h.Name, err)
		}
		if nsp == rec.Hold {
			back = append(back, h)
			dr.PutBack = append(dr.PutBack, relkindKeyword[h.Relkind]+" "+quoteIdent(rec.Schema, h.Name))
		}
	}
	var roles []journalRole
	for _, r := range rec.Roles {
		var name string
		err := tx.QueryRow(ctx, "SELECT rolname FROM pg_catalog.pg_roles WHERE oid = $1", r.OID).Scan(&name)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return dr, fmt.Errorf("look up role %q: %w", r.Name, err)
		}
		if name == r.Name {
			roles = append(roles, r)
			dr.Removed = append(dr.Removed, "role "+r.Name)
		}
	}
	if !apply {
		return dr, nil
	}
	failed, err := dropOnly(ctx, tx, drop)
	if err != nil {
		return dr, err
	}
	for _, h := range back {
		kw := relkindKeyword[h.Relkind]
		if schema == "" {
			dr.NotUndone = append(dr.NotUndone, kw+" "+quoteIdent(rec.Hold, h.Name)+": its schema "+rec.Schema+" is gone")
			continue
		}
		if err := savepoint(ctx, tx, "ALTER "+kw+" "+quoteIdent(rec.Hold, h.Name)+" SET SCHEMA "+quoteIdent(schema)); err != nil {
			dr.NotUndone = append(dr.NotUndone, kw+" "+quoteIdent(rec.Hold, h.Name)+": could not be put back: "+reasonOf(err))
		}
	}
	if rec.Hold != "" {
		if err := savepoint(ctx, tx, "DROP SCHEMA IF EXISTS "+quoteIdent(rec.Hold)); err != nil {
			dr.NotUndone = append(dr.NotUndone, "schema "+rec.Hold+" (held the tables set aside): "+reasonOf(err))
		}
	}
	if schema != "" && !rec.SchemaCreated && rec.Meta != nil {
		if err := putBackMeta(ctx, tx, schema, rec.Meta); err != nil {
			dr.NotUndone = append(dr.NotUndone, "owner and privileges of schema "+schema+": "+reasonOf(err))
		}
	}
	if schema != "" {
		now, err := listSchemaObjects(ctx, tx, schema)
		if err != nil {
			return dr, err
		}
		for _, o := range now {
			if created[o.id] {
				reason := failed[o.id]
				if reason == "" {
					reason = "still present"
				}
				dr.NotUndone = append(dr.NotUndone, o.String()+": "+reason)
			}
		}
		if rec.SchemaCreated && len(dr.NotUndone) == 0 {
			// Not CASCADE: what others put in it since is not ours to drop.
			var pe *pgconn.PgError
			err := savepoint(ctx, tx, "DROP SCHEMA "+quoteIdent(schema))
			switch {
			case errors.As(err, &pe) && pe.Code == "2BP01":
				// Someone else's objects are in it now: the schema stays
				// for them, and the restore goes into it as into any
				// existing schema.
				loggerFrom(ctx).Warn("kept the schema the restore that died had created: it holds objects of others", "schema", schema)
			case err != nil:
				dr.NotUndone = append(dr.NotUndone, "schema "+schema+" (created by the restore that died): "+reasonOf(err))
			default:
				dr.Removed = append(dr.Removed, "schema "+schema)
			}
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return dr, err
	}
	for _, r := range roles {
		if _, err := conn.Exec(ctx, "DROP ROLE IF EXISTS "+quoteIdent(r.Name)); err != nil {
			dr.NotUndone = append(dr.NotUndone, "role "+r.Name+": "+reasonOf(err))
		}
	}
	return dr, nil
}

// putBackMeta restores an existing schema's owner, comment and privileges
// under a savepoint.
func putBackMeta(ctx context.Context, tx pgx.Tx, schema string, jm *journalMeta) error {
	m := &schemaMeta{owner: jm.Owner, comment: jm.Comment}
	for _, g := range jm.Grants {
		m.grants = append(m.grants, schemaGrant{grantee: g.Grantee, privilege: g.Privilege, grantable: g.Grantable})
	}
	if _, err := tx.Exec(ctx, "SAVEPOINT hubble_undo_meta"); err != nil {
		return err
	}
	if err := restoreSchemaMeta(ctx, tx, schema, m); err != nil {
		if _, rerr := tx.Exec(ctx, "ROLLBACK TO SAVEPOINT hubble_undo_meta"); rerr != nil {
			return errors.Join(err, rerr)
		}
		return err
	}
	return nil
}
