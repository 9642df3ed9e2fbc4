package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hubble/hubble-applianceapi/internal/engine"
	"github.com/jackc/pgx/v5"
)

// Restore restores an extracted archive into the target schema. Design
// (atomicity against parallelism):
//
//  1. Objects: one transaction creates the missing roles (NOLOGIN), the
//     schema if missing, sets the conflicting relations the plan allows
//     aside (into a holding schema, after locking them and checking again
//     that they may go), and runs the pre-data entries of pg_dump's
//     archive, each as one unit; it commits.
//  2. Data: req.Workers connections COPY the data files in parallel, each
//     table in its own transaction (TRUNCATE + COPY FREEZE), straight from
//     the files, largest first. Into the archive's own schema name the same
//     connections build each table's indexes and key constraints as soon
//     as its data is in, then attach partition indexes and add the foreign
//     keys, each entry in its own transaction (see pipeline).
//  3. One transaction runs the rest of the post-data entries (triggers,
//     rules, comments, grants; all of it under --schema, whose renaming
//     trick needs one transaction), sets the sequences, refreshes the
//     materialized views and drops the relations set aside; it commits.
//
// Without ContinueOnError a failure in step 1 rolls back everything; a
// failure later undoes step 1 (see undoRestore) and names in the result
// whatever could not be undone. Blocking conflicts and objects of other
// schemas that the target lacks stop the restore before step 1.
func (e *Engine) Restore(ctx context.Context, req engine.RestoreRequest) (res engine.RestoreResult, err error) {
	ctx = withLogger(ctx, req.Log)
	app := sessionName(e.cfg.AppName)
	ctx = withAppName(ctx, app)
	conn, err := e.connect(ctx)
	if err != nil {
		return res, err
	}
	defer closeConn(conn)
	// The journal goes once the restore is done or undone; it stays for the
	// next restore when the undo could not finish.
	j, dead, err := e.openJournal(ctx, conn, req, app)
	if err != nil {
		return res, err
	}
	keepJournal := false
	defer func() {
		if keepJournal {
			j.keep()
		} else if jerr := j.end(); jerr != nil {
			loggerFrom(ctx).Warn("remove the restore journal", "error", jerr)
		}
	}()
	if dead != nil {
		res.DeadRestore, err = e.recoverDead(ctx, conn, dead)
		if err != nil {
			keepJournal = true
			return res, err
		}
		if err := j.reset(); err != nil {
			return res, err
		}
	}
	tools, err := e.tools(ctx, conn)
	if err != nil {
		return res, err
	}
	script, err := e.loadScript(ctx, tools, req.Dir)
	if err != nil {
		return res, err
	}
	plan, conflicts, err := e.plan(ctx, conn, req, script)
	res.Plan = plan
	if err != nil {
		return res, err
	}
	for _, c := range conflicts {
		if c.Blocking {
			return res, blockingConflict(c)
		}
	}
	rec := &issues{}
	if len(plan.MissingObjects) > 0 {
		issue := engine.RestoreIssue{Object: "SCHEMA " + targetOf(req), Reason: missingReason(plan.MissingObjects, req.ContinueOnError)}
		if !req.ContinueOnError {
			return res, &engine.RestoreError{Issue: issue}
		}
		rec.add(issue)
	}
	for _, t := range req.Tables {
		if _, ok := script.columns[t.File]; !ok {
			return res, fmt.Errorf("read %s: no \\copy line for data file %s", CopyInFile, t.File)
		}
	}
	if e.beforeChange != nil {
		e.beforeChange(ctx)
	}

	x := &executor{conn: conn, cont: req.ContinueOnError, rec: rec}
	source, target := req.SourceSchema, targetOf(req)
	before, err := readTargetState(ctx, conn, target, plan.SchemaExists)
	if err != nil {
		return res, err
	}
	u := &undoPlan{schema: target, before: before, lockTimeout: e.cfg.LockTimeout, journal: j}
	if len(conflicts) > 0 {
		u.hold = "hubble_restore_hold_" + randomHex(6)
	}
	undo := func(cause error) (engine.RestoreResult, error) {
		res.Issues = rec.all()
		if !u.changed {
			// Step 1's transaction was rolled back: nothing changed. Unless
			// its COMMIT was sent and its answer lost (the connection broke):
			// then the journal stays, and the next restore asks the server.
			keepJournal = j.commitSent()
			res.RolesCreated, res.Dropped = nil, nil
			return res, cause
		}
		uctx := ctx
		if ctx.Err() != nil {
			// The undo must run even though the restore was canceled.
			var cancel context.CancelFunc
			uctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), 5*time.Minute)
			defer cancel()
		}
		if e.beforeUndo != nil {
			e.beforeUndo(uctx)
		}
		notUndone, uerr := undoRestore(uctx, conn, u)
		res.NotUndone = notUndone
		res.RolesCreated, res.Dropped = u.rolesLeft, nil
		if uerr != nil {
			keepJournal = true
			res.NotUndone = append(res.NotUndone, "(the undo stopped: "+reasonOf(uerr)+")")
			return res, errors.Join(cause, fmt.Errorf("undo restore of schema %q: %w", target, uerr))
		}
		keepJournal = len(notUndone) > 0
		return res, cause
	}

	// Step 1: objects.
	done := phase(ctx, "pre-data")
	err = e.createObjects(ctx, x, req, script, plan, u, &res)
	done("entries", len(script.preData.Entries))
	if err != nil {
		return undo(err)
	}
	if e.afterCommit != nil {
		e.afterCommit(ctx, "objects")
	}

	if source == target {
		// Steps 2 and 3 overlap: indexes and keys are built on several
		// connections as soon as their table is loaded.
		tables, rows, rest, err := e.runPipeline(ctx, req, script, rec)
		res.Tables, res.Rows = tables, rows
		if err != nil {
			return undo(err)
		}
		var entries []tocEntry
		for _, j := range rest {
			entries = append(entries, j.entries...)
		}
		if err := e.finishObjects(ctx, x, source, target, entries, script, u); err != nil {
			return undo(err)
		}
		if e.afterCommit != nil {
			e.afterCommit(ctx, "finished")
		}
		res.Issues = rec.all()
		return res, nil
	}

	// Step 2: data.
	done = phase(ctx, "data")
	tables, rows, err := e.loadData(ctx, req, script, rec)
	res.Tables, res.Rows = tables, rows
	done("tables", tables, "rows", rows)
	if err != nil {
		return undo(err)
	}

	// Step 3: indexes, constraints, sequences, materialized views, under
	// the source schema's name (renamed in the transaction), serially.
	if err := e.finishObjects(ctx, x, source, target, script.postData.Entries, script, u); err != nil {
		return undo(err)
	}
	if e.afterCommit != nil {
		e.afterCommit(ctx, "finished")
	}
	res.Issues = rec.all()
	return res, nil
}

