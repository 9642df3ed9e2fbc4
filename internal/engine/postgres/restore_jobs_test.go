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
	sql := `SET statement_timeout = 0;
--
-- Name: t t_pkey; Type: CONSTRAINT; Schema: hubble; Owner: postgres
--
ALTER TABLE ONLY hubble.t ADD CONSTRAINT t_pkey PRIMARY KEY (id);
--
-- Name: t_idx; Type: INDEX; Schema: hubble; Owner: postgres
--
CREATE INDEX t_idx ON hubble.t USING btree (x);
ALTER TABLE hubble.t CLUSTER ON t_idx;
--
-- Name: c_idx; Type: INDEX ATTACH; Schema: hubble; Owner: postgres
--
ALTER INDEX hubble.p_idx ATTACH PARTITION hubble.c_idx;
--
-- Name: u u_t_fkey; Type: FK CONSTRAINT; Schema: hubble; Owner: postgres
--
ALTER TABLE ONLY hubble.u ADD CONSTRAINT u_t_fkey FOREIGN KEY (t_id) REFERENCES hubble.t(id);
--
-- Name: t trg; Type: TRIGGER; Schema: hubble; Owner: postgres
--
CREATE TRIGGER trg AFTER INSERT ON hubble.t FOR EACH ROW EXECUTE FUNCTION hubble.f();
`
	type job struct {
		Name  string
		Kind  jobKind
		Table string
		Stmts int
	}
	var got []job
	for _, j := range splitPostData(splitSQL(sql)) {
		got = append(got, job{j.entry.Name, j.kind, j.table, len(j.stmts)})
	}
	want := []job{
		{"t t_pkey", jobBuild, "hubble.t", 1},
		{"t_idx", jobBuild, "hubble.t", 2},
		{"c_idx", jobRest, "", 1},
		{"u u_t_fkey", jobForeignKey, "", 1},
		{"t trg", jobRest, "", 1},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("splitPostData (-want +got):\n%s", diff)
	}
}
