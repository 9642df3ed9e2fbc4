package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// A schema's objects may need objects outside it that a single-schema dump
// does not carry: a view reads a table the replication tasks create in
// another schema, a column has an extension's type, a table uses an access
// method or a tablespace. The backup lists them (from pg_depend, under the
// snapshot); copy.in checks them before any change and the restore plans
// with them, so a target that lacks one is told so up front, by name,
// instead of failing halfway.

// requirement is one such object as pg_identify_object_as_address names
// it: pg_get_object_address finds it again in the target.
type requirement struct {
	Type     string   `json:"type"`
	Names    []string `json:"names"`
	Args     []string `json:"args"`
	Identity string   `json:"identity"` // for messages: "table erp.gl_account"
}

// relation is the "schema.table" a column requirement belongs to ("" for
// others): when the table is missing, its columns are not named too.
func (r requirement) relation() string {
	if strings.HasSuffix(r.Type, " column") && len(r.Names) == 3 {
		return r.Names[0] + "\x1f" + r.Names[1]
	}
	return ""
}

func (r requirement) key() string { return strings.Join(r.Names, "\x1f") }

// requirementsSQL lists what the objects of schema $1 depend on outside it.
// "ours" is every object pg_dump -n dumps for the schema, with its parts;
// members of extensions are not ours (pg_dump leaves them out), and a
// dependency on one is a dependency on its extension. Objects created by
// initdb (OID below 16384) are everywhere and not listed. A column's table
// is listed before it.
const requirementsSQL = `WITH nsp AS (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = $1),
members AS (
	SELECT 'pg_catalog.pg_class'::regclass::oid AS classid, c.oid AS objid FROM pg_catalog.pg_class c, nsp WHERE c.relnamespace = nsp.oid
	UNION ALL SELECT 'pg_catalog.pg_proc'::regclass, p.oid FROM pg_catalog.pg_proc p, nsp WHERE p.pronamespace = nsp.oid
	UNION ALL SELECT 'pg_catalog.pg_type'::regclass, t.oid FROM pg_catalog.pg_type t, nsp WHERE t.typnamespace = nsp.oid
	UNION ALL SELECT 'pg_catalog.pg_collation'::regclass, x.oid FROM pg_catalog.pg_collation x, nsp WHERE x.collnamespace = nsp.oid
	UNION ALL SELECT 'pg_catalog.pg_conversion'::regclass, x.oid FROM pg_catalog.pg_conversion x, nsp WHERE x.connamespace = nsp.oid
	UNION ALL SELECT 'pg_catalog.pg_operator'::regclass, x.oid FROM pg_catalog.pg_operator x, nsp WHERE x.oprnamespace = nsp.oid
	UNION ALL SELECT 'pg_catalog.pg_opclass'::regclass, x.oid FROM pg_catalog.pg_opclass x, nsp WHERE x.opcnamespace = nsp.oid
	UNION ALL SELECT 'pg_catalog.pg_opfamily'::regclass, x.oid FROM pg_catalog.pg_opfamily x, nsp WHERE x.opfnamespace = nsp.oid
	UNION ALL SELECT 'pg_catalog.pg_statistic_ext'::regclass, x.oid FROM pg_catalog.pg_statistic_ext x, nsp WHERE x.stxnamespace = nsp.oid
	UNION ALL SELECT 'pg_catalog.pg_ts_config'::regclass, x.oid FROM pg_catalog.pg_ts_config x, nsp WHERE x.cfgnamespace = nsp.oid
	UNION ALL SELECT 'pg_catalog.pg_ts_dict'::regclass, x.oid FROM pg_catalog.pg_ts_dict x, nsp WHERE x.dictnamespace = nsp.oid
	UNION ALL SELECT 'pg_catalog.pg_ts_parser'::regclass, x.oid FROM pg_catalog.pg_ts_parser x, nsp WHERE x.prsnamespace = nsp.oid
	UNION ALL SELECT 'pg_catalog.pg_ts_template'::regclass, x.oid FROM pg_catalog.pg_ts_template x, nsp WHERE x.tmplnamespace = nsp.oid
	UNION ALL SELECT 'pg_catalog.pg_constraint'::regclass, x.oid FROM pg_catalog.pg_constraint x, nsp WHERE x.connamespace = nsp.oid
	UNION ALL SELECT 'pg_catalog.pg_attrdef'::regclass, a.oid FROM pg_catalog.pg_attrdef a JOIN pg_catalog.pg_class c ON c.oid = a.adrelid, nsp WHERE c.relnamespace = nsp.oid
	UNION ALL SELECT 'pg_catalog.pg_trigger'::regclass, t.oid FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid, nsp WHERE c.relnamespace = nsp.oid
	UNION ALL SELECT 'pg_catalog.pg_rewrite'::regclass, r.oid FROM pg_catalog.pg_rewrite r JOIN pg_catalog.pg_class c ON c.oid = r.ev_class, nsp WHERE c.relnamespace = nsp.oid
	UNION ALL SELECT 'pg_catalog.pg_policy'::regclass, p.oid FROM pg_catalog.pg_policy p JOIN pg_catalog.pg_class c ON c.oid = p.polrelid, nsp WHERE c.relnamespace = nsp.oid
	UNION ALL SELECT 'pg_catalog.pg_amop'::regclass, o.oid FROM pg_catalog.pg_amop o JOIN pg_catalog.pg_opfamily f ON f.oid = o.amopfamily, nsp WHERE f.opfnamespace = nsp.oid
	UNION ALL SELECT 'pg_catalog.pg_amproc'::regclass, o.oid FROM pg_catalog.pg_amproc o JOIN pg_catalog.pg_opfamily f ON f.oid = o.amprocfamily, nsp WHERE f.opfnamespace = nsp.oid
),
ours AS (
	SELECT m.* FROM members m WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend e
		WHERE e.classid = m.classid AND e.objid = m.objid AND e.deptype = 'e')
),
refs AS (
	SELECT d.refclassid AS classid, d.refobjid AS objid, d.refobjsubid AS objsubid
	FROM pg_catalog.pg_depend d JOIN ours o ON d.classid = o.classid AND d.objid = o.objid
	WHERE d.deptype IN ('n', 'a') AND d.refobjid >= 16384
		AND NOT EXISTS (SELECT 1 FROM ours o2 WHERE o2.classid = d.refclassid AND o2.objid = d.refobjid)
		AND NOT (d.refclassid = 'pg_catalog.pg_namespace'::regclass AND d.refobjid = (SELECT oid FROM nsp))
	UNION
	SELECT 'pg_catalog.pg_tablespace'::regclass, c.reltablespace, 0 FROM pg_catalog.pg_class c, nsp
	WHERE c.relnamespace = nsp.oid AND c.reltablespace <> 0
),
needed AS (
	SELECT DISTINCT COALESCE(x.refclassid, r.classid) AS classid, COALESCE(x.refobjid, r.objid) AS objid,
		CASE WHEN x.refobjid IS NULL THEN r.objsubid ELSE 0 END AS objsubid
	FROM (SELECT * FROM refs UNION SELECT classid, objid, 0 FROM refs) r LEFT JOIN LATERAL (SELECT e.refclassid, e.refobjid FROM pg_catalog.pg_depend e
		WHERE e.classid = r.classid AND e.objid = r.objid AND e.deptype = 'e' LIMIT 1) x ON true
)
SELECT a.type, a.object_names, a.object_args, i.type || ' ' || i.identity
FROM needed n, LATERAL pg_catalog.pg_identify_object_as_address(n.classid, n.objid, n.objsubid) a,
	LATERAL pg_catalog.pg_identify_object(n.classid, n.objid, n.objsubid) i
ORDER BY n.objsubid <> 0, 4`

