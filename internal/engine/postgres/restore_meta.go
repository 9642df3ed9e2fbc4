package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// schemaMeta is what pre-data may change on an existing schema: its
// owner, comment and privileges. (Default privileges given IN SCHEMA are
// post-data: step 3's transaction commits them last, or never.)
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
