package restore_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/hubble/hubble-applianceapi/internal/pgtest"
)

// runbookCopyIn restores an archive into dsn the way the runbook (README,
// SPEC section 5) says, with the real commands: gunzip, tar xvf, then
// psql -f copy.in from inside DatabaseBackup/ with its output in
// output.txt. It returns psql's exit code and output.txt.
func runbookCopyIn(t *testing.T, arch, dsn string) (int, string) {
	t.Helper()
	psql, err := pgtest.Bin("psql")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	b, err := os.ReadFile(arch)
	if err != nil {
		t.Fatal(err)
	}
	name := filepath.Base(arch)
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
		t.Fatal(err)
	}
	script := `set -e
gunzip "$ARCHIVE" && tar xf "${ARCHIVE%.gz}"
cd DatabaseBackup
set +e
"$PSQL" -X -v ON_ERROR_STOP=1 -d "$DSN" -f copy.in > output.txt 2>&1
code=$?
exit $code`
	cmd := exec.CommandContext(testCtx(t), "bash", "-c", script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "ARCHIVE="+name, "PSQL="+psql, "DSN="+dsn)
	out, err := cmd.CombinedOutput()
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("runbook: %v\n%s", err, out)
	}
	output, rerr := os.ReadFile(filepath.Join(dir, "DatabaseBackup", "output.txt"))
	if rerr != nil {
		t.Fatalf("runbook: %v\n%s", rerr, out)
	}
	return code, string(output)
}
