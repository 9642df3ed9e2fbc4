package e2e

import (
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// sleeping lists the descendants of pid once the stand-in's sleep (a
// grandchild: repctl's own child) runs, failing after within.
func sleeping(t *testing.T, pid int, within time.Duration) map[int]string {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		kids := descendants(pid)
		for _, name := range kids {
			if strings.HasSuffix(name, "(sleep)") {
				return kids
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the replication tool's child never ran below pid %d: %v", pid, kids)
		}
		time.Sleep(pollInterval)
	}
}

// waitGone polls until none of procs runs.
func waitGone(t *testing.T, procs map[int]string, within time.Duration, what string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for len(alive(procs)) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%s: still running after %v: %v", what, within, alive(procs))
		}
		time.Sleep(pollInterval)
	}
}

// killAll is a test's last resort against processes it left.
func killAll(procs map[int]string) {
	for pid := range procs {
		syscall.Kill(pid, syscall.SIGKILL)
	}
}

// kill -9 of a CLI backup while the replication tool runs: the tool and
// what it started die at once (the supervisor's parent-death signal kills
// their process group), and the next run, which would kill the groups the
// dead run recorded, removes its leftovers. No descendant survives.
func TestKill9_CLIBackupChildren(t *testing.T) {
	e := newEnv(t, options{replEnv: map[string]string{"REPCTL_SLEEP": "30"}})
	cli := exec.Command(binary(t), "backup", "--config", e.configPath)
	cli.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cli.Start(); err != nil {
		t.Fatal(err)
	}
	kids := sleeping(t, cli.Process.Pid, 60*time.Second)
	t.Cleanup(func() { killAll(kids) })
	if err := cli.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cli.Wait()
	waitGone(t, kids, 5*time.Second, "the replication tool and its child, their CLI killed with -9")
	t.Logf("at the kill: %v", kids)

	e.setReplEnv(t, nil)
	out, err := exec.Command(binary(t), "backup", "--config", e.configPath).CombinedOutput()
	if err != nil {
		t.Fatalf("the next backup: %v\n%s", err, out)
	}
	assertEmpty(t, e.tempDir)
	if names := entries(t, e.backupDir); len(names) != 1 {
		t.Errorf("backup_dir holds %v, want the next run's archive only", names)
	}
}

// The same for the service: kill -9 while its job's replication tool runs;
// the tool and its child die at once; the restart removes the leftovers.
func TestKill9_ServiceChildren(t *testing.T) {
	e := newEnv(t, options{replEnv: map[string]string{"REPCTL_SLEEP": "30"}})
	s := e.start(t)
	job := s.execute(t)
	s.waitPhase(t, job.ID, "replication", 60*time.Second)
	kids := sleeping(t, s.cmd.Process.Pid, 30*time.Second)
	t.Cleanup(func() { killAll(kids) })
	s.killService(t)
	waitGone(t, kids, 5*time.Second, "the replication tool and its child, their service killed with -9")

	e.setReplEnv(t, nil)
	s = e.start(t)
	want := status{ID: job.ID, Status: "Error", Message: "Job was interrupted by a service restart."}
	if got := s.status(t, job.ID); got != want {
		t.Errorf("Status of the interrupted job: %+v, want %+v", got, want)
	}
	assertEmpty(t, e.tempDir)
	assertEmpty(t, e.backupDir)
}

// SIGHUP (logrotate's postrotate) makes the service reopen log_file: after
// the file was moved away, new events go to a new file at the configured
// path, and the service goes on.
func TestSIGHUP_ReopensLogFile(t *testing.T) {
	e := newEnv(t, options{})
	s := e.start(t)
	if err := os.Rename(e.logFile, e.logFile+".1"); err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(s.log(), "msg=reloaded what=log_file") {
		if time.Now().After(deadline) {
			t.Fatalf("no reload after SIGHUP:\n%s", s.log())
		}
		time.Sleep(pollInterval)
	}
	job := s.execute(t)
	s.waitStatus(t, job.ID, "Success", 60*time.Second)
	now, err := os.ReadFile(e.logFile)
	if err != nil {
		t.Fatalf("log_file not reopened at %s: %v", e.logFile, err)
	}
	old, _ := os.ReadFile(e.logFile + ".1")
	if !strings.Contains(string(now), job.ID) || strings.Contains(string(old), job.ID) {
		t.Errorf("job %s: in the new log_file %v, in the rotated one %v; want only the new one",
			job.ID, strings.Contains(string(now), job.ID), strings.Contains(string(old), job.ID))
	}
	if !strings.Contains(string(old), "service started") {
		t.Errorf("the rotated log lost what was written before:\n%s", old)
	}
}
