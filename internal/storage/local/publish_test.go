package local

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// barrierFS holds every publish until n of them have arrived, so writers
// that would race for a name in the same second really do.
type barrierFS struct {
	FS
	n       int
	mu      sync.Mutex
	arrived int
	all     chan struct{}
}

func newBarrier(fsys FS, n int) *barrierFS {
	return &barrierFS{FS: fsys, n: n, all: make(chan struct{})}
}

func (b *barrierFS) wait() {
	b.mu.Lock()
	b.arrived++
	if b.arrived == b.n {
		close(b.all)
	}
	b.mu.Unlock()
	<-b.all
}

func (b *barrierFS) RenameNoReplace(o, n string) error {
	b.wait()
	return b.FS.RenameNoReplace(o, n)
}

// nfsFS answers like NFS: no atomic no-replace rename.
type nfsFS struct{ osFS }

func (nfsFS) RenameNoReplace(o, n string) error {
	return &os.LinkError{Op: "renameat2", Old: o, New: n, Err: unix.EINVAL}
}

// Two processes (two Targets: nothing shared in memory) publishing in the
// same second for the same name: both archives survive, under the name and
// the name with _2, on a filesystem with renameat2 and on one without.
func TestTarget_CommitRaceNeverReplaces(t *testing.T) {
	for _, tt := range []struct {
		name string
		fs   FS
	}{{"renameat2", osFS{}}, {"link fallback (NFS)", nfsFS{}}} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			const writers = 4
			fsys := newBarrier(tt.fs, writers)
			var wg sync.WaitGroup
			got := make([]string, writers)
			for i := range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					o, err := NewWithFS(dir, fsys).Create(ctx, fmt.Sprintf("job%d", i), names)
					if err != nil {
						t.Error(err)
						return
					}
					fmt.Fprintf(o, "archive of writer %d", i)
					if got[i], err = o.Commit(ctx); err != nil {
						t.Error(err)
					}
				}()
			}
			wg.Wait()
			des, _ := os.ReadDir(dir)
			if len(des) != writers {
				t.Errorf("directory holds %d files, want %d: %v", len(des), writers, des)
			}
			seen := map[string]bool{}
			for i, name := range got {
				b, err := os.ReadFile(filepath.Join(dir, name))
				if err != nil || string(b) != fmt.Sprintf("archive of writer %d", i) {
					t.Errorf("writer %d published %q holding %q (%v): replaced by another", i, name, b, err)
				}
				if seen[name] {
					t.Errorf("name %s published twice", name)
				}
				seen[name] = true
			}
			if !seen["a.tar.gz"] || !seen["a_2.tar.gz"] {
				t.Errorf("names %v, want a.tar.gz, a_2.tar.gz, ...", got)
			}
		})
	}
}

// Sweeps of orphaned partials in a tight loop beside writers creating,
// writing, publishing and aborting: no writer ever fails, no partial of a
// live writer is removed, nothing is left.
func TestTarget_SweepsNeverHitLiveWriters(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	tg := New(dir)
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
				if removed, _ := New(dir).RemoveOrphans(ctx); len(removed) > 0 {
					t.Errorf("a sweep removed a live writer's partial: %v", removed)
				}
			}
		}()
	}
	var writers sync.WaitGroup
	for w := range 4 {
		writers.Add(1)
		go func() {
			defer writers.Done()
			for i := range 200 {
				name := func(seq int) string { return fmt.Sprintf("w%d-%d-%d.tar.gz", w, i, seq) }
				o, err := tg.Create(ctx, fmt.Sprintf("w%d", w), name)
				if err != nil {
					t.Errorf("Create beside a sweep: %v", err)
					return
				}
				if _, err := io.WriteString(o, "data"); err != nil {
					t.Errorf("write: %v", err)
				}
				if i%2 == 0 {
					o.Abort()
					continue
				}
				if _, err := o.Commit(ctx); err != nil {
					t.Errorf("Commit beside a sweep: %v", err)
				}
			}
		}()
	}
	writers.Wait()
	close(stop)
	sweeps.Wait()
	des, _ := os.ReadDir(dir)
	for _, de := range des {
		if strings.HasPrefix(de.Name(), ".") {
			t.Errorf("left behind: %s", de.Name())
		}
	}
	if len(des) != 4*100 {
		t.Errorf("%d archives published, want 400", len(des))
	}
}
