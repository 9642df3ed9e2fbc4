package pgtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"os/exec"
	"regexp"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Schema is what a schema holds, taken so that two databases can be
// compared object by object, whatever the order or the OIDs: each object's
// definition as pg_dump writes it (owner, grants, comments, policies,
// reloptions, table access method and tablespace included), every table's
// rows, every sequence's state, every materialized view's state and rows.
type Schema struct {
	Name      string
	Objects   map[string]string // "TYPE schema.name" -> pg_dump's SQL for it
	Rows      map[string]string // table -> "<rows>:<sha256 of the sorted row hashes>"
	Sequences map[string]string // sequence -> "last_value/is_called"
	Matviews  map[string]string // materialized view -> "not populated" or its rows' hash
	Kinds     map[string]int    // objects by pg_dump's type (TABLE, INDEX, ACL, ...)
}

// Difference is one way two Schemas differ.
type Difference struct {
	Name           string // "TABLE public.t: definition", "TABLE public.t: rows", ...
	Source, Target string // what each side holds ("" = absent)
}

// TakeSchema reads schema of dsn.
func TakeSchema(ctx context.Context, dsn, schema string) (*Schema, error) {
	s := &Schema{Name: schema, Rows: map[string]string{}, Sequences: map[string]string{}, Matviews: map[string]string{}}
	var err error
	if s.Objects, s.Kinds, err = dumpObjects(ctx, dsn, schema); err != nil {
		return nil, err
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, `SELECT c.relname, c.relkind::text, c.relispopulated FROM pg_catalog.pg_class c
		JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relkind IN ('r', 'm', 'S') ORDER BY 1`, schema)
	if err != nil {
		return nil, fmt.Errorf("list relations of %s: %w", schema, err)
	}
	type rel struct {
		name, kind string
		populated  bool
	}
	rels, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (rel, error) {
		var r rel
		err := row.Scan(&r.name, &r.kind, &r.populated)
		return r, err
	})
	if err != nil {
		return nil, fmt.Errorf("list relations of %s: %w", schema, err)
	}
	for _, r := range rels {
		q := QuoteQualified(schema, r.name)
		switch {
		case r.kind == "S":
			var last int64
			var called bool
			if err := conn.QueryRow(ctx, "SELECT last_value, is_called FROM "+q).Scan(&last, &called); err != nil {
				return nil, fmt.Errorf("read sequence %s: %w", q, err)
			}
			s.Sequences[r.name] = fmt.Sprintf("%d/%t", last, called)
		case r.kind == "m" && !r.populated:
			s.Matviews[r.name] = "not populated"
		case r.kind == "m":
			s.Matviews[r.name] = rowsHash(ctx, conn, q)
		default:
			// ONLY: an inheritance parent's own rows; its children are tables too.
			s.Rows[r.name] = rowsHash(ctx, conn, "ONLY "+q)
		}
	}
	return s, nil
}

// rowsHash is "<rows>:<sha256>" of a relation's rows, independent of their
// physical order; a relation that cannot be read gives its error (then the
// same error on both sides compares equal).
func rowsHash(ctx context.Context, conn *pgx.Conn, from string) string {
	rows, err := conn.Query(ctx, "SELECT md5(ROW(r.*)::text) FROM "+from+" AS r ORDER BY 1")
	if err != nil {
		return "error: " + err.Error()
	}
	h := sha256.New()
	var n int64
	var row string
	if _, err := pgx.ForEachRow(rows, []any{&row}, func() error {
		n++
		h.Write([]byte(row))
		return nil
	}); err != nil {
		return "error: " + err.Error()
	}
	return fmt.Sprintf("%d:%x", n, h.Sum(nil))
}

var (
	dumpHeader = regexp.MustCompile(`^-- (?:Data for )?Name: (.*); Type: ([A-Z][A-Z ]*); Schema: (.*); Owner: (.*?)(?:; Tablespace: (.*))?$`)
	dumpState  = regexp.MustCompile(`^SET (default_tablespace|default_table_access_method) = (.*);$`)
)

// dumpObjects splits pg_dump --schema-only -n schema at its per-object
// headers. pg_dump selects a table's access method and tablespace with SET
// lines when they change: each table, materialized view, index and
// constraint is given the values in force for it.
func dumpObjects(ctx context.Context, dsn, schema string) (map[string]string, map[string]int, error) {
	pgDump, err := Bin("pg_dump")
	if err != nil {
		return nil, nil, err
	}
	connArg, env, err := clientConn(dsn)
	if err != nil {
		return nil, nil, err
	}
	cmd := exec.CommandContext(ctx, pgDump, "--schema-only", "-n", `"`+strings.ReplaceAll(schema, `"`, `""`)+`"`, "-d", connArg)
	cmd.Env = cleanEnv(env...)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return nil, nil, fmt.Errorf("pg_dump schema %s: %w: %s", schema, err, strings.TrimSpace(stderr.String()))
	}
	objects, kinds := map[string]string{}, map[string]int{}
	state := map[string]string{}
	key := ""
	var text []string
	flush := func() {
		if key == "" {
			return
		}
		body := strings.TrimSpace(strings.Join(text, "\n"))
		if prev, ok := objects[key]; ok { // same header twice: keep both, in a stable order
			parts := []string{prev, body}
			sort.Strings(parts)
			body = strings.Join(parts, "\n----\n")
		}
		objects[key] = body
	}
	for _, line := range strings.Split(out.String(), "\n") {
		if m := dumpHeader.FindStringSubmatch(line); m != nil {
			flush()
			name, typ, sch, owner, ts := m[1], m[2], m[3], m[4], m[5]
			kinds[typ]++
			key = typ + " " + name
			if sch != "-" {
				key = typ + " " + sch + "." + name
			}
			text = []string{"-- owner " + owner}
			if ts != "" {
				text = append(text, "-- tablespace "+ts)
			}
			switch typ {
			case "TABLE", "MATERIALIZED VIEW":
				text = append(text, "-- access method "+state["default_table_access_method"])
				fallthrough
			case "INDEX", "CONSTRAINT":
				text = append(text, "-- default tablespace "+state["default_tablespace"])
			}
			continue
		}
		if m := dumpState.FindStringSubmatch(line); m != nil {
			state[m[1]] = m[2]
			continue
		}
		if strings.HasPrefix(line, "--") || strings.HasPrefix(line, `\`) || strings.TrimSpace(line) == "" {
			continue
		}
		text = append(text, line)
	}
	flush()
	return objects, kinds, nil
}

// Compare lists how target differs from s, by name, sorted.
func (s *Schema) Compare(target *Schema) []Difference {
	var out []Difference
	cmp := func(what string, a, b map[string]string, name func(string) string) {
		keys := map[string]bool{}
		for k := range a {
			keys[k] = true
		}
		for k := range b {
			keys[k] = true
		}
		for k := range keys {
			if a[k] != b[k] {
				out = append(out, Difference{Name: name(k) + what, Source: a[k], Target: b[k]})
			}
		}
	}
	kind := func(kind string) func(string) string {
		return func(k string) string { return kind + " " + s.Name + "." + k }
	}
	cmp(": definition", s.Objects, target.Objects, func(k string) string { return k })
	cmp(": rows", s.Rows, target.Rows, kind("TABLE"))
	cmp(": value", s.Sequences, target.Sequences, kind("SEQUENCE"))
	cmp(": contents", s.Matviews, target.Matviews, kind("MATERIALIZED VIEW"))
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
