package postgres

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestBuiltOn(t *testing.T) {
	tests := []struct {
		sql, want string
	}{
		{`CREATE INDEX gl_budget_idx ON hubble.gl_budget USING btree (account_code, period)`, "hubble.gl_budget"},
		{`CREATE UNIQUE INDEX "On" ON ONLY hubble."GlBudget" USING btree ("Id")`, "hubble.GlBudget"},
		{`ALTER TABLE ONLY hubble.gl_budget ADD CONSTRAINT gl_budget_pkey PRIMARY KEY (id)`, "hubble.gl_budget"},
		{`ALTER TABLE hubble."a b" ADD CONSTRAINT c CHECK ((x > 0)) NOT VALID`, "hubble.a b"},
		{`ALTER TABLE ONLY hubble.t CLUSTER ON t_idx`, ""},
		{`ALTER TABLE IF EXISTS hubble.t ADD CONSTRAINT c UNIQUE (x)`, ""},
		{`ALTER INDEX hubble.p_idx ATTACH PARTITION hubble.c_idx`, ""},
		{`CREATE INDEX i ON t USING btree (x)`, ""},
		{`CREATE TRIGGER trg AFTER INSERT ON hubble.t FOR EACH ROW EXECUTE FUNCTION hubble.f()`, ""},
	}
	for _, tt := range tests {
		if got := builtOn(tt.sql); got != tt.want {
			t.Errorf("builtOn(%q) = %q, want %q", tt.sql, got, tt.want)
		}
	}
}

func TestSplitPostData(t *testing.T) {
	e := func(name, typ, sql string) tocEntry {
		return tocEntry{Name: name, Type: typ, Schema: "hubble", SQL: sql}
	}
	entries := []tocEntry{
		e("t t_pkey", "CONSTRAINT", "ALTER TABLE ONLY hubble.t\n    ADD CONSTRAINT t_pkey PRIMARY KEY (id);"),
		e("t_idx", "INDEX", "CREATE INDEX t_idx ON hubble.t USING btree (x);\n\n\nALTER TABLE hubble.t CLUSTER ON t_idx;"),
		e("c_idx", "INDEX ATTACH", "ALTER INDEX hubble.p_idx ATTACH PARTITION hubble.c_idx;"),
		e("u u_t_fkey", "FK CONSTRAINT", "ALTER TABLE ONLY hubble.u\n    ADD CONSTRAINT u_t_fkey FOREIGN KEY (t_id) REFERENCES hubble.t(id);"),
		e("t trg", "TRIGGER", "CREATE TRIGGER trg AFTER INSERT ON hubble.t FOR EACH ROW EXECUTE FUNCTION hubble.f();"),
	}
	type job struct {
		Name  string
		Kind  jobKind
		Table string
	}
	var got []job
	for _, j := range splitPostData(entries) {
		got = append(got, job{j.entries[0].Name, j.kind, j.table})
	}
	want := []job{
		{"t t_pkey", jobBuild, "hubble.t"},
		{"t_idx", jobBuild, "hubble.t"},
		{"c_idx", jobAttach, ""},
		{"u u_t_fkey", jobForeignKey, ""},
		{"t trg", jobRest, ""},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("splitPostData (-want +got):\n%s", diff)
	}
}
