package postgres

import (
	"context"
	"fmt"
	"sort"

	"github.com/hubble/hubble-applianceapi/internal/engine"
	"github.com/jackc/pgx/v5"
)

var _ engine.Restorer = (*Engine)(nil)

// querier is a connection or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// conflict is a relation of the target that the archive also defines.
type conflict struct {
	engine.RestoreConflict
	oid     uint32
	relkind string
	name    string // unquoted
}

// PlanRestore inspects the extracted archive and the target; it changes
// nothing (it reads the catalogs and checks whether conflicting tables hold
// rows).
func (e *Engine) PlanRestore(ctx context.Context, req engine.RestoreRequest) (engine.RestorePlan, error) {
	conn, err := e.connect(ctx)
	if err != nil {
		return engine.RestorePlan{}, err
	}
	defer closeConn(conn)
	tools, err := e.tools(ctx, conn)
	if err != nil {
		return engine.RestorePlan{}, err
	}
	script, err := e.loadScript(ctx, tools, req.Dir)
	if err != nil {
		return engine.RestorePlan{}, err
	}
	dead, running, err := e.peekJournal(ctx, conn, req)
	if err != nil {
		return engine.RestorePlan{}, err
	}
	plan, conflicts, err := e.plan(ctx, conn, req, script)
	plan.RunningPID = running
	if err != nil || dead == nil {
		return plan, err
	}
	if plan.DeadRestore, err = undoDead(ctx, conn, dead, false, e.cfg.LockTimeout); err != nil {
		return plan, err
	}
	// What the dead restore created is no conflict: it goes first.
	ours := map[uint32]bool{}
	for _, o := range dead.Created {
		if o.ClassID == oidPgClass {
			ours[o.ObjID] = true
		}
	}
	plan.Conflicts = nil
	for _, c := range conflicts {
		if !ours[c.oid] || plan.DeadRestore.Finished {
			plan.Conflicts = append(plan.Conflicts, c.RestoreConflict)
		}
	}
	return plan, nil
}

func targetOf(req engine.RestoreRequest) string {
	if req.TargetSchema != "" {
		return req.TargetSchema
	}
	return req.SourceSchema
}

// plan finds the conflicts, the missing roles and the functions whose
// bodies name the source schema.
func (e *Engine) plan(ctx context.Context, q querier, req engine.RestoreRequest, s *restoreScript) (engine.RestorePlan, []conflict, error) {
	target := targetOf(req)
	p := engine.RestorePlan{TargetSchema: target}
	err := q.QueryRow(ctx, `SELECT current_database(), EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1)`, target).
		Scan(&p.Database, &p.SchemaExists)
	if err != nil {
		return p, nil, fmt.Errorf("inspect target schema %q: %w", target, err)
	}

	var conflicts []conflict
	if p.SchemaExists {
		if conflicts, err = findConflicts(ctx, q, target, archiveRelations(req, s), req.Clean); err != nil {
			return p, nil, err
		}
	}
	for _, c := range conflicts {
		p.Conflicts = append(p.Conflicts, c.RestoreConflict)
	}
	if p.MissingObjects, err = missingRequirements(ctx, q, s.requires); err != nil {
		return p, nil, err
	}
	p.ObjectsChecked = s.requires != nil

	// Roles that own or are granted the archive's objects.
	roleSet := map[string]bool{}
	for _, list := range [][]tocEntry{s.preData.Entries, s.postData.Entries} {
		for _, e := range list {
			if e.Owner != "" {
				roleSet[e.Owner] = true
			}
			for _, r := range rolesNamed(e.SQL) {
				roleSet[r] = true
			}
		}
	}
	roles := make([]string, 0, len(roleSet))
	for r := range roleSet {
		roles = append(roles, r)
	}
	sort.Strings(roles)
	rows, err := q.Query(ctx, `SELECT r FROM unnest($1::text[]) AS r
		WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = r) ORDER BY 1`, roles)
	if err != nil {
		return p, nil, fmt.Errorf("look up roles: %w", err)
	}
	if p.MissingRoles, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		return p, nil, fmt.Errorf("look up roles: %w", err)
	}

	if target != req.SourceSchema {
		for _, e := range s.preData.Entries {
			switch e.Type {
			case "FUNCTION", "PROCEDURE", "AGGREGATE":
				if namesSchema(e.SQL, req.SourceSchema) {
					p.FunctionsNamingSchema = append(p.FunctionsNamingSchema, e.Type+" "+target+"."+e.Name)
				}
			}
		}
	}
	return p, conflicts, nil
}

