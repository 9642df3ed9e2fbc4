package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hubble/hubble-applianceapi/internal/archive"
)

// faultEnv is a service installation for fault runs: the e2e env, with a
// replication stand-in that takes a while (so faults land in that phase and
// find child processes to leave behind).
type faultEnv struct {
	*env
	t        testing.TB
	extraEnv []string // added to every service's environment
}

// start runs a service of the env with extraEnv.
func (fe *faultEnv) start(t testing.TB) *service { return fe.env.start(t, fe.extraEnv...) }

// newFaultEnv writes the config; replSleep is how long each replication
// command sleeps (in a child process of its own) before doing its work.
func newFaultEnv(t testing.TB, o options, replSleep string) *faultEnv {
	t.Helper()
	becomeSubreaper(t)
	e := newEnv(t, o)
	real := e.repctl + ".real"
	if err := os.Rename(e.repctl, real); err != nil {
		t.Fatal(err)
	}
	wrapper := fmt.Sprintf("#!/bin/sh\nsleep %s\nexec %q \"$@\"\n", replSleep, real)
	if err := os.WriteFile(e.repctl, []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	return &faultEnv{env: e, t: t}
}

var subreaperOnce sync.Once

// becomeSubreaper makes this test process the reaper of orphans: the
// children of a service killed with SIGKILL become our descendants, where
// leftoverProcesses finds those that outlive it.
func becomeSubreaper(t testing.TB) {
	subreaperOnce.Do(func() {
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
			t.Fatalf("prctl(PR_SET_CHILD_SUBREAPER): %v", err)
		}
	})
}

// ours are the programs a job runs, directly or below: what must never
// outlive the job or its parent.
var ours = []string{"pg_dump", "pg_restore", "psql", "repctl", "repctl.real", "sh", "sleep"}

// leftoverProcesses lists, after waiting up to within for them to end, the
// descendants of the test process that a job of ours started.
func leftoverProcesses(within time.Duration) []string {
	deadline := time.Now().Add(within)
	for {
		found := map[int]string{}
		for pid, name := range descendants(os.Getpid()) {
			for _, o := range ours {
				if strings.HasSuffix(name, "("+o+")") {
					found[pid] = name
				}
			}
		}
		left := alive(found)
		if len(left) == 0 || time.Now().After(deadline) {
			sort.Strings(left)
			return left
		}
		time.Sleep(pollInterval)
	}
}

// sessions waits up to within for the service's database sessions to end and
// returns how many are left.
func sessions(t testing.TB, dsn string, within time.Duration) int {
	deadline := time.Now().Add(within)
	for {
		n := countBackends(t, dsn)
		if n == 0 || time.Now().After(deadline) {
			return n
		}
		time.Sleep(pollInterval)
	}
}