// externalRequirements lists what schema's objects need outside it.
func externalRequirements(ctx context.Context, q querier, schema string) ([]requirement, error) {
	rows, err := q.Query(ctx, requirementsSQL, schema)
	if err != nil {
		return nil, fmt.Errorf("list objects outside schema %q that it needs: %w", schema, err)
	}
	reqs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (requirement, error) {
		var r requirement
		err := row.Scan(&r.Type, &r.Names, &r.Args, &r.Identity)
		return r, err
	})
	if err != nil {
		return nil, fmt.Errorf("list objects outside schema %q that it needs: %w", schema, err)
	}
	return reqs, nil
}

// missingRequirements names those of reqs the database q is connected to
// lacks (q must not be in a transaction: each failed look-up is an error).
// A column of a missing table is not named apart from its table.
func missingRequirements(ctx context.Context, q querier, reqs []requirement) ([]string, error) {
	gone := map[string]bool{}
	var missing []string
	for _, r := range reqs {
		if rel := r.relation(); rel != "" && gone[rel] {
			continue
		}
		var classid uint32
		err := q.QueryRow(ctx, "SELECT classid FROM pg_catalog.pg_get_object_address($1, $2, $3)", r.Type, r.Names, r.Args).Scan(&classid)
		var pe *pgconn.PgError
		switch {
		case err == nil:
		case errors.As(err, &pe):
			missing = append(missing, r.Identity)
			gone[r.key()] = true
		default:
			return nil, fmt.Errorf("look up %s: %w", r.Identity, err)
		}
	}
	return missing, nil
}

