package pgtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"net/url"
	"os/exec"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// QuoteIdent quotes one SQL identifier ("select" -> "\"select\"").
func QuoteIdent(name string) string { return pgx.Identifier{name}.Sanitize() }

// QuoteQualified returns the quoted, schema-qualified name of a relation.
func QuoteQualified(schema, name string) string { return pgx.Identifier{schema, name}.Sanitize() }

// Exec runs sql (one or more statements, simple protocol) on dsn.
func Exec(ctx context.Context, dsn, sql string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, sql); err != nil {
		return fmt.Errorf("exec %s: %w", abbrev(sql), err)
	}
	return nil
}

// Tables returns the unquoted names of the ordinary and partitioned tables
// (partitions included) of schema, sorted.
func Tables(ctx context.Context, dsn, schema string) ([]string, error) {
	return queryStrings(ctx, dsn, `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relkind IN ('r','p') ORDER BY c.relname COLLATE "C"`, schema)
}

// TableHash returns "<rows>:<sha256>" of a table's contents independent of
// physical row order: the sorted md5 of every row's text form. qualifiedTable
// is SQL (quote it with QuoteQualified). Rows of child tables and partitions
// are included, as a plain SELECT sees them. It streams, so big tables are fine.
func TableHash(ctx context.Context, dsn, qualifiedTable string) (string, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return "", fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, `SELECT md5(ROW(r.*)::text) FROM `+qualifiedTable+` AS r ORDER BY 1`)
	if err != nil {
		return "", fmt.Errorf("hash %s: %w", qualifiedTable, err)
	}
	h := sha256.New()
	var n int64
	var row string
	_, err = pgx.ForEachRow(rows, []any{&row}, func() error {
		n++
		h.Write([]byte(row))
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("hash %s: %w", qualifiedTable, err)
	}
	return fmt.Sprintf("%d:%x", n, h.Sum(nil)), nil
}

// TableHashes returns TableHash of every table of schema, keyed by unquoted name.
func TableHashes(ctx context.Context, dsn, schema string) (map[string]string, error) {
	tables, err := Tables(ctx, dsn, schema)
	if err != nil {
		return nil, err
	}
	m := make(map[string]string, len(tables))
	for _, t := range tables {
		if m[t], err = TableHash(ctx, dsn, QuoteQualified(schema, t)); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// SequenceValues returns "last_value/is_called" of every sequence of schema,
// keyed by unquoted name.
func SequenceValues(ctx context.Context, dsn, schema string) (map[string]string, error) {
	names, err := queryStrings(ctx, dsn, `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relkind = 'S' ORDER BY 1`, schema)
	if err != nil {
		return nil, err
	}
	m := make(map[string]string, len(names))
	for _, s := range names {
		v, err := queryStrings(ctx, dsn, `SELECT last_value::text || '/' || is_called::text FROM `+QuoteQualified(schema, s))
		if err != nil {
			return nil, err
		}
		m[s] = v[0]
	}
	return m, nil
}

// SchemaDDL returns `pg_dump --schema-only -n '"schema"'` of dsn, normalised
// for comparing two schemas: comment lines ("--") and pg_dump's
// \restrict/\unrestrict lines (random key) removed, blank-line runs collapsed.
// The password, if any, travels in PGPASSWORD, never on the command line.
func SchemaDDL(ctx context.Context, dsn, schema string) (string, error) {
	pgDump, err := Bin("pg_dump")
	if err != nil {
		return "", err
	}
	connArg, env, err := clientConn(dsn)
	if err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, pgDump, "--schema-only", "--no-sync",
		"-n", `"`+strings.ReplaceAll(schema, `"`, `""`)+`"`, "-d", connArg)
	cmd.Env = cleanEnv(env...)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("pg_dump schema %s: %w: %s", schema, err, strings.TrimSpace(stderr.String()))
	}
	return NormalizeDDL(out.String()), nil
}

// NormalizeDDL applies SchemaDDL's normalisation to pg_dump output.
func NormalizeDDL(ddl string) string {
	var b strings.Builder
	blank := true // drops leading blank lines too
	for _, line := range strings.Split(ddl, "\n") {
		switch {
		case strings.HasPrefix(line, "--"), strings.HasPrefix(line, `\restrict`), strings.HasPrefix(line, `\unrestrict`):
			continue
		case strings.TrimSpace(line) == "":
			if blank {
				continue
			}
			blank = true
		default:
			blank = false
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	return strings.TrimRight(b.String(), "\n") + "\n"
}

// clientConn turns dsn into a -d argument without the password and the
// environment that carries the password.
func clientConn(dsn string) (string, []string, error) {
	cfg, err := pgconn.ParseConfig(dsn)
	if err != nil {
		return "", nil, fmt.Errorf("parse dsn: %w", err)
	}
	var env []string
	if cfg.Password != "" {
		env = append(env, "PGPASSWORD="+cfg.Password)
	}
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", nil, fmt.Errorf("parse dsn: %w", err)
		}
		if u.User != nil {
			u.User = url.User(u.User.Username())
		}
		return u.String(), env, nil
	}
	// Keyword/value form: rebuild it from the parsed fields.
	conn := fmt.Sprintf("host='%s' port=%d user='%s' dbname='%s'", cfg.Host, cfg.Port, cfg.User, cfg.Database)
	if cfg.TLSConfig == nil {
		conn += " sslmode=disable"
	}
	return conn, env, nil
}

func queryStrings(ctx context.Context, dsn, sql string, args ...any) ([]string, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("query %s: %w", abbrev(sql), err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("query %s: %w", abbrev(sql), err)
	}
	return out, nil
}

func abbrev(sql string) string {
	sql = strings.Join(strings.Fields(sql), " ")
	if len(sql) > 80 {
		return sql[:77] + "..."
	}
	return sql
}