// archiveRelations names the archive's tables: every data file's table,
// and from the DDL the tables without a file (partitioned parents).
func archiveRelations(req engine.RestoreRequest, s *restoreScript) map[string]bool {
	names := map[string]bool{}
	for _, t := range req.Tables {
		names[t.Name] = true
	}
	for _, e := range s.preData.Entries {
		if e.Type == "TABLE" && e.Schema == req.SourceSchema {
			names[e.Name] = true
		}
	}
	return names
}

// findConflicts looks up each of names among the relations of schema.
func findConflicts(ctx context.Context, q querier, schema string, names map[string]bool, clean bool) ([]conflict, error) {
	list := make([]string, 0, len(names))
	for n := range names {
		list = append(list, n)
	}
	var conflicts []conflict
	rows, err := q.Query(ctx, `SELECT c.oid, c.relname, c.relkind::text FROM pg_catalog.pg_class c
		JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relname = ANY ($2::text[]) AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f', 'c')
		ORDER BY c.relname`, schema, list)
	if err != nil {
		return nil, fmt.Errorf("look up conflicting tables in schema %q: %w", schema, err)
	}
	conflicts, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (conflict, error) {
		var c conflict
		err := row.Scan(&c.oid, &c.name, &c.relkind)
		c.Table = quoteIdent(schema, c.name)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("look up conflicting tables in schema %q: %w", schema, err)
	}
	ours := map[uint32]bool{}
	for _, c := range conflicts {
		ours[c.oid] = true
	}
	for i := range conflicts {
		c := &conflicts[i]
		if c.relkind == "r" || c.relkind == "p" {
			if err := q.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM "+c.Table+")").Scan(&c.Rows); err != nil {
				return nil, fmt.Errorf("check whether %s holds rows: %w", c.Table, err)
			}
		}
		if c.Dependents, err = dependents(ctx, q, c.oid, ours); err != nil {
			return nil, err
		}
		c.Blocking = !clean
		switch {
		case c.relkind != "r" && c.relkind != "p":
			c.Action = "exists as another kind of relation: "
		case c.Rows:
			c.Action = "holds rows: "
		case len(c.Dependents) > 0:
			c.Action = "empty but depended on: "
		default:
			c.Action = "empty: dropped and recreated"
			c.Blocking = false
			continue
		}
		if clean {
			c.Action += "replaced (--clean)"
		} else {
			c.Action += "the restore stops before any change (--clean replaces it)"
		}
	}
	return conflicts, nil
}

// dependents describes the objects that depend on relation oid, other than
// its own parts and the other conflicting relations (dropped together).
func dependents(ctx context.Context, q querier, oid uint32, ours map[uint32]bool) ([]string, error) {
	rows, err := q.Query(ctx, `SELECT DISTINCT i.type || ' ' || i.identity, x.rel FROM (
		SELECT CASE WHEN d.classid = 'pg_catalog.pg_rewrite'::regclass THEN 'pg_catalog.pg_class'::regclass ELSE d.classid END AS classid,
			COALESCE(r.ev_class, d.objid) AS objid,
			COALESCE(r.ev_class, con.conrelid, tg.tgrelid,
				CASE WHEN d.classid = 'pg_catalog.pg_class'::regclass THEN d.objid END, 0::oid) AS rel
		FROM pg_catalog.pg_depend d
		LEFT JOIN pg_catalog.pg_rewrite r ON d.classid = 'pg_catalog.pg_rewrite'::regclass AND r.oid = d.objid
		LEFT JOIN pg_catalog.pg_constraint con ON d.classid = 'pg_catalog.pg_constraint'::regclass AND con.oid = d.objid
		LEFT JOIN pg_catalog.pg_trigger tg ON d.classid = 'pg_catalog.pg_trigger'::regclass AND tg.oid = d.objid
		WHERE d.refclassid = 'pg_catalog.pg_class'::regclass AND d.refobjid = $1 AND d.deptype = 'n') x,
		LATERAL pg_catalog.pg_identify_object(x.classid, x.objid, 0) i
		ORDER BY 1`, oid)
	if err != nil {
		return nil, fmt.Errorf("look up dependents: %w", err)
	}
	var out []string
	var desc string
	var rel uint32
	_, err = pgx.ForEachRow(rows, []any{&desc, &rel}, func() error {
		if rel != oid && !ours[rel] {
			out = append(out, desc)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("look up dependents: %w", err)
	}
	return out, nil
}
