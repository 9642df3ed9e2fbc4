// Package storagetest is the conformance suite every storage.Target passes
// (as restic's backend tests): create, publish without replacing, list,
// open (sequential and random access), remove, and the handling of partial
// and orphaned objects. Each target's own tests call Run with a Harness.
package storagetest

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"testing"

	"github.com/hubble/hubble-applianceapi/internal/storage"
)

// Harness gives the suite fresh, empty targets and a look behind them.
type Harness struct {
	// New returns an empty target, removed at the end of the test.
	New func(t *testing.T) storage.Target
	// Partials counts the unpublished objects the target holds (temporary
	// files, incomplete multipart uploads).
	Partials func(t *testing.T, tg storage.Target) int
	// Orphan leaves an unpublished object of tag as a writer killed with
	// -9 would: nobody writes it any more.
	Orphan func(t *testing.T, tg storage.Target, tag string)
	// Big is the size of the object that must span several of the target's
	// upload parts (0: 3 MiB).
	Big int
}

// names gives a, a_2, a_3, ... for a base name.
func names(base string) func(int) string {
	return func(seq int) string {
		if seq == 1 {
			return base + ".tar.gz"
		}
		return fmt.Sprintf("%s_%d.tar.gz", base, seq)
	}
}

// Run runs every conformance test against h.
func Run(t *testing.T, h Harness) {
	t.Run("PublishAndRead", func(t *testing.T) { testPublishAndRead(t, h) })
	t.Run("NeverReplaces", func(t *testing.T) { testNeverReplaces(t, h) })
	t.Run("ConcurrentWritersNeverReplace", func(t *testing.T) { testConcurrent(t, h) })
	t.Run("PartialInvisible", func(t *testing.T) { testPartialInvisible(t, h) })
	t.Run("AbortLeavesNothing", func(t *testing.T) { testAbort(t, h) })
	t.Run("RemovePartialsByTag", func(t *testing.T) { testRemovePartials(t, h) })
	t.Run("RemoveOrphansSparesLiveWriters", func(t *testing.T) { testOrphans(t, h) })
	t.Run("Remove", func(t *testing.T) { testRemove(t, h) })
	t.Run("BadNames", func(t *testing.T) { testBadNames(t, h) })
	t.Run("CanceledContext", func(t *testing.T) { testCanceled(t, h) })
}

func put(t *testing.T, tg storage.Target, tag string, nf func(int) string, data []byte) string {
	t.Helper()
	ctx := context.Background()
	o, err := tg.Create(ctx, tag, nf)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if _, err := o.Write(data); err != nil {
		o.Abort()
		t.Fatalf("Write: %v", err)
	}
	name, err := o.Commit(ctx)
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if err := o.Abort(); err != nil {
		t.Errorf("Abort after Commit: %v", err)
	}
	return name
}

func read(t *testing.T, tg storage.Target, name string) []byte {
	t.Helper()
	r, err := tg.Open(context.Background(), name)
	if err != nil {
		t.Fatalf("Open %s: %v", name, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	if r.Size() != int64(len(b)) {
		t.Errorf("Size() = %d, read %d bytes", r.Size(), len(b))
	}
	return b
}

func random(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func list(t *testing.T, tg storage.Target) map[string]int64 {
	t.Helper()
	es, err := tg.List(context.Background())
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	out := map[string]int64{}
	for _, e := range es {
		if e.ModTime.IsZero() {
			t.Errorf("List: %s has no modification time", e.Name)
		}
		out[e.Name] = e.Size
	}
	return out
}

func mapsEqual(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func mapKeys(m map[string]int64) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}
