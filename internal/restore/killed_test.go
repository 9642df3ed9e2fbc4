package restore_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// killingBinary is the command built with -tags faultpoints: with
// HUBBLE_TEST_KILL_AT set it kills itself (SIGKILL) at that point of a
// restore.
func killingBinary(t *testing.T) string { return killingBuild.get(t) }

// restoreRun runs bin restore; killedAt, if set, is where it kills itself.
func restoreRun(t *testing.T, bin, cfgPath, killAt string, args ...string) (killed bool, code int, out string) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"restore", "--config", cfgPath}, args...)...)
	cmd.Env = append(os.Environ(), "HUBBLE_TEST_KILL_AT="+killAt)
	var b bytes.Buffer
	cmd.Stdout, cmd.Stderr = &b, &b
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			killed = true
		}
	default:
		t.Fatal(err)
	}
	t.Logf("restore %v (kill at %q): killed %v, exit %d\n%s", args, killAt, killed, code, b.String())
	return killed, code, b.String()
}

// Issues 8/10: `restore` killed with -9 after committing its objects left
// them, and the same restore again stopped on them ("function fmt_amount
// already exists"). The next restore now undoes what the dead one left
// (named in its summary; --dry-run names it and changes nothing), and the
// schema ends up exactly as archived; one killed after its last commit is
// found finished, and nothing of it is undone.
func TestCLI_KilledRestoreRetried(t *testing.T) {
	src, arch := hubbleArchive(t)
	want := stateOf(t, src, "hubble")
	bin := killingBinary(t)
	for _, tc := range []struct {
		point, dryRun string // where it is killed; what --dry-run then says
	}{
		{"objects", "what it left would be removed first:"},
		{"finished", "after finishing its work: nothing of it to undo"},
	} {
		t.Run(tc.point, func(t *testing.T) {
			dst := erpDB(t)
			cfgPath, dir := cliDir(t, dst)
			if killed, _, _ := restoreRun(t, bin, cfgPath, tc.point, arch); !killed {
				t.Fatalf("the restore was not killed at %q", tc.point)
			}
			fn := "SELECT count(*)::int FROM pg_proc WHERE proname = 'fmt_amount' AND pronamespace = 'hubble'::regnamespace"
			if n := mustQueryInt(t, dst, fn); n != 1 {
				t.Fatalf("after the kill: %d functions fmt_amount, want the dead restore's", n)
			}
			if _, code, out := restoreRun(t, bin, cfgPath, "", "--dry-run", arch); code != 0 || !strings.Contains(out, tc.dryRun) {
				t.Fatalf("--dry-run: exit %d, want 0 saying %q", code, tc.dryRun)
			}
			if n := mustQueryInt(t, dst, fn); n != 1 {
				t.Fatal("--dry-run changed the target")
			}
			if tc.point == "objects" {
				_, code, out := restoreRun(t, bin, cfgPath, "", arch)
				if code != 0 || !strings.Contains(out, "was removed first:") || !strings.Contains(out, "function hubble.fmt_amount(numeric)") {
					t.Fatalf("the restore again: exit %d, want 0 naming what it removed first", code)
				}
			}
			assertSame(t, want, stateOf(t, dst, "hubble"))
			if left, _ := filepath.Glob(filepath.Join(dir, "state", "restore-journal", "*.json")); tc.point == "objects" && len(left) != 0 {
				t.Errorf("journal left: %v", left)
			}
		})
	}
}
