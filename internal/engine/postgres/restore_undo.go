package postgres

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// The undo after a failed restore brings the target back to what it held
// before: it drops every object of the schema the restore created (the
// whole schema when the restore created it), moves the conflicting tables
// it had set aside back, puts back the schema's owner, comment and
// privileges, and drops the roles it created. It then lists the schema
// again: whatever is still there that was not before is reported by name,
// never passed over.

// objectID identifies a catalog object; OIDs survive schema renames.
type objectID struct {
	classid, objid uint32
}

// schemaObjectsSQL lists every object that lives in a schema, except the
// parts of another (indexes, constraints, triggers, rules, policies and
// defaults go with their table or type; a table's row type, array types
// and multiranges with theirs) and members of extensions.
const schemaObjectsSQL = `SELECT o.classid, o.objid, i.type, i.identity
FROM (
	SELECT 'pg_catalog.pg_class'::regclass::oid AS classid, c.oid AS objid FROM pg_catalog.pg_class c
		WHERE c.relnamespace = $1 AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
	UNION ALL SELECT 'pg_catalog.pg_proc'::regclass, p.oid FROM pg_catalog.pg_proc p WHERE p.pronamespace = $1
	UNION ALL SELECT 'pg_catalog.pg_type'::regclass, t.oid FROM pg_catalog.pg_type t
		WHERE t.typnamespace = $1 AND t.typtype IN ('b', 'c', 'd', 'e', 'r', 'p')
		AND (t.typrelid = 0 OR (SELECT c.relkind FROM pg_catalog.pg_class c WHERE c.oid = t.typrelid) = 'c')
		AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_type e WHERE e.typarray = t.oid)
	UNION ALL SELECT 'pg_catalog.pg_collation'::regclass, oid FROM pg_catalog.pg_collation WHERE collnamespace = $1
	UNION ALL SELECT 'pg_catalog.pg_conversion'::regclass, oid FROM pg_catalog.pg_conversion WHERE connamespace = $1
	UNION ALL SELECT 'pg_catalog.pg_operator'::regclass, oid FROM pg_catalog.pg_operator WHERE oprnamespace = $1
	UNION ALL SELECT 'pg_catalog.pg_opclass'::regclass, oid FROM pg_catalog.pg_opclass WHERE opcnamespace = $1
	UNION ALL SELECT 'pg_catalog.pg_opfamily'::regclass, oid FROM pg_catalog.pg_opfamily WHERE opfnamespace = $1
	UNION ALL SELECT 'pg_catalog.pg_statistic_ext'::regclass, oid FROM pg_catalog.pg_statistic_ext WHERE stxnamespace = $1
	UNION ALL SELECT 'pg_catalog.pg_ts_config'::regclass, oid FROM pg_catalog.pg_ts_config WHERE cfgnamespace = $1
	UNION ALL SELECT 'pg_catalog.pg_ts_dict'::regclass, oid FROM pg_catalog.pg_ts_dict WHERE dictnamespace = $1
	UNION ALL SELECT 'pg_catalog.pg_ts_parser'::regclass, oid FROM pg_catalog.pg_ts_parser WHERE prsnamespace = $1
	UNION ALL SELECT 'pg_catalog.pg_ts_template'::regclass, oid FROM pg_catalog.pg_ts_template WHERE tmplnamespace = $1
) o, LATERAL pg_catalog.pg_identify_object(o.classid, o.objid, 0) i
WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = o.classid AND d.objid = o.objid AND d.deptype = 'e')`

type schemaObject struct {
	id             objectID
	kind, identity string
}

func (o schemaObject) String() string { return o.kind + " " + o.identity }

func listSchemaObjects(ctx context.Context, q querier, schema string) ([]schemaObject, error) {
	var nsp uint32
	if err := q.QueryRow(ctx, "SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = $1", schema).Scan(&nsp); err != nil {
		return nil, fmt.Errorf("look up schema %q: %w", schema, err)
	}
	rows, err := q.Query(ctx, schemaObjectsSQL, nsp)
	if err != nil {
		return nil, fmt.Errorf("list objects of schema %q: %w", schema, err)
	}
	objs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (schemaObject, error) {
		var o schemaObject
		err := row.Scan(&o.id.classid, &o.id.objid, &o.kind, &o.identity)
		return o, err
	})
	if err != nil {
		return nil, fmt.Errorf("list objects of schema %q: %w", schema, err)
	}
	return objs, nil
}

// targetState is what an existing target schema held before the restore.
type targetState struct {
	keep map[objectID]bool
	meta *schemaMeta
}

// readTargetState reads it; nil when the schema does not exist.
func readTargetState(ctx context.Context, q querier, schema string, exists bool) (*targetState, error) {
	if !exists {
		return nil, nil
	}
	objs, err := listSchemaObjects(ctx, q, schema)
	if err != nil {
		return nil, err
	}
	st := &targetState{keep: make(map[objectID]bool, len(objs))}
	for _, o := range objs {
		st.keep[o.id] = true
	}
	if st.meta, err = readSchemaMeta(ctx, q, schema); err != nil {
		return nil, err
	}
	return st, nil
}

