package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hubble/hubble-applianceapi/internal/pgtest"
	"github.com/jackc/pgx/v5"
)

// stopService ends a service with SIGTERM, as an error rather than a test
// failure.
func stopService(s *service) error {
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return nil // already gone
	}
	select {
	case <-s.done:
	case <-time.After(60 * time.Second):
		return fmt.Errorf("service did not stop within 60 s of SIGTERM")
	}
	if s.err != nil {
		return fmt.Errorf("service exit: %v", s.err)
	}
	return nil
}

// timedBackup runs one backup on a fresh service and returns its duration,
// the length of the window the random moments fall in.
func timedBackup(t *testing.T, fe *faultEnv) time.Duration {
	t.Helper()
	s := fe.start(t)
	start := time.Now()
	if err := fe.nextBackup(s); err != nil {
		t.Fatal(err)
	}
	d := time.Since(start)
	if err := stopService(s); err != nil {
		t.Fatal(err)
	}
	return d
}

func countOutcomes(m map[string]int) string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

// kill -9 of the service at a random moment of a backup.
func TestFaults_KillBackup(t *testing.T) {
	sc := newScenario(t, "kill -9 of the service during a backup",
		"after a restart the job is Success (its archive verifies) or Error \"interrupted\"; children and sessions die with the service; leftovers removed",
		4, 1)
	fe := newFaultEnv(t, options{}, "1.5")
	window := timedBackup(t, fe) * 12 / 10
	outcomes := map[string]int{}
	for i := range sc.n {
		sc.run(i, func() error {
			s := fe.start(t)
			before, _ := fe.archives()
			st, err := s.tryExecute()
			if err != nil {
				return err
			}
			time.Sleep(sc.between(0, window)) // the random moment of the fault
			s.killService(t)
			var errs []error
			if left := leftoverProcesses(500 * time.Millisecond); len(left) > 0 {
				errs = append(errs, fmt.Errorf("processes outlived the service: %v", left))
			}
			if n := sessions(t, fe.dsn, 10*time.Second); n > 0 {
				errs = append(errs, fmt.Errorf("%d database sessions outlived the service", n))
			}
			s = fe.start(t)
			defer stopService(s)
			got, err := s.waitTerminal(st.ID, 30*time.Second)
			errs = append(errs, err)
			after, aerr := fe.archives()
			errs = append(errs, aerr)
			switch {
			case got.Status == "Success":
				outcomes["Success"]++
				if len(after) != len(before)+1 {
					errs = append(errs, fmt.Errorf("Success but archives %v -> %v", before, after))
				}
			case got.Status == "Error" && got.Message == "Job was interrupted by a service restart.":
				outcomes["interrupted"]++
				if len(after) != len(before) {
					errs = append(errs, fmt.Errorf("interrupted, yet an archive appeared: %v -> %v", before, after))
				}
			default:
				errs = append(errs, fmt.Errorf("after the restart the job is %s: %s", got.Status, got.Message))
			}
			errs = append(errs, fe.tempLeft(), fe.verifyArchives(3), fe.nextBackup(s), fe.settled(s))
			return errors.Join(errs...)
		})
	}
	sc.note("moments in 0-%v; outcomes: %s", window.Round(10*time.Millisecond), countOutcomes(outcomes))
}

// Cancel at a random moment of a backup.
func TestFaults_Cancel(t *testing.T) {
	sc := newScenario(t, "cancel during a backup",
		"Canceled within 10 s (or Success if it finished first) with nothing left: no file, child or session; no archive",
		4, 1)
	fe := newFaultEnv(t, options{}, "0.3")
	window := timedBackup(t, fe) * 12 / 10
	s := fe.start(t)
	defer stopService(s)
	outcomes := map[string]int{}
	var latency []time.Duration
	for i := range sc.n {
		sc.run(i, func() error {
			before, _ := fe.archives()
			st, err := s.tryExecute()
			if err != nil {
				return err
			}
			time.Sleep(sc.between(0, window)) // the random moment of the fault
			start := time.Now()
			c, err := s.tryCancel(st.ID)
			if err != nil {
				return err
			}
			latency = append(latency, time.Since(start))
			var errs []error
			final, err := s.waitTerminal(st.ID, 30*time.Second)
			errs = append(errs, err)
			outcomes[final.Status]++
			switch {
			case c.Status == "Canceled" && c.Message == "Job was canceled." && final == c:
				after, _ := fe.archives()
				if len(after) != len(before) {
					errs = append(errs, fmt.Errorf("canceled, yet an archive appeared: %v -> %v", before, after))
				}
			case c.Status == "Success" && final == c:
			default:
				errs = append(errs, fmt.Errorf("Cancel answered %+v after %v, then %+v", c, latency[len(latency)-1], final))
			}
			errs = append(errs, fe.settled(s), fe.verifyArchives(3), fe.nextBackup(s), fe.settled(s))
			return errors.Join(errs...)
		})
	}
	sc.note("moments in 0-%v; outcomes: %s; Cancel answered in %s", window.Round(10*time.Millisecond), countOutcomes(outcomes), durations(latency))
}

