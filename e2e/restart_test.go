package e2e

import (
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRestart_AfterKill kills the service with SIGKILL in the middle of a
// backup and starts it again with the same config: the interrupted job
// answers Error with the restart message, its leftovers are gone, and an
// earlier successful job still answers Success.
func TestRestart_AfterKill(t *testing.T) {
	e := newEnv(t, options{schema: schemaBulk})

	// An earlier success, by the same installation (small schema for speed).
	s := e.start(t, "HUBBLE_DATABASE_SCHEMA="+schemaSmall)
	earlier := s.execute(t)
	success, _ := s.waitStatus(t, earlier.ID, "Success", 60*time.Second)
	archive := s.record(t, earlier.ID).Archive
	if code := s.stop(t, 30*time.Second); code != 0 {
		t.Fatalf("SIGTERM: exit code %d, want 0", code)
	}

	s = e.start(t)
	job := s.execute(t)
	s.waitPhase(t, job.ID, "data", 60*time.Second)
	s.killService(t)
	if left := entries(t, e.tempDir); len(left) == 0 {
		t.Fatal("nothing in temp_dir at the kill: the job was not mid-backup")
	} else {
		t.Logf("at the kill: temp_dir %v, backup_dir %v", left, entries(t, e.backupDir))
	}

	s = e.start(t)
	want := status{ID: job.ID, Status: "Error", Message: "Job was interrupted by a service restart."}
	if got := s.status(t, job.ID); got != want {
		t.Errorf("Status of the interrupted job: %+v, want %+v", got, want)
	}
	if got := s.status(t, earlier.ID); got != success {
		t.Errorf("Status of the earlier job: %+v, want %+v", got, success)
	}
	assertEmpty(t, e.tempDir)
	if names := entries(t, e.backupDir); len(names) != 1 || names[0] != filepath.Base(archive) {
		t.Errorf("backup_dir holds %v, want only the earlier archive %s", names, filepath.Base(archive))
	}
	waitNoBackends(t, e.dsn, 10*time.Second)
}

// TestStop_Graceful sends SIGTERM while a job executes (in the replication
// tool's child process, or mid-COPY) and another is queued: the process
// exits 0 leaving no child process, both jobs answer Canceled with the stop
// message after a restart, and nothing of them is left behind.
func TestStop_Graceful(t *testing.T) {
	tests := []struct {
		phase, schema string
		replEnv       map[string]string
	}{
		{"replication", schemaSmall, map[string]string{"REPCTL_SLEEP": "30"}},
		{"data", schemaBulk, nil},
	}
	for _, tt := range tests {
		t.Run(tt.phase, func(t *testing.T) {
			e := newEnv(t, options{schema: tt.schema, replEnv: tt.replEnv})
			s := e.start(t)
			job, queued := s.execute(t), s.execute(t)
			s.waitPhase(t, job.ID, tt.phase, 60*time.Second)
			kids := descendants(s.cmd.Process.Pid)
			if tt.phase == "replication" && len(kids) == 0 {
				t.Fatal("no child process while the replication tool runs")
			}
			start := time.Now()
			if code := s.stop(t, 30*time.Second); code != 0 {
				t.Fatalf("SIGTERM: exit code %d, want 0\n%s", code, s.log())
			}
			t.Logf("stopped in %v", time.Since(start).Round(time.Millisecond))
			if left := alive(kids); len(left) > 0 {
				t.Errorf("child processes left after the service exited: %v", left)
			}
			if !strings.Contains(s.log(), "service stopped") {
				t.Errorf("no \"service stopped\" in the log:\n%s", s.log())
			}
			assertEmpty(t, e.tempDir)
			assertEmpty(t, e.backupDir)
			waitNoBackends(t, e.dsn, 10*time.Second)

			s = e.start(t)
			for _, id := range []string{job.ID, queued.ID} {
				want := status{ID: id, Status: "Canceled", Message: "The service was stopped."}
				if got := s.status(t, id); got != want {
					t.Errorf("Status after the restart: %+v, want %+v", got, want)
				}
			}
		})
	}
}

// TestServe_SecondInstance: a second service on the same state_dir refuses
// to start (exit 1, naming the reason) instead of hanging or sharing the
// job store; the first one is unharmed.
func TestServe_SecondInstance(t *testing.T) {
	e := newEnv(t, options{})
	s := e.start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary(t), "serve", "--config", e.configPath)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("second instance: %v, want exit code 1\n%s", err, out)
	}
	if !strings.Contains(string(out), "is another hubble-applianceapi running?") {
		t.Errorf("second instance does not say why:\n%s", out)
	}
	if r := curl(t, s.base+"/healthz"); r.code != 200 {
		t.Errorf("first instance /healthz: HTTP %d", r.code)
	}
}

// TestExecute_MissingBackupDir: Execute runs the pre-flight checks at once;
// a missing backup_dir is answered with Error and the SPEC message, which
// Status repeats.
func TestExecute_MissingBackupDir(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "not-mounted")
	e := newEnv(t, options{backupDir: missing})
	s := e.start(t)
	got := s.execute(t)
	want := status{ID: got.ID, Status: "Error", Message: "Directory '" + missing + "' does not exist."}
	if got != want {
		t.Fatalf("Execute: %+v, want %+v", got, want)
	}
	if st := s.status(t, got.ID); st != want {
		t.Errorf("Status: %+v, want %+v", st, want)
	}
	assertEmpty(t, e.tempDir)
}