// dropKeyword is the DROP command for each kind pg_identify_object names,
// taking its identity as is. Aggregates go with DROP ROUTINE, which also
// accepts the "f()" identity of an aggregate over (*).
var dropKeyword = map[string]string{
	"table": "TABLE", "view": "VIEW", "materialized view": "MATERIALIZED VIEW", "sequence": "SEQUENCE",
	"foreign table": "FOREIGN TABLE", "function": "ROUTINE", "procedure": "ROUTINE", "aggregate": "ROUTINE",
	"type": "TYPE", "collation": "COLLATION", "conversion": "CONVERSION", "operator": "OPERATOR",
	"operator class": "OPERATOR CLASS", "operator family": "OPERATOR FAMILY", "statistics object": "STATISTICS",
	"text search configuration": "TEXT SEARCH CONFIGURATION", "text search dictionary": "TEXT SEARCH DICTIONARY",
	"text search parser": "TEXT SEARCH PARSER", "text search template": "TEXT SEARCH TEMPLATE",
}

// undoPlan is what the undo needs to know, filled in as the restore goes.
type undoPlan struct {
	schema  string       // the target schema
	before  *targetState // nil: the restore created the schema
	hold    string       // schema holding the conflicting relations set aside, "" if none
	held    []conflict   // the relations set aside
	roles   []string     // roles the restore created
	changed bool         // step 1 committed (or an entry ended its transaction)
	// lockTimeout bounds each wait for a lock: an object another session
	// holds is reported, not waited for.
	lockTimeout time.Duration
	journal     *restoreJournal // nil: none

	rolesLeft []string // filled in: the created roles the undo could not drop
}

// undoRestore brings the target back. It returns the objects it could not
// remove (or put back), by name.
func undoRestore(ctx context.Context, conn *pgx.Conn, u *undoPlan) (notUndone []string, err error) {
	if err := execConn(ctx, conn, fmt.Sprintf("SET lock_timeout = %d", u.lockTimeout.Milliseconds())); err != nil {
		return nil, err
	}
	if u.before == nil {
		if err := execConn(ctx, conn, "DROP SCHEMA IF EXISTS "+quoteIdent(u.schema)+" CASCADE"); err != nil {
			notUndone = append(notUndone, "schema "+u.schema+": "+reasonOf(err))
		}
	} else {
		if notUndone, err = undoInSchema(ctx, conn, u); err != nil {
			return notUndone, err
		}
	}
	for _, role := range u.roles {
		if err := execConn(ctx, conn, "DROP ROLE IF EXISTS "+quoteIdent(role)); err != nil {
			notUndone = append(notUndone, "role "+role+": "+reasonOf(err))
			u.rolesLeft = append(u.rolesLeft, role)
		}
	}
	return notUndone, nil
}

// undoInSchema drops what the restore created in an existing schema and
// puts back what it set aside, in one transaction.
func undoInSchema(ctx context.Context, conn *pgx.Conn, u *undoPlan) ([]string, error) {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	objs, err := listSchemaObjects(ctx, tx, u.schema)
	if err != nil {
		return nil, err
	}
	var created []schemaObject
	for _, o := range objs {
		if !u.before.keep[o.id] {
			created = append(created, o)
		}
	}
	failed, err := dropCreated(ctx, tx, created)
	if err != nil {
		return nil, err
	}
	var other []string // failures not about one object of the schema
	// The relations set aside go back under their names.
	for _, c := range u.held {
		kw := relkindKeyword[c.relkind]
		sql := "ALTER " + kw + " " + quoteIdent(u.hold, c.name) + " SET SCHEMA " + quoteIdent(u.schema)
		if err := savepoint(ctx, tx, sql); err != nil {
			failed[objectID{oidPgClass, c.oid}] = "could not be put back from schema " + u.hold + ": " + reasonOf(err)
		}
	}
	if u.hold != "" {
		if err := savepoint(ctx, tx, "DROP SCHEMA IF EXISTS "+quoteIdent(u.hold)); err != nil {
			other = append(other, "schema "+u.hold+" (held the tables set aside): "+reasonOf(err))
		}
	}
	if err := restoreSchemaMeta(ctx, tx, u.schema, u.before.meta); err != nil {
		return nil, err
	}
	// What is still there that was not before, or is missing.
	now, err := listSchemaObjects(ctx, tx, u.schema)
	if err != nil {
		return nil, err
	}
	notUndone := other
	present := map[objectID]bool{}
	for _, o := range now {
		present[o.id] = true
		if !u.before.keep[o.id] {
			reason := failed[o.id]
			if reason == "" {
				reason = "still present"
			}
			notUndone = append(notUndone, o.String()+": "+reason)
		}
	}
	for _, c := range u.held {
		if !present[objectID{oidPgClass, c.oid}] {
			notUndone = append(notUndone, c.Table+": "+failed[objectID{oidPgClass, c.oid}])
		}
	}
	return notUndone, tx.Commit(ctx)
}

