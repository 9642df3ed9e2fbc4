package pgtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// RunbookCopyIn restores an archive into dsn the way the runbook (README,
// SPEC section 5) says, with the real commands, in a fresh folder under
// dir: gunzip, tar xf, then from inside DatabaseBackup/
// `psql -X -v ON_ERROR_STOP=1 -d DB -f copy.in > output.txt 2>&1`. It
// returns psql's exit code and output.txt; err is for the steps before.
func RunbookCopyIn(ctx context.Context, archive, dsn, dir string) (code int, output string, err error) {
	psql, err := Bin("psql")
	if err != nil {
		return 0, "", err
	}
	work, err := os.MkdirTemp(dir, "runbook-")
	if err != nil {
		return 0, "", err
	}
	b, err := os.ReadFile(archive)
	if err != nil {
		return 0, "", err
	}
	name := filepath.Base(archive)
	if err := os.WriteFile(filepath.Join(work, name), b, 0o600); err != nil {
		return 0, "", err
	}
	const script = `set -e
gunzip "$ARCHIVE"
tar xf "${ARCHIVE%.gz}"
cd DatabaseBackup
set +e
"$PSQL" -X -v ON_ERROR_STOP=1 -d "$DSN" -f copy.in > output.txt 2>&1`
	cmd := exec.CommandContext(ctx, "bash", "-c", script)
	cmd.Dir = work
	cmd.Env = cleanEnv("ARCHIVE="+name, "PSQL="+psql, "DSN="+dsn)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		return 0, "", fmt.Errorf("runbook: %w: %s", err, out)
	}
	o, err := os.ReadFile(filepath.Join(work, "DatabaseBackup", "output.txt"))
	if err != nil {
		return 0, "", fmt.Errorf("runbook: %w: %s", err, out)
	}
	return code, string(o), nil
}
