package restore_test

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hubble/hubble-applianceapi/internal/archive"
	"github.com/hubble/hubble-applianceapi/internal/ostest"
	"github.com/hubble/hubble-applianceapi/internal/pgtest"
	"github.com/hubble/hubble-applianceapi/internal/replication"
	"github.com/hubble/hubble-applianceapi/internal/restore"
)

// replUser is the OS user the import must run as (when we are root).
func replUser(t *testing.T) string {
	if os.Geteuid() != 0 {
		return ""
	}
	if _, err := user.Lookup("nobody"); err != nil {
		t.Fatalf("user nobody: %v", err)
	}
	return "nobody"
}

func uniqueRole(prefix string) string {
	b := make([]byte, 4)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

func TestRestorer_Run_Replication(t *testing.T) {
	src := pgtest.NewDB(t)
	if err := pgtest.CreateHubble(testCtx(t), src, pgtest.HubbleOptions{Rows: 100}); err != nil {
		t.Fatal(err)
	}
	arch := makeArchive(t, src, "hubble", true)
	const password = "s3cret-Pässword"
	tests := []struct {
		name    string
		step    string
		fail    bool
		wantErr string
	}{
		{"all", restore.StepAll, false, ""},
		{"replication only", restore.StepReplication, false, ""},
		{"import fails", restore.StepAll, true, "An error occurred while executing system command: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := erpDB(t)
			logDir := openDir(t)
			calls := filepath.Join(logDir, "calls.log")
			os.WriteFile(calls, nil, 0o666)
			os.Chmod(calls, 0o666)
			knobs := map[string]string{"REPCTL_LOG": calls}
			if tt.fail {
				knobs["REPCTL_FAIL"] = "1"
			}
			dest := uniqueRole("repl_dest_")
			f := newFixture(t, dst, arch)
			// temp_dir as an administrator may choose it: root's, 0755, not
			// writable by the replication user.
			f.tempDir = ostest.AdminDir(t, "restore-test-*")
			f.opts.TempDir = f.tempDir
			f.opts.Step = tt.step
			f.opts.Replication = &replication.Tool{Argv: []string{standIn(t), "importrepository", "json_file={file}"}, User: replUser(t),
				Env: knobs}
			f.opts.DestinationSchemas = []string{dest}
			f.opts.DestinationPassword = password
			var logBuf strings.Builder
			_, err := f.run(t)
			logBuf.WriteString(f.out.String())

			got := strings.Fields(readFile(t, calls))
			if len(got) < 3 || got[0] != "importrepository" || !strings.HasSuffix(got[1], "/"+archive.ReplicationFile) ||
				!strings.HasPrefix(got[1], f.tempDir+"/hubble-restore-") {
				t.Errorf("repctl calls = %q, want one import of the extracted export", got)
			} else if want := replUser(t); want != "" && got[2] != want {
				t.Errorf("import ran as %s, want %s", got[2], want)
			}
			if tt.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) ||
					!strings.HasSuffix(err.Error(), ". Error: [repctl] error: license expired (stand-in failure)") {
					t.Fatalf("Run() error = %v, want the SPEC command message", err)
				}
				if n := mustQueryInt(t, dst, "SELECT count(*) FROM pg_namespace WHERE nspname IN ('hubble', '"+dest+"')"); n != 0 {
					t.Errorf("schemas created although the import failed")
				}
				return
			}
			if err != nil {
				t.Fatalf("Run() error = %v", err)
			}
			if strings.Contains(logBuf.String(), password) {
				t.Errorf("the destination password appears in the output")
			}
			checks := map[string]string{
				"login role":     "SELECT count(*) FROM pg_roles WHERE rolname = '" + dest + "' AND rolcanlogin",
				"scram password": "SELECT count(*) FROM pg_authid WHERE rolname = '" + dest + "' AND rolpassword LIKE 'SCRAM-SHA-256$4096:%'",
				"connect":        "SELECT count(*) FROM pg_roles WHERE rolname = '" + dest + "' AND has_database_privilege(rolname, current_database(), 'CONNECT')",
				"schema it owns": "SELECT count(*) FROM pg_namespace WHERE nspname = '" + dest + "' AND pg_get_userbyid(nspowner) = '" + dest + "'",
			}
			for what, sql := range checks {
				if mustQueryInt(t, dst, sql) != 1 {
					t.Errorf("%s missing", what)
				}
			}
			hubble := mustQueryInt(t, dst, "SELECT count(*) FROM pg_namespace WHERE nspname = 'hubble'")
			if tt.step == restore.StepReplication {
				if hubble != 0 {
					t.Errorf("--step replication restored the database")
				}
				if !strings.Contains(f.out.String(), "Re-run the replication tasks") || !strings.Contains(f.out.String(), "--step database") {
					t.Errorf("no re-run hint in:\n%s", f.out.String())
				}
				// Then the database step.
				f.opts.Step = restore.StepDatabase
				if _, err := f.run(t); err != nil {
					t.Fatalf("--step database: %v", err)
				}
				assertSame(t, stateOf(t, src, "hubble"), stateOf(t, dst, "hubble"))
			} else if hubble != 1 {
				t.Errorf("--step all did not restore the database")
			}
		})
	}
}
