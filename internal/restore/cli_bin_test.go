package restore_test

import (
	"bytes"
	"errors"
	"fmt"
	"github.com/hubble/hubble-applianceapi/internal/ostest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hubble/hubble-applianceapi/internal/pgtest"
)

// builtBinary is the command, built once per test binary with tags.
type builtBinary struct {
	tags string
	once sync.Once
	dir  string
	path string
	err  error
}

var (
	plainBinary   = &builtBinary{}
	killingBuild  = &builtBinary{tags: "faultpoints"}
	builtBinaries = []*builtBinary{plainBinary, killingBuild}
)

func (b *builtBinary) get(t *testing.T) string {
	t.Helper()
	b.once.Do(func() {
		if b.dir, b.err = os.MkdirTemp("", "restore-cli-*"); b.err != nil {
			return
		}
		b.path = filepath.Join(b.dir, "hubble-applianceapi")
		args := []string{"build"}
		if b.tags != "" {
			args = append(args, "-tags", b.tags)
		}
		out, err := exec.Command("go", append(args, "-o", b.path, "../../cmd/hubble-applianceapi")...).CombinedOutput()
		if err != nil {
			b.err = fmt.Errorf("go build %s: %v\n%s", b.tags, err, out)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

// binary is the command as released.
func binary(t *testing.T) string { return plainBinary.get(t) }

func cleanupBinary() {
	for _, b := range builtBinaries {
		if b.dir != "" {
			os.RemoveAll(b.dir)
		}
	}
}

// cliDir is a configuration for dsn in a folder of its own, shared by the
// runs of one test (state_dir holds the restore journal).
func cliDir(t *testing.T, dsn string) (cfgPath, dir string) {
	t.Helper()
	dir = t.TempDir()
	for _, d := range []string{"backup", "tmp", "log", "state"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cfg := fmt.Sprintf("backup_dir: %[1]s/backup\ntemp_dir: %[1]s/tmp\nmin_free_mb: 1\nlog_file: %[1]s/log/api.log\nstate_dir: %[1]s/state\n"+
		"database:\n  dsn: %[2]q\n  schema: hubble\n  parallel: 2\nreplication:\n  enabled: false\n", dir, dsn)
	cfgPath = filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfgPath, dir
}

// runCLI runs `hubble-applianceapi restore` with a configuration for dsn.
func runCLI(t *testing.T, dsn string, args ...string) (code int, stdout, stderr string, logDir string) {
	t.Helper()
	code, stdout, stderr, logDir, _ = runCLIRusage(t, dsn, args...)
	return code, stdout, stderr, logDir
}

// runCLIRusage is runCLI that also returns the peak RSS of the process
// (and of any child it waited for) in kB.
func runCLIRusage(t *testing.T, dsn string, args ...string) (code int, stdout, stderr string, logDir string, maxRSS int64) {
	t.Helper()
	cfgPath, dir := cliDir(t, dsn)
	logDir = filepath.Join(dir, "log")
	cmd, peakKB := ostest.MeasuredCommand(t, binary(t), append([]string{"restore", "--config", cfgPath}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatal(err)
	}
	maxRSS = peakKB()
	t.Logf("exit %d, peak RSS %d kB\nstdout:\n%s\nstderr:\n%s", code, maxRSS, out.String(), errb.String())
	if des, _ := os.ReadDir(filepath.Join(dir, "tmp")); len(des) != 0 {
		t.Errorf("temp_dir not empty: %v", des)
	}
	return code, out.String(), errb.String(), logDir, maxRSS
}

func TestCLI_Restore_ExitCodes(t *testing.T) {
	src, arch := hubbleArchive(t)
	want := stateOf(t, src, "hubble")

	t.Run("0 restored and verified", func(t *testing.T) {
		dst := erpDB(t)
		code, out, _, _ := runCLI(t, dst, arch)
		if code != 0 || !strings.Contains(out, "0 errors") {
			t.Fatalf("exit %d, want 0", code)
		}
		assertSame(t, want, stateOf(t, dst, "hubble"))
	})
	t.Run("1 failed", func(t *testing.T) {
		dst := pgtest.NewDB(t)
		code, out, stderr, logDir := runCLI(t, dst, arch)
		if code != 1 || !strings.Contains(stderr, "table erp.gl_account") || !strings.Contains(out, "1 errors") {
			t.Fatalf("exit %d, want 1 naming the missing table", code)
		}
		if o := readFile(t, filepath.Join(logDir, "restore_output.txt")); !strings.Contains(o, "needs objects outside the schema that the target lacks: table erp.gl_account") {
			t.Errorf("restore_output.txt:\n%s", o)
		}
	})
	t.Run("2 restored with errors", func(t *testing.T) {
		dst := pgtest.NewDB(t)
		code, out, _, _ := runCLI(t, dst, "--continue-on-error", arch)
		if code != 2 || !strings.Contains(out, "VIEW hubble.v_gl_budget_named") {
			t.Fatalf("exit %d, want 2 naming the view", code)
		}
	})
	t.Run("dry run, another schema name", func(t *testing.T) {
		dst := erpDB(t)
		code, out, _, _ := runCLI(t, dst, "--dry-run", "--schema", "copy_of_hubble", arch)
		if code != 0 || !strings.Contains(out, "schema copy_of_hubble (will be created)") {
			t.Fatalf("exit %d, want 0 with a plan", code)
		}
		if n := mustQueryInt(t, dst, "SELECT count(*) FROM pg_namespace WHERE nspname = 'copy_of_hubble'"); n != 0 {
			t.Errorf("dry run created the schema")
		}
	})
	t.Run("password on the command line refused", func(t *testing.T) {
		code, _, stderr, _ := runCLI(t, "postgres://x@localhost/db", "--dsn", "postgres://u:pw@localhost/db", arch)
		if code != 1 || !strings.Contains(stderr, "--dsn must not hold a password") {
			t.Fatalf("exit %d", code)
		}
	})
}