// blockingConflict is the error of a conflict that stops the restore.
func blockingConflict(c conflict) error {
	reason := c.Action
	if len(c.Dependents) > 0 {
		reason += fmt.Sprintf("; depended on by: %s", joinMax(c.Dependents, 10))
	}
	return &engine.RestoreError{Issue: engine.RestoreIssue{Object: "TABLE " + c.Table, Reason: "exists in the target and " + reason}}
}

// missingReason says which objects outside the schema the target lacks and
// what to do.
func missingReason(missing []string, cont bool) string {
	reason := "needs objects outside the schema that the target lacks: " + joinMax(missing, 20)
	if cont {
		return reason + "; the objects that need them fail (--continue-on-error); create them first " +
			"(on an appliance: re-run the replication tasks)"
	}
	return reason + "; nothing was changed: create them first (on an appliance: re-run the replication tasks), then restore again"
}

// createObjects is step 1.
func (e *Engine) createObjects(ctx context.Context, x *executor, req engine.RestoreRequest, s *restoreScript,
	plan engine.RestorePlan, u *undoPlan, res *engine.RestoreResult) (err error) {
	source, target := req.SourceSchema, targetOf(req)
	tx, err := x.conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin restore transaction: %w", err)
	}
	defer func() {
		if err != nil {
			// An entry that ended the transaction may have committed part
			// of step 1: then the undo has work to do.
			u.changed = x.ended
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			_ = tx.Rollback(rctx)
			cancel()
		}
	}()
	if err := runPreamble(ctx, x, s.preData); err != nil {
		return err
	}
	for _, role := range plan.MissingRoles {
		if err := x.must(ctx, "ROLE "+role, "CREATE ROLE "+quoteIdent(role)+" NOLOGIN"); err != nil {
			return err
		}
		u.roles = append(u.roles, role)
		res.RolesCreated = append(res.RolesCreated, role)
	}
	if !plan.SchemaExists {
		if err := x.must(ctx, "SCHEMA "+target, "CREATE SCHEMA "+quoteIdent(target)); err != nil {
			return err
		}
	}
	r := newRenamer(source, target)
	if err := r.enter(ctx, x, x.conn); err != nil {
		return err
	}
	if u.hold != "" {
		if err := e.setAside(ctx, x, req, s, u, res); err != nil {
			return err
		}
	}
	if err := runEntries(ctx, x, s.preData.Entries, source); err != nil {
		return err
	}
	if err := r.leave(ctx, x); err != nil {
		return err
	}
	if err := u.journal.objectsCommitting(ctx, tx, u); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return failure(ctx, "SCHEMA "+target, "COMMIT", err)
	}
	u.changed = true
	return nil
}

