package flock

import (
	"os"
	"path/filepath"
	"testing"
)

func TestAbandoned(t *testing.T) {
	p := filepath.Join(t.TempDir(), "work")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := Hold(f); err != nil {
		t.Fatal(err)
	}
	// A second open file, even in this process, sees the writer alive.
	if gone, err := Abandoned(p); err != nil || gone {
		t.Fatalf("Abandoned while held = %v, %v", gone, err)
	}
	f.Close()
	if gone, err := Abandoned(p); err != nil || !gone {
		t.Fatalf("Abandoned after close = %v, %v", gone, err)
	}
	if _, err := Abandoned(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Fatal("Abandoned of a missing file succeeded")
	}
}

func TestMkdirTemp_RemoveAbandoned(t *testing.T) {
	dir := t.TempDir()
	live, release, err := MkdirTemp(dir, "work-")
	if err != nil {
		t.Fatal(err)
	}
	// A dead process's folder: the mark exists but nobody holds it.
	dead := filepath.Join(dir, "work-dead")
	os.Mkdir(dead, 0o700)
	os.WriteFile(filepath.Join(dead, "data"), []byte("x"), 0o600)
	os.WriteFile(dead+".owner", nil, 0o600)
	// Another prefix is not ours to sweep.
	other := filepath.Join(dir, "else-dead")
	os.Mkdir(other, 0o700)
	os.WriteFile(other+".owner", nil, 0o600)

	removed, err := RemoveAbandoned(dir, "work-")
	if err != nil || len(removed) != 1 || removed[0] != dead {
		t.Fatalf("RemoveAbandoned = %v, %v; want only %s", removed, err, dead)
	}
	for _, p := range []string{live, other} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s removed: %v", p, err)
		}
	}
	release()
	if des, _ := os.ReadDir(dir); len(des) != 2 { // other and its mark
		t.Errorf("release left %v", des)
	}
}
