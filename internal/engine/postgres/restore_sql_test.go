package postgres

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRolesNamed(t *testing.T) {
	tests := []struct {
		sql  string
		want []string
	}{
		{`ALTER TABLE s.t OWNER TO "Weird Owner"`, []string{"Weird Owner"}},
		{`GRANT SELECT(id, name) ON TABLE s.emp TO app, "Reader"`, []string{"app", "Reader"}},
		{`GRANT ALL ON SCHEMA s TO PUBLIC`, nil},
		{`REVOKE ALL ON FUNCTION s.f() FROM PUBLIC`, nil},
		{`REVOKE SELECT ON TABLE s.t FROM olduser`, []string{"olduser"}},
		{`GRANT SELECT ON TABLE s.t TO app WITH GRANT OPTION`, []string{"app"}},
		{`ALTER DEFAULT PRIVILEGES FOR ROLE admin IN SCHEMA s GRANT SELECT ON TABLES TO app`, []string{"admin", "app"}},
		{`CREATE POLICY p ON s.t TO app USING (true)`, []string{"app"}},
		{`CREATE TABLE s.t (owner text, "to" text)`, nil},
		// One entry, several statements.
		{"REVOKE ALL ON TABLE s.t FROM PUBLIC;\nGRANT SELECT ON TABLE s.t TO app;\nGRANT ALL ON TABLE s.t TO \"Admin\";", []string{"app", "Admin"}},
		{"CREATE TABLE s.t (a text DEFAULT 'x;y');\n\nALTER TABLE s.t OWNER TO owner1;", []string{"owner1"}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, rolesNamed(tt.sql)); diff != "" {
			t.Errorf("rolesNamed(%q) (-want +got):\n%s", tt.sql, diff)
		}
	}
}

func TestNamesSchema(t *testing.T) {
	tests := []struct {
		sql  string
		want bool
	}{
		{"CREATE FUNCTION hubble.f() RETURNS int AS $$ SELECT count(*) FROM hubble.t $$", true},
		{"CREATE FUNCTION hubble.f() RETURNS int AS $$ SELECT count(*) FROM t $$", false},
		{"CREATE FUNCTION hubble.f() RETURNS int AS $$ SELECT count(*) FROM myhubble.t $$", false},
		{`CREATE FUNCTION hubble.f() RETURNS int SET search_path = 'x' AS $$ SELECT 1 FROM "hubble".t $$`, true},
	}
	for _, tt := range tests {
		if got := namesSchema(tt.sql, "hubble"); got != tt.want {
			t.Errorf("namesSchema(%q) = %v, want %v", tt.sql, got, tt.want)
		}
	}
}

func TestParseCopyLine(t *testing.T) {
	file, cols, err := parseCopyLine(`\copy "we.ird""s"."t (x)" ("a", "b""c", "d, e") FROM 't__x_.we_ird_s'`)
	if err != nil {
		t.Fatal(err)
	}
	if file != "t__x_.we_ird_s" || !cmp.Equal(cols, []string{"a", `b"c`, "d, e"}) {
		t.Errorf("got %q %q", file, cols)
	}
	if _, _, err := parseCopyLine(`\copy x FROM 'y'`); err == nil {
		t.Error("malformed line accepted")
	}
	// A table without columns: no column list (COPY t () is a syntax error).
	file, cols, err = parseCopyLine(`\copy "s"."no cols" FROM 'no_cols.s'`)
	if err != nil || file != "no_cols.s" || cols == nil || len(cols) != 0 {
		t.Errorf("parseCopyLine(no columns) = %q, %q, %v", file, cols, err)
	}
	v, err := parseSetval(`SELECT pg_catalog.setval('"s"."it''s seq"', 123455, true);`)
	if err != nil || v.Name != "it's seq" || v.LastValue != 123455 || !v.IsCalled {
		t.Errorf("parseSetval = %+v, %v", v, err)
	}
}

func TestScramVerifier(t *testing.T) {
	v, err := scramVerifier("pencil")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(v, "SCRAM-SHA-256$4096:") || strings.Contains(v, "pencil") || strings.Count(v, "$") != 2 {
		t.Errorf("verifier %q", v)
	}
}