// kill -9 of `restore` at a random moment; the same restore again (every
// other run with --clean) must succeed: it undoes first what the killed one
// had committed (its journal in state_dir).
func TestFaults_KillRestore(t *testing.T) {
	sc := newScenario(t, "kill -9 of `restore`",
		"no child or session outlives it; the same restore again (every other run with --clean) undoes what the killed one left and succeeds, exact (row counts checked); its extraction folder is removed by the next run",
		4, 1)
	fe := newFaultEnv(t, options{}, "1")
	s := fe.start(t)
	if err := fe.nextBackup(s); err != nil {
		t.Fatal(err)
	}
	if err := stopService(s); err != nil {
		t.Fatal(err)
	}
	names, _ := fe.archives()
	arch := filepath.Join(fe.backupDir, names[len(names)-1])
	// The shared database: the schema's views read erp.gl_account there.
	target := fe.dsn
	restore := func(schema string, extra ...string) *exec.Cmd {
		args := append([]string{"restore", arch, "--config", fe.configPath, "--dsn", target, "--schema", schema}, extra...)
		cmd := exec.Command(binary(t), args...)
		cmd.Env = os.Environ()
		return cmd
	}
	start := time.Now()
	defer pgtest.Exec(context.Background(), target, "DROP SCHEMA IF EXISTS r_timed CASCADE")
	if out, err := restore("r_timed").CombinedOutput(); err != nil {
		t.Fatalf("restore: %v\n%s", err, out)
	}
	window := time.Since(start) * 12 / 10
	outcomes := map[string]int{}
	for i := range sc.n {
		sc.run(i, func() error {
			schema := fmt.Sprintf("r%d", i)
			defer pgtest.Exec(context.Background(), target, "DROP SCHEMA IF EXISTS "+schema+" CASCADE")
			cmd := restore(schema)
			var out strings.Builder
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				return err
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			killed := false
			select {
			case err := <-done:
				outcomes["finished first"]++
				if err != nil {
					return fmt.Errorf("restore failed without a fault: %v\n%s", err, out.String())
				}
			case <-time.After(sc.between(0, window)): // the random moment of the fault
				cmd.Process.Signal(syscall.SIGKILL)
				<-done
				killed = true
			}
			var errs []error
			if left := leftoverProcesses(500 * time.Millisecond); len(left) > 0 {
				errs = append(errs, fmt.Errorf("processes outlived restore: %v", left))
			}
			if n := sessions(t, fe.dsn, 10*time.Second); n > 0 {
				errs = append(errs, fmt.Errorf("%d database sessions outlived restore", n))
			}
			if killed {
				var extra []string
				if i%2 == 0 {
					extra = append(extra, "--clean")
				}
				b, err := restore(schema, extra...).CombinedOutput()
				switch again := string(b); {
				case err != nil && (strings.Contains(again, "after finishing its work") || sameSchema(t, target, schema, "r_timed")):
					// Killed after its last commit (even after removing its
					// journal, on its way out): the schema is restored, and
					// a restore over it stops on its objects.
					outcomes["killed after finishing"]++
				case err != nil:
					errs = append(errs, fmt.Errorf("the restore again %v: %v: %s", extra, err, tail(again, 600)))
				case strings.Contains(again, "was removed first"):
					outcomes["killed, leftovers undone by the next run"]++
				default:
					outcomes["killed before committing"]++
				}
			}
			errs = append(errs, fe.tempLeft())
			return errors.Join(errs...)
		})
	}
	sc.note("moments in 0-%v; %s", window.Round(10*time.Millisecond), countOutcomes(outcomes))
}

// sameSchema tells whether schemas a and b of dsn hold the same relations,
// functions and types, and the same rows in each table: b is a completed
// restore of the archive, so a holds one too.
func sameSchema(t *testing.T, dsn, a, b string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Error(err)
		return false
	}
	defer conn.Close(context.Background())
	const shape = `SELECT string_agg(what, ',' ORDER BY what) FROM (
		SELECT c.relkind::text || ':' || c.relname || ':' || CASE WHEN c.relkind IN ('r', 'p') THEN
			(xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM %I.%I', $1::text, c.relname), false, true, '')))[1]::text
			ELSE '' END AS what
		FROM pg_class c WHERE c.relnamespace = $1::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
		UNION ALL SELECT 'f:' || p.proname FROM pg_proc p WHERE p.pronamespace = $1::regnamespace
		UNION ALL SELECT 't:' || y.typname FROM pg_type y WHERE y.typnamespace = $1::regnamespace) s`
	var sa, sb *string
	if err := conn.QueryRow(ctx, shape, a).Scan(&sa); err != nil {
		t.Error(err)
		return false
	}
	if err := conn.QueryRow(ctx, shape, b).Scan(&sb); err != nil {
		t.Error(err)
		return false
	}
	return sa != nil && sb != nil && *sa == *sb
}

func tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
