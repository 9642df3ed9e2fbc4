package pgtest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
)

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func queryInt(t *testing.T, ctx context.Context, dsn, sql string) int64 {
	t.Helper()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int64
	if err := conn.QueryRow(ctx, sql).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func TestNewDB(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	var first, second string
	t.Run("create", func(t *testing.T) {
		first, second = NewDB(t), NewDB(t)
		if first == second {
			t.Fatalf("NewDB returned the same DSN twice: %s", first)
		}
		for _, dsn := range []string{first, second} {
			if err := Exec(ctx, dsn, "CREATE TABLE x (i int)"); err != nil {
				t.Fatal(err)
			}
		}
	})
	for _, dsn := range []string{first, second} {
		name := dsn[strings.LastIndex(dsn, "/")+1 : strings.Index(dsn, "?")]
		if n := queryInt(t, ctx, ServerDSN(), "SELECT count(*) FROM pg_database WHERE datname = '"+name+"'"); n != 0 {
			t.Errorf("database %s still exists after its test ended", name)
		}
	}
}

func TestWithDatabase(t *testing.T) {
	tests := []struct{ dsn, db, want string }{
		{"postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "t_1", "postgres://postgres@127.0.0.1:5432/t_1?sslmode=disable"},
		{"postgresql://u:p@h/x", "y", "postgresql://u:p@h/y"},
		{"host=h user=u", "it's", `host=h user=u dbname='it\'s'`},
	}
	for _, tt := range tests {
		got, err := WithDatabase(tt.dsn, tt.db)
		if err != nil || got != tt.want {
			t.Errorf("WithDatabase(%q, %q) = %q, %v; want %q", tt.dsn, tt.db, got, err, tt.want)
		}
	}
}

func TestNormalizeDDL(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"comments and restrict", "--\n-- PostgreSQL database dump\n--\n\\restrict abc\n\nSET x = 1;\n\\unrestrict abc\n", "SET x = 1;\n"},
		{"blank runs", "A;\n\n\n\nB;\n\n", "A;\n\nB;\n"},
		{"keeps inline dashes", "SELECT 1 -- no\n", "SELECT 1 -- no\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, NormalizeDDL(tt.in)); diff != "" {
				t.Errorf("NormalizeDDL mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCreateHubble(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	a, b := NewDB(t), NewDB(t)
	for _, dsn := range []string{a, b} {
		if err := CreateHubble(ctx, dsn, HubbleOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	tables, err := Tables(ctx, a, "hubble")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"gl_budget", "ap_budget", "is_generic", "isbpayroll", "activity", "activity_log",
		"activity_detail", "activity_history", "activity_status", "GlBudget", "budget lines", "select", "bücher", `we.ird"name`, "nasty_data", "long_text"} {
		if !contains(tables, want) {
			t.Errorf("table %q missing from %v", want, tables)
		}
	}
	if erp, _ := Tables(ctx, a, "erp"); !cmp.Equal(erp, []string{"gl_account"}) {
		t.Errorf("erp tables = %v", erp)
	}

	// Deterministic: two databases get the same contents and DDL, which
	// round-trip tests comparing source and target rely on.
	ha, err := TableHashes(ctx, a, "hubble")
	if err != nil {
		t.Fatal(err)
	}
	hb, _ := TableHashes(ctx, b, "hubble")
	if diff := cmp.Diff(ha, hb); diff != "" {
		t.Errorf("table hashes differ between two generations (-a +b):\n%s", diff)
	}
	if !strings.HasPrefix(ha["gl_budget"], "2000:") {
		t.Errorf("gl_budget hash %q, want 2000 rows", ha["gl_budget"])
	}
	da, err := SchemaDDL(ctx, a, "hubble")
	if err != nil {
		t.Fatal(err)
	}
	db, _ := SchemaDDL(ctx, b, "hubble")
	if diff := cmp.Diff(da, db); diff != "" {
		t.Errorf("DDL differs between two generations (-a +b):\n%s", diff)
	}
	for _, want := range []string{`CREATE TABLE hubble."GlBudget"`, `CREATE MATERIALIZED VIEW hubble.mv_budget_totals`,
		`CREATE TRIGGER gl_budget_set_updated_at`, `GRANT SELECT ON TABLE hubble.gl_budget TO hubble_reader`, "erp.gl_account"} {
		if !strings.Contains(da, want) {
			t.Errorf("DDL lacks %q", want)
		}
	}
	if strings.Contains(da, "\n--") || strings.Contains(da, `\restrict`) || strings.Contains(da, "\n\n\n") {
		t.Errorf("DDL not normalised")
	}

	seqs, err := SequenceValues(ctx, a, "hubble")
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"doc_number_seq": "123455/true", "unused_seq": "50/false", "gl_budget_id_seq": "2000/true"} {
		if seqs[name] != want {
			t.Errorf("sequence %s = %q, want %q", name, seqs[name], want)
		}
	}

	checks := map[string]int64{
		"SELECT length(b) FROM hubble.nasty_data WHERE id = 20":                    256,
		"SELECT length(body) FROM hubble.long_text WHERE id = 1":                   1 << 20,
		"SELECT count(*) FROM hubble.nasty_data WHERE t = '' AND id = 8":           1,
		"SELECT count(*) FROM hubble.nasty_data WHERE t = '\\N'":                   1,
		"SELECT count(*) FROM hubble.v_gl_budget_named WHERE account_name IS NULL": 2000 * 20 / 320,
		"SELECT sum(lines) FROM hubble.mv_budget_totals":                           2000,
	}
	for sql, want := range checks {
		if got := queryInt(t, ctx, a, sql); got != want {
			t.Errorf("%s = %d, want %d", sql, got, want)
		}
	}
}

func TestCreateHubble_otherSchema(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	dsn := NewDB(t)
	if err := CreateHubble(ctx, dsn, HubbleOptions{Schema: `Odd "Schema"`, Rows: 100}); err != nil {
		t.Fatal(err)
	}
	h, err := TableHash(ctx, dsn, QuoteQualified(`Odd "Schema"`, "gl_budget"))
	if err != nil || !strings.HasPrefix(h, "100:") {
		t.Errorf("TableHash = %q, %v; want 100 rows", h, err)
	}
	if _, err := SchemaDDL(ctx, dsn, `Odd "Schema"`); err != nil {
		t.Error(err)
	}
}

func TestCreateActivityTables(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	dsn := NewDB(t)
	if err := CreateActivityTables(ctx, dsn, "hubble"); err != nil {
		t.Fatal(err)
	}
	got, err := Tables(ctx, dsn, "hubble")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ActivityTables, got); diff != "" {
		t.Errorf("tables (-want +got):\n%s", diff)
	}
	if n := queryInt(t, ctx, dsn, "SELECT count(*) FROM hubble.activity_log"); n != 0 {
		t.Errorf("activity_log has %d rows, want 0", n)
	}
}

func TestCreateObjectRich(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	dsn := NewDB(t)
	if err := CreateObjectRich(ctx, dsn, "rich"); err != nil {
		t.Fatal(err)
	}
	checks := map[string]int64{
		"SELECT count(*) FROM rich.measurements_2023":                                121,
		"SELECT count(*) FROM rich.measurements_2024":                                122,
		"SELECT count(*) FROM rich.measurements_other":                               157,
		"SELECT count(*) FROM ONLY rich.cities":                                      3,
		"SELECT count(*) FROM rich.capitals":                                         2,
		"SELECT count(*) FROM rich.items_audit":                                      60,
		"SELECT last_value FROM rich.ticket_seq":                                     777,
		"SELECT count(*) FROM rich.v_items_expensive":                                queryInt(t, ctx, dsn, "SELECT count(*) FROM rich.items WHERE total > 100"),
		"SELECT sum(n) FROM rich.mv_measurements_monthly":                            400,
		"SELECT count(*) FROM rich.v_accounts":                                       queryInt(t, ctx, dsn, "SELECT count(*) FROM erp.gl_account WHERE active"),
		"SELECT count(*) FROM pg_inherits WHERE inhparent = 'rich.cities'::regclass": 1,
	}
	for sql, want := range checks {
		if got := queryInt(t, ctx, dsn, sql); got != want {
			t.Errorf("%s = %d, want %d", sql, got, want)
		}
	}
	ddl, err := SchemaDDL(ctx, dsn, "rich")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"PARTITION BY RANGE", "INHERITS (rich.cities)", "CREATE TYPE rich.mood AS ENUM",
		"CREATE DOMAIN rich.positive_amount", "GENERATED ALWAYS AS (((price)::numeric * (qty)::numeric)) STORED", "GENERATED ALWAYS AS IDENTITY",
		"EXCLUDE USING gist", "DEFERRABLE INITIALLY DEFERRED", "ALTER SEQUENCE rich.ticket_seq OWNED BY rich.tickets.id",
		"GRANT SELECT(id) ON TABLE rich.emp TO hubble_app", "COMMENT ON SCHEMA rich"} {
		if !strings.Contains(ddl, want) {
			t.Errorf("DDL lacks %q", want)
		}
	}
}

func TestStartCluster_persistent(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	// Not t.TempDir: its parent is private to root, and the server runs as postgres.
	base, err := os.MkdirTemp("", "pgtest-persistent-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(base) })
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(base, "pg")
	c, err := StartCluster(ctx, dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Stop(context.Background()) })
	if err := Exec(ctx, c.DSN("postgres"), "CREATE TABLE kept (i int)"); err != nil {
		t.Fatal(err)
	}
	again, err := StartCluster(ctx, dir, 0)
	if err != nil || again.Port != c.Port {
		t.Fatalf("second StartCluster = %+v, %v; want the running cluster on port %d", again, err, c.Port)
	}
	opened, err := OpenCluster(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := opened.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if c.Running(ctx) {
		t.Fatal("cluster still running after Stop")
	}
	// Restart on the same port keeps the data; the directory survives Stop.
	c, err = StartCluster(ctx, dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	if c.Port != opened.Port {
		t.Errorf("restart port %d, want %d", c.Port, opened.Port)
	}
	if err := Exec(ctx, c.DSN("postgres"), "SELECT * FROM kept"); err != nil {
		t.Error(err)
	}
	if err := c.Stop(ctx); err != nil {
		t.Fatal(err)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
