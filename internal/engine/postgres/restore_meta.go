package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// schemaMeta is what pre-data may change on an existing schema: its
// owner, comment and privileges, and the default privileges given in it.
type schemaMeta struct {
	owner      string
	comment    *string
	grants     []schemaGrant
	defaultACL map[string]string // "role/objtype" -> pg_default_acl.defaclacl as text
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
	acl, err := readDefaultACL(ctx, q, schema)
	if err != nil {
		return nil, err
	}
	m.defaultACL = acl
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
	return restoreDefaultACL(ctx, tx, schema, m.defaultACL)
}

// readDefaultACL reads the default privileges given IN SCHEMA schema
// (ALTER DEFAULT PRIVILEGES ... IN SCHEMA, pg_dump's DEFAULT ACL entries).
func readDefaultACL(ctx context.Context, q querier, schema string) (map[string]string, error) {
	rows, err := q.Query(ctx, `SELECT pg_catalog.pg_get_userbyid(d.defaclrole) || '/' || d.defaclobjtype::text, d.defaclacl::text
		FROM pg_catalog.pg_default_acl d JOIN pg_catalog.pg_namespace n ON n.oid = d.defaclnamespace WHERE n.nspname = $1`, schema)
	if err != nil {
		return nil, fmt.Errorf("read default privileges in schema %q: %w", schema, err)
	}
	acl := map[string]string{}
	var key, value string
	_, err = pgx.ForEachRow(rows, []any{&key, &value}, func() error {
		acl[key] = value
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read default privileges in schema %q: %w", schema, err)
	}
	return acl, nil
}

// defaultACLObjects names pg_default_acl.defaclobjtype in ALTER DEFAULT
// PRIVILEGES.
var defaultACLObjects = map[string]string{"r": "TABLES", "S": "SEQUENCES", "f": "FUNCTIONS", "T": "TYPES"}

// restoreDefaultACL puts back the default privileges given in schema: every
// entry that differs from want is revoked from each of its grantees, then
// want's grants are made again.
func restoreDefaultACL(ctx context.Context, tx pgx.Tx, schema string, want map[string]string) error {
	now, err := readDefaultACL(ctx, tx, schema)
	if err != nil {
		return err
	}
	type item struct{ grantee, privilege, grantable string }
	explode := func(acl string) ([]item, error) {
		rows, err := tx.Query(ctx, `SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(a.grantee)) END,
			a.privilege_type, a.is_grantable::text FROM pg_catalog.aclexplode($1::text::pg_catalog.aclitem[]) a ORDER BY 1, 2`, acl)
		if err != nil {
			return nil, err
		}
		return pgx.CollectRows(rows, func(row pgx.CollectableRow) (item, error) {
			var it item
			err := row.Scan(&it.grantee, &it.privilege, &it.grantable)
			return it, err
		})
	}
	alter := func(key string) (string, string) {
		i := strings.LastIndexByte(key, '/')
		return "ALTER DEFAULT PRIVILEGES FOR ROLE " + quoteIdent(key[:i]) + " IN SCHEMA " + quoteIdent(schema), defaultACLObjects[key[i+1:]]
	}
	var stmts []string
	for key, acl := range now {
		if want[key] == acl {
			continue
		}
		items, err := explode(acl)
		if err != nil {
			return fmt.Errorf("read default privileges in schema %q: %w", schema, err)
		}
		prefix, objects := alter(key)
		for _, it := range items {
			stmts = append(stmts, prefix+" REVOKE ALL ON "+objects+" FROM "+it.grantee)
		}
	}
	for key, acl := range want {
		if now[key] == acl {
			continue
		}
		items, err := explode(acl)
		if err != nil {
			return fmt.Errorf("read default privileges in schema %q: %w", schema, err)
		}
		prefix, objects := alter(key)
		for _, it := range items {
			sql := prefix + " GRANT " + it.privilege + " ON " + objects + " TO " + it.grantee
			if it.grantable == "true" {
				sql += " WITH GRANT OPTION"
			}
			stmts = append(stmts, sql)
		}
	}
	for _, sql := range stmts {
		if _, err := tx.Exec(ctx, sql); err != nil {
			return fmt.Errorf("restore default privileges in schema %q: %w", schema, err)
		}
	}
	return nil
}