// setAside moves the conflicting relations the plan allows to replace into
// the holding schema u.hold (created here), inside step 1's transaction.
// They are locked first and looked at again under the lock: a table that
// received rows or a dependent since the plan stops the restore here, so
// nothing written to it meanwhile can be lost. Step 3 drops the holding
// schema; the undo moves them back.
func (e *Engine) setAside(ctx context.Context, x *executor, req engine.RestoreRequest, s *restoreScript,
	u *undoPlan, res *engine.RestoreResult) error {
	// Inside the renamer the target is called like the source.
	schema, names := req.SourceSchema, archiveRelations(req, s)
	timeout := fmt.Sprintf("SET LOCAL lock_timeout = %d", e.cfg.LockTimeout.Milliseconds())
	if err := x.must(ctx, "SCHEMA "+u.schema, timeout); err != nil {
		return err
	}
	locked := map[uint32]bool{}
	var now []conflict
	for {
		var err error
		if now, err = findConflicts(ctx, x.conn, schema, names, req.Clean); err != nil {
			return err
		}
		var lock []string
		for _, c := range now {
			if !locked[c.oid] && strings.ContainsAny(c.relkind, "rpvmf") {
				locked[c.oid] = true
				lock = append(lock, quoteIdent(schema, c.name))
			}
		}
		if len(lock) == 0 {
			break // every conflict was looked at under its lock
		}
		sql := "LOCK TABLE " + strings.Join(lock, ", ") + " IN ACCESS EXCLUSIVE MODE"
		if err := x.raw(ctx, sql); err != nil {
			if isLockTimeout(err) {
				return &engine.RestoreError{Issue: engine.RestoreIssue{Object: "TABLE " + joinMax(lock, 5), Statement: sql,
					Reason: fmt.Sprintf("another session held a lock on it for more than %s; nothing was changed", e.cfg.LockTimeout)}}
			}
			return failure(ctx, "TABLE "+joinMax(lock, 5), sql, err)
		}
	}
	for i := range now {
		now[i].Table = quoteIdent(u.schema, now[i].name)
		if now[i].Blocking {
			return blockingConflict(now[i])
		}
	}
	if err := x.must(ctx, "SCHEMA "+u.hold, "CREATE SCHEMA "+quoteIdent(u.hold)); err != nil {
		return err
	}
	oids := make([]uint32, len(now))
	for i, c := range now {
		oids[i] = c.oid
		res.Dropped = append(res.Dropped, c.Table)
		res.Dropped = append(res.Dropped, c.Dependents...)
	}
	if req.Clean {
		// The schema's views built on them (what --clean replaces with
		// them) go aside too: the archive may define the same names.
		views, err := dependentViews(ctx, x.conn, schema, oids)
		if err != nil {
			return err
		}
		for _, v := range views {
			v.Table = quoteIdent(u.schema, v.name)
			now = append(now, v)
		}
	}
	for _, c := range now {
		sql := "ALTER " + relkindKeyword[c.relkind] + " " + quoteIdent(schema, c.name) + " SET SCHEMA " + quoteIdent(u.hold)
		if err := x.must(ctx, relkindKeyword[c.relkind]+" "+quoteIdent(u.schema, c.name), sql); err != nil {
			return err
		}
	}
	u.held = now
	return x.must(ctx, "SCHEMA "+u.schema, "SET LOCAL lock_timeout = 0")
}

