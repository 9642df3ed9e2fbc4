package journal

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestJournal_Lifecycle(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "j")
	j, prev, err := Open(dir, "r1")
	if err != nil || prev != nil {
		t.Fatalf("Open = %v, %q", err, prev)
	}
	if err := j.Write([]byte("one")); err != nil {
		t.Fatal(err)
	}
	if err := j.Write([]byte("two")); err != nil {
		t.Fatal(err)
	}
	// A second holder (even in this process: the lock is per open file) is
	// refused while the first lives, and Peek says so.
	var busy *BusyError
	if _, _, err := Open(dir, "r1"); !errors.As(err, &busy) || busy.PID != os.Getpid() {
		t.Fatalf("second Open = %v, want busy by pid %d", err, os.Getpid())
	}
	if _, b, err := Peek(dir, "r1"); err != nil || b == nil {
		t.Fatalf("Peek of a held journal = %v, %v", b, err)
	}
	// Another name is another journal.
	other, _, err := Open(dir, "r2")
	if err != nil {
		t.Fatal(err)
	}
	other.Close()
	// The holder dies (its lock goes, the record stays): the next one finds it.
	j.lock.Close()
	j.lock = nil
	if prev, b, err := Peek(dir, "r1"); err != nil || b != nil || string(prev) != "two" {
		t.Fatalf("Peek after death = %q, %v, %v", prev, b, err)
	}
	j2, prev, err := Open(dir, "r1")
	if err != nil || string(prev) != "two" {
		t.Fatalf("Open after death = %q, %v", prev, err)
	}
	if err := j2.Close(); err != nil {
		t.Fatal(err)
	}
	// Closed: nothing is left, not even the folder.
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the folder is left: %v", err)
	}
	j3, prev, err := Open(dir, "r1")
	if err != nil || prev != nil {
		t.Fatalf("Open after Close = %q, %v", prev, err)
	}
	// Release keeps the record for the next holder.
	j3.Write([]byte("three"))
	j3.Release()
	j4, prev, err := Open(dir, "r1")
	if err != nil || string(prev) != "three" {
		t.Fatalf("Open after Release = %q, %v", prev, err)
	}
	j4.Close()
}
