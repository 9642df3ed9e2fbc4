package ostest

import (
	"os"
	"testing"
)

func TestAdminDir(t *testing.T) {
	d := AdminDir(t, "ostest-*")
	fi, err := os.Stat(d)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o755 {
		t.Errorf("mode %v, want 0755", fi.Mode().Perm())
	}
}

func TestMeasuredCommand(t *testing.T) {
	cmd, peakKB := MeasuredCommand(t, "/bin/sh", "-c", "exit 3")
	if peakKB() != 0 {
		t.Error("a peak before the command ran")
	}
	if err := cmd.Run(); err == nil {
		t.Fatal("exit 3 reported as success")
	}
	if kb := peakKB(); kb <= 0 {
		t.Errorf("peak RSS %d kB of a command that failed, want it measured", kb)
	}
}
