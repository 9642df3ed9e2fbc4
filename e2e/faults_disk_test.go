package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// mountTmpfs mounts a small tmpfs at a new directory (we run as root, in CI
// too): a full disk that is real, not simulated.
func mountTmpfs(t *testing.T, opts string) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", opts, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs -o %s (needs root): %v: %s", opts, err, out)
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
	return dir
}

func freeBytes(dir string) int64 {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return -1
	}
	return int64(st.Bavail) * st.Bsize
}

// fill writes a filler file in dir until only leave bytes are free (0: until
// the file system refuses), and returns its path.
func fill(dir string, leave int64) (string, error) {
	path := filepath.Join(dir, ".filler")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return "", err
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for {
		n := int64(len(buf))
		if free := freeBytes(dir) - leave; free < n {
			n = free
		}
		if n <= 0 {
			return path, nil
		}
		if _, err := f.Write(buf[:n]); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				return path, nil
			}
			return path, err
		}
	}
}

// Disk full in temp_dir and in backup_dir: at a random fill level, from
// "nothing left" (refused by the pre-flight check) to "almost enough" (the
// write fails in the middle).
func TestFaults_DiskFull(t *testing.T) {
	for _, where := range []string{"temp_dir", "backup_dir"} {
		t.Run(where, func(t *testing.T) {
			sc := newScenario(t, "disk full in "+where,
				"Error with the reason (pre-flight or \"no space left on device\"), or Success if it fitted; nothing left; space freed, the next backup succeeds",
				3, 10)
			small := mountTmpfs(t, "size=32m")
			o := options{}
			if where == "temp_dir" {
				o.tempDir = small
			} else {
				o.backupDir = small
			}
			fe := newFaultEnv(t, o, "0")
			s := fe.start(t)
			defer stopService(s)
			outcomes := map[string]int{}
			for i := range sc.n {
				sc.run(i, func() error {
					// Every other run leaves just past the pre-flight minimum
					// (1 MiB) and short of the ~1.2 MB the backup writes there.
					leave := sc.rnd.Int64N(2 << 20)
					if i%2 == 1 {
						leave = 1<<20 + 16<<10 + sc.rnd.Int64N(128<<10)
					}
					filler, err := fill(small, leave)
					if err != nil {
						return err
					}
					var errs []error
					st, err := s.tryExecute()
					if err != nil {
						return err
					}
					final, err := s.waitTerminal(st.ID, 2*time.Minute)
					errs = append(errs, err)
					switch {
					case final.Status == "Success":
						outcomes["Success"]++
					case final.Status == "Error" && (strings.Contains(final.Message, "no space left on device") || strings.Contains(final.Message, "Not enough space")):
						if strings.Contains(final.Message, "Not enough space") {
							outcomes["refused by pre-flight"]++
						} else {
							outcomes["no space mid-write"]++
						}
					default:
						errs = append(errs, fmt.Errorf("job ended %s: %s", final.Status, final.Message))
					}
					errs = append(errs, os.Remove(filler), fe.settled(s), fe.verifyArchives(2), fe.nextBackup(s))
					return errors.Join(errs...)
				})
			}
			sc.note("%s", countOutcomes(outcomes))
		})
	}
}

// state_dir full: Execute answers 503 (never 500) while no job can be
// recorded; a job that finished while its record could not be written
// answers its truth, and after a kill -9 and restart (space freed) a job
// whose archive was published is Success, never "interrupted".
func TestFaults_StateDirFull(t *testing.T) {
	sc := newScenario(t, "disk full in state_dir",
		"Execute answers 200 or 503 with a reason, never 500; after kill -9 and restart every job is final with a reason, and one that had succeeded is still Success",
		3, 10)
	fe := newFaultEnv(t, options{}, "0")
	if err := os.MkdirAll(fe.stateDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", fe.stateDir).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs (needs root): %v: %s", err, out)
	}
	t.Cleanup(func() { syscall.Unmount(fe.stateDir, syscall.MNT_DETACH) })
	codes := map[string]int{}
	for i := range sc.n {
		sc.run(i, func() error {
			s := fe.start(t)
			if err := fe.nextBackup(s); err != nil {
				return err
			}
			filler, err := fill(fe.stateDir, sc.rnd.Int64N(16<<10))
			if err != nil {
				return err
			}
			var errs []error
			seen := map[string]status{}
			for range 5 {
				code, b, err := s.call("POST", "/api/Backup/Execute")
				if err != nil {
					return err
				}
				codes[fmt.Sprint(code)]++
				var st status
				if jerr := json.Unmarshal(b, &st); jerr != nil || st.Status == "" {
					errs = append(errs, fmt.Errorf("Execute answered HTTP %d %q", code, b))
					continue
				}
				switch code {
				case http.StatusOK:
					if st, err = s.waitTerminal(st.ID, 2*time.Minute); err != nil {
						errs = append(errs, err)
					}
					seen[st.ID] = st
				case http.StatusServiceUnavailable:
					if st.ID != "" || st.Status != "Error" || st.Message == "" {
						errs = append(errs, fmt.Errorf("503 answer %+v", st))
					}
				default:
					errs = append(errs, fmt.Errorf("Execute answered HTTP %d %s", code, b))
				}
			}
			s.killService(t)
			errs = append(errs, os.Remove(filler))
			s = fe.start(t)
			defer stopService(s)
			for id, before := range seen {
				after, err := s.waitTerminal(id, 30*time.Second)
				errs = append(errs, err)
				if before.Status == "Success" && after.Status != "Success" {
					errs = append(errs, fmt.Errorf("job %s answered Success, after the restart %s: %s", id, after.Status, after.Message))
				}
			}
			errs = append(errs, fe.tempLeft(), fe.verifyArchives(2), fe.nextBackup(s), fe.settled(s))
			return errors.Join(errs...)
		})
	}
	sc.note("Execute answers by HTTP code: %s", countOutcomes(codes))
}
