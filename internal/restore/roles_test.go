package restore_test

import (
	"strings"
	"testing"

	"github.com/hubble/hubble-applianceapi/internal/pgtest"
)

// Roles the archive's objects name that the target cluster lacks are
// created NOLOGIN and listed in the summary.
func TestRestorer_Run_CreatesMissingRoles(t *testing.T) {
	src := pgtest.NewDB(t)
	if err := pgtest.CreateHubble(testCtx(t), src, pgtest.HubbleOptions{Rows: 50}); err != nil {
		t.Fatal(err)
	}
	role := uniqueRole("gone_reader_")
	owner := uniqueRole("gone_owner_")
	mustExec(t, src, `CREATE ROLE `+role+` NOLOGIN; CREATE ROLE `+owner+` NOLOGIN;
		GRANT SELECT ON hubble.gl_budget TO `+role+`; ALTER TABLE hubble.bs_generic OWNER TO `+owner)
	want := stateOf(t, src, "hubble")
	arch := makeArchive(t, src, "hubble", false)
	// The roles disappear from the cluster before the restore.
	mustExec(t, src, `DROP SCHEMA hubble CASCADE; DROP OWNED BY `+role+`, `+owner+`; DROP ROLE `+role+`; DROP ROLE `+owner)

	dst := erpDB(t)
	f := newFixture(t, dst, arch)
	res, err := f.run(t)
	if err != nil {
		t.Fatalf("Run() error = %v", err)
	}
	for _, r := range []string{role, owner} {
		if !strings.Contains(strings.Join(res.Database.RolesCreated, " "), r) || !strings.Contains(f.out.String(), r) {
			t.Errorf("role %s not reported as created", r)
		}
		if mustQueryInt(t, dst, "SELECT count(*) FROM pg_roles WHERE rolname = '"+r+"' AND NOT rolcanlogin") != 1 {
			t.Errorf("role %s not created NOLOGIN", r)
		}
	}
	assertSame(t, want, stateOf(t, dst, "hubble"))
}
