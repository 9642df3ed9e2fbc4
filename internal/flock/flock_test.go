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
