package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
)

// hostileBound is what a refused archive may cost temp_dir (issue 10).
const hostileBound = 64 << 20

// writeTarGz writes a .tar.gz made by add into path.
func writeTarGz(path string, add func(tw *tar.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	zw, err := gzip.NewWriterLevel(f, gzip.BestSpeed)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(zw)
	if err := add(tw); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return f.Close()
}

func addFile(tw *tar.Writer, name string, data []byte) error {
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	_, err := tw.Write(data)
	return err
}

// zeros is an endless reader of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// hostileArchives writes the hostile archives into dir, from valid (a real
// archive): name -> path.
func hostileArchives(t *testing.T, dir, valid string, bombBytes int64, floodEntries int) map[string]string {
	t.Helper()
	good, err := os.ReadFile(valid)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	mk := func(name string, add func(tw *tar.Writer) error) {
		p := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".tar.gz")
		if err := writeTarGz(p, add); err != nil {
			t.Fatalf("make %s: %v", name, err)
		}
		out[name] = p
	}
	raw := func(name string, data []byte) {
		p := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".tar.gz")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		out[name] = p
	}
	// Entries of 128 MiB: each alone fits in temp_dir, together they do not.
	const part = 128 << 20
	mk(fmt.Sprintf("gzip bomb (%d GiB of zeros in 128 MiB entries)", bombBytes>>30), func(tw *tar.Writer) error {
		for i := range bombBytes / part {
			name := fmt.Sprintf("DatabaseBackup/bomb%03d.hubble", i)
			if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: part, Typeflag: tar.TypeReg}); err != nil {
				return err
			}
			if _, err := io.CopyN(tw, zeros{}, part); err != nil {
				return err
			}
		}
		return nil
	})
	mk(fmt.Sprintf("entry flood (%d entries)", floodEntries), func(tw *tar.Writer) error {
		for i := range floodEntries {
			if err := addFile(tw, fmt.Sprintf("DatabaseBackup/f%07d.hubble", i), []byte("x")); err != nil {
				return err
			}
		}
		return nil
	})
	mk("path traversal", func(tw *tar.Writer) error { return addFile(tw, "../../evil.sh", []byte("boom")) })
	mk("absolute path", func(tw *tar.Writer) error { return addFile(tw, "/tmp/evil.sh", []byte("boom")) })
	mk("symlink", func(tw *tar.Writer) error {
		return tw.WriteHeader(&tar.Header{Name: "DatabaseBackup/link", Linkname: "/etc/passwd", Typeflag: tar.TypeSymlink})
	})
	mk("hard link", func(tw *tar.Writer) error {
		return tw.WriteHeader(&tar.Header{Name: "DatabaseBackup/hard", Linkname: "/etc/passwd", Typeflag: tar.TypeLink})
	})
	mk("device", func(tw *tar.Writer) error {
		return tw.WriteHeader(&tar.Header{Name: "DatabaseBackup/dev", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3})
	})
	mk("duplicate entries", func(tw *tar.Writer) error {
		for range 2 {
			if err := addFile(tw, "DatabaseBackup/copy.in", []byte("SELECT 1;\n")); err != nil {
				return err
			}
		}
		return nil
	})
	mk("manifest of 70 MB", func(tw *tar.Writer) error {
		return addFile(tw, "manifest.json", append(append([]byte("{"), bytes.Repeat([]byte(" "), 70<<20)...), '}'))
	})
	raw("truncated", good[:len(good)/2])
	flipped := bytes.Clone(good)
	flipped[len(flipped)/2] ^= 0xff
	raw("one byte flipped", flipped)
	raw("not gzip", bytes.Repeat([]byte("not an archive\n"), 1000))
	return out
}

// peakUse samples how much of dir's file system is used until stop closes.
func peakUse(dir string, stop <-chan struct{}) *atomic.Int64 {
	base := freeBytes(dir)
	var peak atomic.Int64
	go func() {
		for {
			if used := base - freeBytes(dir); used > peak.Load() {
				peak.Store(used)
			}
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	return &peak
}

// Hostile archives given to `restore --dry-run` (which verifies and
// extracts) and to `verify`, with temp_dir a 256 MiB tmpfs of 20,000 inodes.
func TestFaults_HostileArchives(t *testing.T) {
	sc := newScenario(t, "hostile archives (restore --dry-run, verify)",
		"refused with a message naming the problem, exit 1, in seconds, having used < 64 MB of temp_dir; temp_dir left empty; a valid archive still restores",
		0, 0)
	small := mountTmpfs(t, "size=256m,nr_inodes=20000")
	fe := newFaultEnv(t, options{tempDir: small}, "0")
	s := fe.start(t)
	if err := fe.nextBackup(s); err != nil {
		t.Fatal(err)
	}
	if err := stopService(s); err != nil {
		t.Fatal(err)
	}
	names, _ := fe.archives()
	valid := filepath.Join(fe.backupDir, names[len(names)-1])
	bomb, flood := int64(1)<<30, 50_000
	if *faultsN > 0 {
		bomb, flood = 4<<30, 300_000
	}
	made := time.Now()
	hostile := hostileArchives(t, t.TempDir(), valid, bomb, flood)
	t.Logf("made %d hostile archives in %v", len(hostile), time.Since(made).Round(time.Millisecond))
	run := func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, binary(t), args...).CombinedOutput()
		return string(out), err
	}
	var worst time.Duration
	var worstUse int64
	i := 0
	for name, path := range hostile {
		sc.run(i, func() error {
			var errs []error
			for _, cmd := range [][]string{{"verify", path}, {"restore", path, "--dry-run", "--config", fe.configPath}} {
				stop := make(chan struct{})
				peak := peakUse(small, stop)
				start := time.Now()
				out, err := run(cmd...)
				took := time.Since(start)
				close(stop)
				worst, worstUse = max(worst, took), max(worstUse, peak.Load())
				var ee *exec.ExitError
				switch {
				case !errors.As(err, &ee) || ee.ExitCode() != 1:
					errs = append(errs, fmt.Errorf("%s %s: %v, want exit 1: %s", cmd[0], name, err, tail(out, 300)))
				case peak.Load() >= hostileBound || strings.Contains(out, "no space left"):
					errs = append(errs, fmt.Errorf("%s %s: used %d MB of temp_dir before refusing (bound 64 MB): %s", cmd[0], name, peak.Load()>>20, tail(out, 200)))
				case took > time.Minute:
					errs = append(errs, fmt.Errorf("%s %s: refused after %v", cmd[0], name, took))
				}
			}
			errs = append(errs, fe.tempLeft())
			if left := leftoverProcesses(time.Second); len(left) > 0 {
				errs = append(errs, fmt.Errorf("processes left: %v", left))
			}
			return errors.Join(errs...)
		})
		i++
	}
	sc.run(i, func() error {
		out, err := run("restore", valid, "--dry-run", "--config", fe.configPath)
		if err != nil {
			return fmt.Errorf("restore --dry-run of a valid archive after the hostile ones: %v: %s", err, tail(out, 300))
		}
		return errors.Join(fe.tempLeft(), fe.verifyArchives(2))
	})
	sc.note("%d hostile archives (bomb %d GiB, flood %d entries); slowest refusal %v; most temp_dir used %d MB",
		len(hostile), bomb>>30, flood, worst.Round(10*time.Millisecond), worstUse>>20)
}