// call makes one HTTP request to the service (net/http: the suite makes
// thousands) and returns the code and body.
func (s *service) call(method, path string) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, s.base+path, nil)
	if err != nil {
		return 0, nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// statusCall is a Backup call answering Status JSON with HTTP 200.
func (s *service) statusCall(method, path string) (status, error) {
	code, b, err := s.call(method, path)
	if err != nil {
		return status{}, fmt.Errorf("%s %s: %w", method, path, err)
	}
	var st status
	if err := json.Unmarshal(b, &st); err != nil || code != http.StatusOK {
		return st, fmt.Errorf("%s %s: HTTP %d %s", method, path, code, b)
	}
	return st, nil
}

func (s *service) tryExecute() (status, error) { return s.statusCall("POST", "/api/Backup/Execute") }
func (s *service) tryStatus(id string) (status, error) {
	return s.statusCall("GET", "/api/Backup/Status?id="+id)
}
func (s *service) tryCancel(id string) (status, error) {
	return s.statusCall("POST", "/api/Backup/Cancel?id="+id)
}

var terminal = []string{"Success", "Error", "Canceled", "LimitReached"}

// waitTerminal polls Status until the job is final: it must carry a reason.
func (s *service) waitTerminal(id string, within time.Duration) (status, error) {
	deadline := time.Now().Add(within)
	for {
		st, err := s.tryStatus(id)
		if err != nil {
			return st, err
		}
		if slices.Contains(terminal, st.Status) {
			if strings.TrimSpace(st.Message) == "" {
				return st, fmt.Errorf("job %s ended %s without a reason", id, st.Status)
			}
			return st, nil
		}
		if time.Now().After(deadline) {
			return st, fmt.Errorf("job %s still %s (%s) after %v", id, st.Status, st.Message, within)
		}
		time.Sleep(pollInterval)
	}
}

// archives lists the published archives of backup_dir, oldest first, and
// fails on anything else there (a partial or stray file).
func (fe *faultEnv) archives() ([]string, error) {
	des, err := os.ReadDir(fe.backupDir)
	if err != nil {
		return nil, err
	}
	var out, stray []string
	for _, de := range des {
		if _, _, ok := archive.ParseName(de.Name()); ok && de.Type().IsRegular() {
			out = append(out, de.Name())
		} else {
			stray = append(stray, de.Name())
		}
	}
	if len(stray) > 0 {
		return out, fmt.Errorf("left in backup_dir: %v", stray)
	}
	sort.Strings(out)
	return out, nil
}

// tempLeft fails when temp_dir holds anything.
func (fe *faultEnv) tempLeft() error {
	des, err := os.ReadDir(fe.tempDir)
	if err != nil {
		return err
	}
	if len(des) > 0 {
		var names []string
		for _, de := range des {
			names = append(names, de.Name())
		}
		return fmt.Errorf("left in temp_dir: %v", names)
	}
	return nil
}

// verify runs `hubble-applianceapi verify` on an archive of backup_dir.
func (fe *faultEnv) verify(name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, binary(fe.t), "verify", filepath.Join(fe.backupDir, name)).CombinedOutput()
	if err != nil {
		return fmt.Errorf("verify %s: %v: %s", name, err, bytes.TrimSpace(out))
	}
	return nil
}

// keepArchives verifies the published archives (earlier archives must
// still verify) and keeps the newest keep of them, so runs stay fast.
func (fe *faultEnv) verifyArchives(keep int) error {
	names, err := fe.archives()
	if err != nil {
		return err
	}
	for i, n := range names {
		if i < len(names)-keep {
			os.Remove(filepath.Join(fe.backupDir, n))
			continue
		}
		if err := fe.verify(n); err != nil {
			return err
		}
	}
	return nil
}

// settled checks what a finished job must leave on a running service: no
// file in temp_dir, only complete archives in backup_dir, no process below
// the service, no database session.
func (fe *faultEnv) settled(s *service) error {
	var errs []error
	deadline := time.Now().Add(10 * time.Second)
	for len(alive(descendants(s.cmd.Process.Pid))) > 0 && time.Now().Before(deadline) {
		time.Sleep(pollInterval)
	}
	if left := alive(descendants(s.cmd.Process.Pid)); len(left) > 0 {
		errs = append(errs, fmt.Errorf("processes left below the service: %v", left))
	}
	if n := sessions(fe.t, fe.dsn, 10*time.Second); n > 0 {
		errs = append(errs, fmt.Errorf("%d database sessions left", n))
	}
	errs = append(errs, fe.tempLeft())
	if _, err := fe.archives(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// nextBackup checks that a backup succeeds now and its archive verifies.
func (fe *faultEnv) nextBackup(s *service) error {
	st, err := s.tryExecute()
	if err != nil {
		return fmt.Errorf("next backup: %w", err)
	}
	if st, err = s.waitTerminal(st.ID, 2*time.Minute); err != nil {
		return fmt.Errorf("next backup: %w", err)
	}
	if st.Status != "Success" {
		return fmt.Errorf("next backup ended %s: %s", st.Status, st.Message)
	}
	names, err := fe.archives()
	if err != nil || len(names) == 0 {
		return fmt.Errorf("next backup: archives %v: %v", names, err)
	}
	return fe.verify(names[len(names)-1])
}