// dropCreated drops objects a restore created, each under a savepoint of
// tx; it returns the reasons of those it could not drop.
func dropCreated(ctx context.Context, tx pgx.Tx, created []schemaObject) (map[objectID]string, error) {
	// Relations first (CASCADE takes their indexes, constraints, owned
	// sequences and dependent views), operator classes before families.
	rank := func(o schemaObject) int {
		switch {
		case o.id.classid == oidPgClass:
			return 0
		case o.kind == "operator class":
			return 1
		}
		return 2
	}
	created = append([]schemaObject(nil), created...)
	sort.SliceStable(created, func(i, j int) bool { return rank(created[i]) < rank(created[j]) })
	failed := map[objectID]string{}
	for _, o := range created {
		sql, err := dropSQL(ctx, tx, o, "CASCADE")
		switch {
		case errors.Is(err, errNoDrop):
			failed[o.id] = err.Error()
		case err != nil:
			return nil, err
		case sql != "":
			if err := savepoint(ctx, tx, sql); err != nil {
				failed[o.id] = reasonOf(err)
			}
		}
	}
	return failed, nil
}

var errNoDrop = errors.New("no DROP command known for this kind")

// dropSQL is the statement that drops o (with behavior CASCADE or
// RESTRICT), "" if it is gone already.
func dropSQL(ctx context.Context, tx pgx.Tx, o schemaObject, behavior string) (string, error) {
	kw, ok := dropKeyword[o.kind]
	if !ok {
		return "", errNoDrop
	}
	if kw == "TYPE" {
		var domain bool
		if err := tx.QueryRow(ctx, "SELECT typtype = 'd' FROM pg_catalog.pg_type WHERE oid = $1", o.id.objid).Scan(&domain); errors.Is(err, pgx.ErrNoRows) {
			return "", nil // gone with something dropped before
		} else if err != nil {
			return "", err
		}
		if domain {
			kw = "DOMAIN"
		}
	}
	return "DROP " + kw + " IF EXISTS " + o.identity + " " + behavior, nil
}

// dropOnly drops objects a restore created and nothing else: without
// CASCADE, an object another depends on goes once that one is gone (one of
// them too), in as many passes as they depend on one another; what is
// still depended on then (by an object that is not one of them) stays, its
// reason naming the dependent.
func dropOnly(ctx context.Context, tx pgx.Tx, objs []schemaObject) (map[objectID]string, error) {
	for {
		failed := map[objectID]string{}
		var next []schemaObject
		dropped := 0
		for _, o := range objs {
			sql, err := dropSQL(ctx, tx, o, "RESTRICT")
			switch {
			case errors.Is(err, errNoDrop):
				failed[o.id] = err.Error()
				continue
			case err != nil:
				return nil, err
			case sql == "":
				continue
			}
			if err := savepoint(ctx, tx, sql); err != nil {
				failed[o.id] = reasonOf(err)
				var pe *pgconn.PgError
				if errors.As(err, &pe) && pe.Detail != "" {
					failed[o.id] += " (" + strings.ReplaceAll(pe.Detail, "\n", "; ") + ")"
				}
				next = append(next, o)
				continue
			}
			dropped++
		}
		if len(next) == 0 || dropped == 0 {
			return failed, nil
		}
		objs = next
	}
}

// relkindKeyword names a relation kind in ALTER/DROP commands.
var relkindKeyword = map[string]string{"r": "TABLE", "p": "TABLE", "v": "VIEW", "m": "MATERIALIZED VIEW",
	"S": "SEQUENCE", "f": "FOREIGN TABLE", "c": "TYPE"}

// savepoint runs sql in tx under a savepoint: a failure undoes only it.
func savepoint(ctx context.Context, tx pgx.Tx, sql string) error {
	if _, err := tx.Exec(ctx, "SAVEPOINT hubble_undo"); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, sql); err != nil {
		if _, rerr := tx.Exec(ctx, "ROLLBACK TO SAVEPOINT hubble_undo"); rerr != nil {
			return errors.Join(err, rerr)
		}
		return err
	}
	return nil
}

func execConn(ctx context.Context, conn *pgx.Conn, sql string) error {
	_, err := conn.PgConn().Exec(ctx, sql).ReadAll()
	return err
}

// reasonOf is the server's message of err, else err's text.
func reasonOf(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Message
	}
	return strings.TrimSpace(err.Error())
}

// oidPgClass is pg_class's own OID (fixed in every PostgreSQL version).
const oidPgClass = 1259
