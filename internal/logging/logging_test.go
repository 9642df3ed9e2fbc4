package logging

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// After logrotate moves the file away, Reopen starts a new one at the
// configured path; records before it stay in the moved file.
func TestOutput_Reopen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ybapi.log")
	var stderr bytes.Buffer
	log, out, err := Open(path, &stderr, slog.LevelInfo)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	log.Info("before rotation")
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	log.Info("still to the moved file")
	if err := out.Reopen(); err != nil {
		t.Fatal(err)
	}
	log.Info("after reopen")
	for file, want := range map[string][]string{
		path + ".1": {"before rotation", "still to the moved file"},
		path:        {"after reopen"},
	} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Count(string(b), "\n"); got != len(want) {
			t.Errorf("%s holds %d records, want %d:\n%s", file, got, len(want), b)
		}
		for _, w := range want {
			if !strings.Contains(string(b), w) {
				t.Errorf("%s lacks %q", file, w)
			}
		}
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("new log file: %v, %v", fi, err)
	}
	if !strings.Contains(stderr.String(), "after reopen") {
		t.Errorf("stderr lacks records:\n%s", stderr.String())
	}
}

func TestOutput_NoFile(t *testing.T) {
	var stderr bytes.Buffer
	log, out, err := Open("", &stderr, slog.LevelInfo)
	if err != nil {
		t.Fatal(err)
	}
	log.Info("x")
	if err := out.Reopen(); err != nil {
		t.Error(err)
	}
	if err := out.Close(); err != nil {
		t.Error(err)
	}
	if _, _, err := Open(filepath.Join(t.TempDir(), "missing", "x.log"), &stderr, slog.LevelInfo); err == nil {
		t.Error("Open in a missing folder succeeded")
	}
}
