package restore_test

import (
	"testing"

	"github.com/hubble/hubble-applianceapi/internal/pgtest"
)

// runbookCopyIn runs the runbook's copy.in restore of arch into dsn and
// returns psql's exit code and output.txt.
func runbookCopyIn(t *testing.T, arch, dsn string) (int, string) {
	t.Helper()
	code, out, err := pgtest.RunbookCopyIn(testCtx(t), arch, dsn, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return code, out
}