// dependentViews lists the views and materialized views of schema that
// read the relations oids, directly or through one another.
func dependentViews(ctx context.Context, q querier, schema string, oids []uint32) ([]conflict, error) {
	rows, err := q.Query(ctx, `WITH RECURSIVE reads(oid) AS (
			SELECT unnest($1::oid[])
			UNION
			SELECT r.ev_class FROM pg_catalog.pg_depend d
			JOIN pg_catalog.pg_rewrite r ON d.classid = 'pg_catalog.pg_rewrite'::regclass AND r.oid = d.objid
			JOIN reads ON d.refclassid = 'pg_catalog.pg_class'::regclass AND d.refobjid = reads.oid
			WHERE r.ev_class <> reads.oid)
		SELECT c.oid, c.relname, c.relkind::text FROM reads JOIN pg_catalog.pg_class c ON c.oid = reads.oid
		JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $2 AND c.relkind IN ('v', 'm') AND c.oid <> ALL ($1::oid[]) ORDER BY 2`, oids, schema)
	if err != nil {
		return nil, fmt.Errorf("look up views built on the conflicting tables: %w", err)
	}
	views, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (conflict, error) {
		var c conflict
		err := row.Scan(&c.oid, &c.name, &c.relkind)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("look up views built on the conflicting tables: %w", err)
	}
	return views, nil
}

// finishObjects is step 3 (or its serial part): post, then the sequences
// and materialized views, in one transaction.
func (e *Engine) finishObjects(ctx context.Context, x *executor, source, target string, post []tocEntry, s *restoreScript, u *undoPlan) (err error) {
	hold := u.hold
	tx, err := x.conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin restore transaction: %w", err)
	}
	defer func() {
		if err != nil {
			rctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			_ = tx.Rollback(rctx)
			cancel()
		}
	}()
	r := newRenamer(source, target)
	if err := r.enter(ctx, x, tx); err != nil {
		return err
	}
	done := phase(ctx, "post-data")
	if err := runEntries(ctx, x, post, source); err != nil {
		return err
	}
	if err := r.leave(ctx, x); err != nil {
		return err
	}
	done("entries", len(post))
	done = phase(ctx, "sequences and materialized views")
	defer func() {
		if err == nil {
			done("sequences", len(s.sequences), "matviews", len(s.matviews))
		}
	}()
	for _, seq := range s.sequences {
		name := quoteIdent(target, seq.Name)
		sql := "SELECT pg_catalog.setval(" + quoteLiteral(name) + ", " + strconv.FormatInt(seq.LastValue, 10) + ", " +
			strconv.FormatBool(seq.IsCalled) + ")"
		if err := x.exec(ctx, "SEQUENCE "+target+"."+seq.Name, sql); err != nil {
			return err
		}
	}
	for _, mv := range s.matviews {
		if err := x.exec(ctx, "MATERIALIZED VIEW "+target+"."+mv, "REFRESH MATERIALIZED VIEW "+quoteIdent(target, mv)); err != nil {
			return err
		}
	}
	if hold != "" {
		// The replaced relations (and, with --clean, what depended on them).
		if err := x.must(ctx, "SCHEMA "+hold, "DROP SCHEMA "+quoteIdent(hold)+" CASCADE"); err != nil {
			return err
		}
	}
	if err := u.journal.finalCommitting(ctx, tx); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return failure(ctx, "SCHEMA "+target, "COMMIT", err)
	}
	return nil
}

// joinMax joins up to max items with ", ", saying how many were left out.
func joinMax(items []string, max int) string {
	out := ""
	for i, it := range items {
		if i == max {
			out += fmt.Sprintf(" and %d more", len(items)-max)
			break
		}
		if i > 0 {
			out += ", "
		}
		out += it
	}
	return out
}
