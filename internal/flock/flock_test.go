package flock

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hubble/hubble-applianceapi/internal/procgroup"
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
	live, err := MkdirTemp(dir, "work-")
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(live.Path); err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
		t.Fatalf("work folder %s: %v, %v", live.Path, fi, err)
	}
	// A dead process's folder: the mark exists but nobody holds it.
	dead := filepath.Join(dir, "work-dead")
	os.Mkdir(dead, 0o700)
	os.WriteFile(filepath.Join(dead, "data"), []byte("x"), 0o600)
	os.WriteFile(dead+".owner", nil, 0o600)
	// A process killed while making its mark, long ago, and one making its
	// mark right now: only the old one is a leftover.
	old := filepath.Join(dir, "work-old")
	os.Mkdir(old, 0o700)
	os.WriteFile(old+".owner-new", nil, 0o600)
	past := time.Now().Add(-2 * InitGrace)
	os.Chtimes(old+".owner-new", past, past)
	young := filepath.Join(dir, "work-young.owner-new")
	os.WriteFile(young, nil, 0o600)
	// Another prefix is not ours to sweep.
	other := filepath.Join(dir, "else-dead")
	os.Mkdir(other, 0o700)
	os.WriteFile(other+".owner", nil, 0o600)

	removed, err := RemoveAbandoned(dir, "work-")
	if err != nil || len(removed) != 2 || removed[0] != dead || removed[1] != old {
		t.Fatalf("RemoveAbandoned = %v, %v; want %s and %s", removed, err, dead, old)
	}
	for _, p := range []string{live.Path, other, young} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s removed: %v", p, err)
		}
	}
	live.Release()
	live.Release()                                // idempotent
	if des, _ := os.ReadDir(dir); len(des) != 3 { // other, its mark, the young half-made mark
		t.Errorf("release left %v", des)
	}
}

// Sweeps in a tight loop beside work being created and released: no sweep
// ever takes a live folder or its lock (the mark is locked before a sweeper
// can see it).
func TestMkdirTemp_SweepsNeverHitLiveWork(t *testing.T) {
	dir := t.TempDir()
	stop := make(chan struct{})
	var sweeps sync.WaitGroup
	for range 2 {
		sweeps.Add(1)
		go func() {
			defer sweeps.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if removed, _ := RemoveAbandoned(dir, "work-"); len(removed) > 0 {
					t.Errorf("a sweep removed live work: %v", removed)
				}
			}
		}()
	}
	var workers sync.WaitGroup
	for range 4 {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for range 300 {
				w, err := MkdirTemp(dir, "work-")
				if err != nil {
					t.Errorf("MkdirTemp beside a sweep: %v", err)
					return
				}
				if err := os.WriteFile(filepath.Join(w.Path, "data"), []byte("x"), 0o600); err != nil {
					t.Errorf("work folder taken by a sweep: %v", err)
				}
				w.Release()
			}
		}()
	}
	workers.Wait()
	close(stop)
	sweeps.Wait()
}

// The process groups a dead process's work recorded are killed before its
// folder is removed; groups that ended are not touched.
func TestRemoveAbandoned_KillsRecordedGroups(t *testing.T) {
	dir := t.TempDir()
	w, err := MkdirTemp(dir, "work-")
	if err != nil {
		t.Fatal(err)
	}
	// A tool that left a grandchild running in its process group.
	child := exec.Command("sh", "-c", "sleep 300 & echo $!; wait")
	child.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer child.Wait()
	b := make([]byte, 32)
	n, _ := out.Read(b)
	grandchild, _ := strconv.Atoi(strings.TrimSpace(string(b[:n])))
	w.Started(child.Process.Pid)
	w.Started(999999) // not a process: ignored
	w.Ended(12345)
	// The process dies: its lock goes, the folder and mark stay.
	w.mark.Close()
	w.mark = nil

	if removed, err := RemoveAbandoned(dir, "work-"); err != nil || len(removed) != 1 {
		t.Fatalf("RemoveAbandoned = %v, %v", removed, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for procgroup.Alive(grandchild) || procgroup.Alive(child.Process.Pid) {
		if time.Now().After(deadline) {
			t.Fatalf("recorded process group %d still runs after the sweep", child.Process.Pid)
		}
		time.Sleep(10 * time.Millisecond) // polling the kernel's process table
	}
}
