package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/hubble/hubble-applianceapi/internal/engine"
)

// Restore restores an extracted archive into the target schema. Design
// (atomicity against parallelism):
//
//  1. Objects: one transaction creates the missing roles (NOLOGIN), the
//     schema if missing, drops the conflicting tables the plan allows, and
//     runs pg_restore's pre-data SQL statement by statement; it commits.
//  2. Data: req.Workers connections COPY the data files in parallel, each
//     table in its own transaction (TRUNCATE + COPY FREEZE), straight from
//     the files, largest first. Into the archive's own schema name the same
//     connections build each table's indexes and key constraints as soon
//     as its data is in, then add the foreign keys, each statement in its
//     own transaction (see pipeline).
//  3. One transaction runs the rest of the post-data SQL (triggers, rules,
//     comments, grants; all of it under --schema, whose renaming trick
//     needs one transaction), sets the sequences and refreshes the
//     materialized views; it commits.
//
// Without ContinueOnError a failure in step 1 rolls back everything; a
// failure later drops every object step 1 created (the whole schema when
// the restore created it), so a retry starts clean. A blocking conflict
// stops the restore before step 1.
func (e *Engine) Restore(ctx context.Context, req engine.RestoreRequest) (res engine.RestoreResult, err error) {
	ctx = withLogger(ctx, req.Log)
	conn, err := e.connect(ctx)
	if err != nil {
		return res, err
	}
	defer closeConn(conn)
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
			reason := c.Action
			if len(c.Dependents) > 0 {
				reason += fmt.Sprintf("; depended on by: %s", joinMax(c.Dependents, 10))
			}
			return res, &engine.RestoreError{Issue: engine.RestoreIssue{Object: "TABLE " + c.Table, Reason: "exists in the target and " + reason}}
		}
	}
	for _, t := range req.Tables {
		if _, ok := script.columns[t.File]; !ok {
			return res, fmt.Errorf("read %s: no \\copy line for data file %s", CopyInFile, t.File)
		}
	}

	rec := &issues{}
	x := &executor{conn: conn, cont: req.ContinueOnError, rec: rec}
	source, target := req.SourceSchema, targetOf(req)

	// Step 1: objects.
	done := phase(ctx, "pre-data")
	created, keep, meta, err := e.createObjects(ctx, x, req, script, plan, conflicts, &res)
	done("statements", len(script.preData))
	if err != nil {
		res.Issues = rec.all()
		res.RolesCreated = nil
		return res, err
	}
	undo := func(cause error) (engine.RestoreResult, error) {
		res.Issues = rec.all()
		if errors.Is(cause, context.Canceled) || errors.Is(cause, context.DeadlineExceeded) || ctx.Err() != nil {
			// The undo must run even though the restore was canceled.
			cctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			_ = dropCreated(cctx, conn, target, created, keep, meta)
			return res, cause
		}
		if uerr := dropCreated(ctx, conn, target, created, keep, meta); uerr != nil {
			return res, errors.Join(cause, fmt.Errorf("undo restore of schema %q: %w", target, uerr))
		}
		return res, cause
	}

	if source == target {
		// Steps 2 and 3 overlap: indexes and keys are built on several
		// connections as soon as their table is loaded.
		tables, rows, rest, err := e.runPipeline(ctx, req, script, rec)
		res.Tables, res.Rows = tables, rows
		if err != nil {
			return undo(err)
		}
		var stmts []statement
		for _, j := range rest {
			stmts = append(stmts, j.stmts...)
		}
		if err := e.finishObjects(ctx, x, source, target, stmts, script); err != nil {
			return undo(err)
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
	if err := e.finishObjects(ctx, x, source, target, script.postData, script); err != nil {
		return undo(err)
	}
	res.Issues = rec.all()
	return res, nil
}

// createObjects is step 1. It returns whether it created the schema and,
// if not, the objects of the schema that existed before (kept on undo).
func (e *Engine) createObjects(ctx context.Context, x *executor, req engine.RestoreRequest, s *restoreScript,
	plan engine.RestorePlan, conflicts []conflict, res *engine.RestoreResult) (created bool, keep map[objectID]bool, meta *schemaMeta, err error) {
	source, target := req.SourceSchema, targetOf(req)
	tx, err := x.conn.Begin(ctx)
	if err != nil {
		return false, nil, nil, fmt.Errorf("begin restore transaction: %w", err)
	}
	defer func() {
		if err != nil {
			rctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			_ = tx.Rollback(rctx)
			cancel()
		}
	}()
	if err := runPreamble(ctx, x, s.preData); err != nil {
		return false, nil, nil, err
	}
	for _, role := range plan.MissingRoles {
		if err := x.must(ctx, "ROLE "+role, "CREATE ROLE "+quoteIdent(role)+" NOLOGIN"); err != nil {
			return false, nil, nil, err
		}
		res.RolesCreated = append(res.RolesCreated, role)
	}
	if !plan.SchemaExists {
		if err := x.must(ctx, "SCHEMA "+target, "CREATE SCHEMA "+quoteIdent(target)); err != nil {
			return false, nil, nil, err
		}
		created = true
	}
	r := newRenamer(source, target)
	if err := r.enter(ctx, x, tx); err != nil {
		return false, nil, nil, err
	}
	if len(conflicts) > 0 {
		if err := dropConflicts(ctx, x, source, conflicts, res); err != nil {
			return false, nil, nil, err
		}
	}
	if !created {
		if keep, err = schemaObjects(ctx, tx, source); err != nil {
			return false, nil, nil, err
		}
		if meta, err = readSchemaMeta(ctx, tx, source); err != nil {
			return false, nil, nil, err
		}
	}
	if err := runStatements(ctx, x, s.preData, source); err != nil {
		return false, nil, nil, err
	}
	if err := r.leave(ctx, x); err != nil {
		return false, nil, nil, err
	}
	if err := tx.Commit(ctx); err != nil {
		return false, nil, nil, failure(ctx, "SCHEMA "+target, "COMMIT", err)
	}
	return created, keep, meta, nil
}

// dropConflicts drops the conflicting relations (named under the source
// name, inside the renamer) in one statement, so that foreign keys between
// them do not matter; dependents go only when the plan allowed it (--clean).
func dropConflicts(ctx context.Context, x *executor, schema string, conflicts []conflict, res *engine.RestoreResult) error {
	byKind := map[string][]string{}
	cascade := false
	for _, c := range conflicts {
		kind := map[string]string{"r": "TABLE", "p": "TABLE", "v": "VIEW", "m": "MATERIALIZED VIEW",
			"S": "SEQUENCE", "f": "FOREIGN TABLE", "c": "TYPE"}[c.relkind]
		byKind[kind] = append(byKind[kind], quoteIdent(schema, c.name))
		res.Dropped = append(res.Dropped, c.Table)
		if len(c.Dependents) > 0 {
			cascade = true
			res.Dropped = append(res.Dropped, c.Dependents...)
		}
	}
	for _, kind := range []string{"VIEW", "MATERIALIZED VIEW", "TABLE", "FOREIGN TABLE", "SEQUENCE", "TYPE"} {
		names := byKind[kind]
		if len(names) == 0 {
			continue
		}
		sql := "DROP " + kind + " IF EXISTS " + joinMax(names, len(names))
		if cascade {
			sql += " CASCADE"
		}
		if err := x.must(ctx, kind+" "+joinMax(names, 5), sql); err != nil {
			return err
		}
	}
	return nil
}

// finishObjects is step 3 (or its serial part): post, then the sequences
// and materialized views, in one transaction.
func (e *Engine) finishObjects(ctx context.Context, x *executor, source, target string, post []statement, s *restoreScript) (err error) {
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
	if err := runStatements(ctx, x, post, source); err != nil {
		return err
	}
	if err := r.leave(ctx, x); err != nil {
		return err
	}
	done("statements", len(post))
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
