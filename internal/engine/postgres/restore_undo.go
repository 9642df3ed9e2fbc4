package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// objectID identifies a catalog object; OIDs survive schema renames.
type objectID struct {
	classid, objid uint32
}

// schemaObjectsSQL lists the droppable objects of a schema: relations
// (indexes and toast go with their tables), functions, types that are not
// a table's row type, an array or a multirange, collations, operators,
// statistics objects, text search objects and conversions.
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
	UNION ALL SELECT 'pg_catalog.pg_operator'::regclass, oid FROM pg_catalog.pg_operator WHERE oprnamespace = $1
	UNION ALL SELECT 'pg_catalog.pg_statistic_ext'::regclass, oid FROM pg_catalog.pg_statistic_ext WHERE stxnamespace = $1
	UNION ALL SELECT 'pg_catalog.pg_ts_config'::regclass, oid FROM pg_catalog.pg_ts_config WHERE cfgnamespace = $1
	UNION ALL SELECT 'pg_catalog.pg_ts_dict'::regclass, oid FROM pg_catalog.pg_ts_dict WHERE dictnamespace = $1
	UNION ALL SELECT 'pg_catalog.pg_conversion'::regclass, oid FROM pg_catalog.pg_conversion WHERE connamespace = $1
) o, LATERAL pg_catalog.pg_identify_object(o.classid, o.objid, 0) i
WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = o.classid AND d.objid = o.objid AND d.deptype = 'e')`

type schemaObject struct {
	id             objectID
	kind, identity string
}

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

// schemaObjects returns the identities of the schema's objects.
func schemaObjects(ctx context.Context, q querier, schema string) (map[objectID]bool, error) {
	objs, err := listSchemaObjects(ctx, q, schema)
	if err != nil {
		return nil, err
	}
	keep := make(map[objectID]bool, len(objs))
	for _, o := range objs {
		keep[o.id] = true
	}
	return keep, nil
}

// schemaMeta is what pre-data may change on an existing schema: its
// owner, comment and privileges.
type schemaMeta struct {
	owner   string
	comment *string
	grants  []schemaGrant
}

type schemaGrant struct {
	grantee   string // "" = PUBLIC
	privilege string
	grantable bool
}

const schemaMetaSQL = `SELECT pg_catalog.pg_get_userbyid(n.nspowner), pg_catalog.obj_description(n.oid, 'pg_namespace'),
	COALESCE((SELECT array_agg(CASE WHEN a.grantee = 0 THEN '' ELSE pg_catalog.pg_get_userbyid(a.grantee) END
		|| '/' || a.privilege_type || '/' || a.is_grantable::text ORDER BY 1)
	FROM pg_catalog.aclexplode(COALESCE(n.nspacl, pg_catalog.acldefault('n', n.nspowner))) a), '{}')
FROM pg_catalog.pg_namespace n WHERE n.nspname = $1`

func readSchemaMeta(ctx context.Context, q querier, schema string) (*schemaMeta, error) {
	m := &schemaMeta{}
	var items []string
	if err := q.QueryRow(ctx, schemaMetaSQL, schema).Scan(&m.owner, &m.comment, &items); err != nil {
		return nil, fmt.Errorf("read owner and privileges of schema %q: %w", schema, err)
	}
	for _, it := range items {
		// grantee/privilege/grantable; a role name may hold '/', the rest not.
		i := strings.LastIndexByte(it, '/')
		j := strings.LastIndexByte(it[:i], '/')
		m.grants = append(m.grants, schemaGrant{grantee: it[:j], privilege: it[j+1 : i], grantable: it[i+1:] == "true"})
	}
	return m, nil
}

// restoreSchemaMeta puts back the owner, comment and privileges of an
// existing schema.
func restoreSchemaMeta(ctx context.Context, tx pgx.Tx, schema string, m *schemaMeta) error {
	q := quoteIdent(schema)
	stmts := []string{"ALTER SCHEMA " + q + " OWNER TO " + quoteIdent(m.owner)}
	if m.comment == nil {
		stmts = append(stmts, "COMMENT ON SCHEMA "+q+" IS NULL")
	} else {
		stmts = append(stmts, "COMMENT ON SCHEMA "+q+" IS "+quoteLiteral(*m.comment))
	}
	now, err := readSchemaMeta(ctx, tx, schema)
	if err != nil {
		return err
	}
	grantee := func(g string) string {
		if g == "" {
			return "PUBLIC"
		}
		return quoteIdent(g)
	}
	for _, g := range now.grants {
		stmts = append(stmts, "REVOKE ALL ON SCHEMA "+q+" FROM "+grantee(g.grantee)+" CASCADE")
	}
	for _, g := range m.grants {
		sql := "GRANT " + g.privilege + " ON SCHEMA " + q + " TO " + grantee(g.grantee)
		if g.grantable {
			sql += " WITH GRANT OPTION"
		}
		stmts = append(stmts, sql)
	}
	for _, sql := range stmts {
		if _, err := tx.Exec(ctx, sql); err != nil {
			return fmt.Errorf("restore privileges of schema %q: %w", schema, err)
		}
	}
	return nil
}

// dropCreated undoes step 1 after a later failure: it drops the schema
// when the restore created it, else every object of the schema that is not
// in keep. Relations go first (CASCADE takes their sequences, indexes and
// constraints), then the rest; an object already gone is skipped.
func dropCreated(ctx context.Context, conn *pgx.Conn, schema string, created bool, keep map[objectID]bool, meta *schemaMeta) error {
	if created {
		_, err := conn.PgConn().Exec(ctx, "DROP SCHEMA IF EXISTS "+quoteIdent(schema)+" CASCADE").ReadAll()
		return err
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	objs, err := listSchemaObjects(ctx, tx, schema)
	if err != nil {
		return err
	}
	var first, rest []schemaObject
	for _, o := range objs {
		if keep[o.id] {
			continue
		}
		if o.id.classid == oidPgClass {
			first = append(first, o)
		} else {
			rest = append(rest, o)
		}
	}
	for _, o := range append(first, rest...) {
		kind := strings.ToUpper(o.kind)
		if kind == "TYPE" {
			var domain bool
			if err := tx.QueryRow(ctx, "SELECT typtype = 'd' FROM pg_catalog.pg_type WHERE oid = $1", o.id.objid).Scan(&domain); err == pgx.ErrNoRows {
				continue
			} else if err != nil {
				return err
			}
			if domain {
				kind = "DOMAIN"
			}
		}
		if _, err := tx.Exec(ctx, "SAVEPOINT undo"); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "DROP "+kind+" IF EXISTS "+o.identity+" CASCADE")
		if err != nil {
			if _, rerr := tx.Exec(ctx, "ROLLBACK TO SAVEPOINT undo"); rerr != nil {
				return rerr
			}
		}
	}
	if meta != nil {
		if err := restoreSchemaMeta(ctx, tx, schema, meta); err != nil {
			return err
		}
	}
	return tx.Commit(ctx)
}

// oidPgClass is pg_class's own OID (fixed in every PostgreSQL version).
const oidPgClass = 1259