// requiresMarker heads copy.in's check of the requirements; the line after
// the marker that starts with "[" is their JSON list.
const requiresMarker = "-- Objects outside the schema that its objects need, checked before any change."

// writeRequiresCheck writes copy.in's check: a DO block that looks every
// requirement up and, if any is missing, fails naming them all (psql then
// stops, with ON_ERROR_STOP on, before anything was changed).
func writeRequiresCheck(b *strings.Builder, reqs []requirement) {
	if reqs == nil {
		reqs = []requirement{}
	}
	list, _ := json.Marshal(reqs)
	// The list sits in a dollar-quoted string: "$" is written as JSON's
	// \u0024, which json_to_recordset reads back as "$".
	literal := strings.ReplaceAll(string(list), "$", `\u0024`)
	b.WriteString(requiresMarker + "\n")
	b.WriteString(`-- On an appliance the replication tasks create most of them: re-run them first.
DO $hubble_requires$
DECLARE
	r record;
	missing text[] := '{}';
	gone text[] := '{}';
BEGIN
	FOR r IN SELECT * FROM pg_catalog.json_to_recordset($json$
` + literal + `
$json$::pg_catalog.json) AS x(type text, names text[], args text[], identity text) LOOP
		IF r.type LIKE '% column' AND pg_catalog.array_to_string(r.names[1:2], chr(31)) = ANY (gone) THEN
			CONTINUE;
		END IF;
		BEGIN
			PERFORM pg_catalog.pg_get_object_address(r.type, r.names, r.args);
		EXCEPTION WHEN OTHERS THEN
			missing := missing || r.identity;
			gone := gone || pg_catalog.array_to_string(r.names, chr(31));
		END;
	END LOOP;
	IF pg_catalog.cardinality(missing) > 0 THEN
		RAISE EXCEPTION 'the schema needs objects outside it that the database lacks: %',
			pg_catalog.array_to_string(missing, ', ')
			USING HINT = 'Nothing was changed. Create them first (on an appliance: re-run the replication tasks), then run copy.in again.';
	END IF;
END
$hubble_requires$;
`)
}

// parseRequires reads the list writeRequiresCheck wrote.
func parseRequires(line string) ([]requirement, error) {
	reqs := []requirement{}
	if err := json.Unmarshal([]byte(line), &reqs); err != nil {
		return nil, fmt.Errorf("read the objects outside the schema that it needs: %w", err)
	}
	return reqs, nil
}
