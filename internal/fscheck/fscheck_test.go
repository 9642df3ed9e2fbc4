package fscheck

import (
	"errors"
	"io/fs"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// hungFS is a mount whose server is gone: statfs and stat block until the
// test ends (release), counting the calls that reached it.
type hungFS struct {
	calls   atomic.Int64
	release chan struct{}
}

func (h *hungFS) statfs(string) (uint64, error) {
	h.calls.Add(1)
	<-h.release
	return 0, errors.New("stale file handle")
}

func (h *hungFS) stat(string) (fs.FileInfo, error) {
	h.calls.Add(1)
	<-h.release
	return nil, errors.New("stale file handle")
}

// A statfs that never returns answers ErrTimeout after the deadline, to
// every caller at once, and only one call ever reaches the mount however
// many requests ask.
func TestChecker_HungMount(t *testing.T) {
	h := &hungFS{release: make(chan struct{})}
	defer close(h.release)
	c := NewWith(100*time.Millisecond, h.stat, h.statfs, time.Now)
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			_, err := c.FreeBytes("/import/dbbackup")
			if !errors.Is(err, ErrTimeout) {
				t.Errorf("FreeBytes of a hung mount: %v, want ErrTimeout", err)
			}
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("FreeBytes took %v", took)
			}
		}()
	}
	wg.Wait()
	if _, err := c.Stat("/import/dbbackup"); !errors.Is(err, ErrTimeout) {
		t.Errorf("Stat of a hung mount: %v, want ErrTimeout", err)
	}
	if n := h.calls.Load(); n != 1 {
		t.Errorf("%d calls reached the hung mount, want 1", n)
	}
	// Another path is not held up by it.
	other := NewWith(100*time.Millisecond, os.Stat, func(string) (uint64, error) { return 42, nil }, time.Now)
	if n, err := other.FreeBytes(t.TempDir()); err != nil || n != 42 {
		t.Errorf("FreeBytes of a healthy path = %d, %v", n, err)
	}
}

// The last value measured stays available with its time; a call that
// returns after its caller gave up still records what it measured.
func TestChecker_Last(t *testing.T) {
	now := time.Date(2026, 11, 30, 2, 0, 0, 0, time.UTC)
	slow := make(chan struct{})
	var free atomic.Uint64
	free.Store(1 << 30)
	c := NewWith(50*time.Millisecond, os.Stat, func(string) (uint64, error) {
		<-slow
		return free.Load(), nil
	}, func() time.Time { return now })
	if _, ok := c.Last("/b"); ok {
		t.Fatal("Last before any measurement")
	}
	close(slow)
	if n, err := c.FreeBytes("/b"); err != nil || n != 1<<30 {
		t.Fatalf("FreeBytes = %d, %v", n, err)
	}
	if got, ok := c.Last("/b"); !ok || got != (Free{Bytes: 1 << 30, At: now}) {
		t.Errorf("Last = %+v, %v", got, ok)
	}

	late := make(chan struct{})
	done := make(chan struct{})
	var once sync.Once
	c2 := NewWith(20*time.Millisecond, os.Stat, func(string) (uint64, error) {
		<-late
		defer once.Do(func() { close(done) })
		return 7, nil
	}, func() time.Time { return now })
	if _, err := c2.FreeBytes("/b"); !errors.Is(err, ErrTimeout) {
		t.Fatalf("FreeBytes = %v, want ErrTimeout", err)
	}
	close(late)
	<-done
	deadline := time.Now().Add(5 * time.Second)
	for {
		if got, ok := c2.Last("/b"); ok && got.Bytes == 7 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the late answer was not recorded")
		}
		time.Sleep(time.Millisecond) // the call's goroutine records right after returning
	}
	// The path is free again: the next check runs.
	if n, err := c2.FreeBytes("/b"); err != nil || n != 7 {
		t.Errorf("FreeBytes after the late answer = %d, %v", n, err)
	}
}

func TestChecker_Real(t *testing.T) {
	c := New(0)
	dir := t.TempDir()
	if n, err := c.FreeBytes(dir); err != nil || n == 0 {
		t.Errorf("FreeBytes(%s) = %d, %v", dir, n, err)
	}
	if fi, err := c.Stat(dir); err != nil || !fi.IsDir() {
		t.Errorf("Stat(%s) = %v, %v", dir, fi, err)
	}
	if _, err := c.Stat(dir + "/missing"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat of a missing path: %v", err)
	}
}
