package storagetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/hubble/hubble-applianceapi/internal/storage"
)

func testPublishAndRead(t *testing.T, h Harness) {
	tg := h.New(t)
	big := h.Big
	if big == 0 {
		big = 3 << 20
	}
	small := []byte("small archive")
	data := random(t, big)
	if got := put(t, tg, "job1", names("small"), small); got != "small.tar.gz" {
		t.Fatalf("Commit = %q, want small.tar.gz", got)
	}
	// Written in uneven pieces, as a compressor would.
	ctx := context.Background()
	o, err := tg.Create(ctx, "job2", names("big"))
	if err != nil {
		t.Fatal(err)
	}
	for rest := data; len(rest) > 0; {
		n := min(len(rest), 1<<20+7)
		if _, err := o.Write(rest[:n]); err != nil {
			t.Fatal(err)
		}
		rest = rest[n:]
	}
	if name, err := o.Commit(ctx); err != nil || name != "big.tar.gz" {
		t.Fatalf("Commit = %q, %v", name, err)
	}
	if !bytes.Equal(read(t, tg, "small.tar.gz"), small) || !bytes.Equal(read(t, tg, "big.tar.gz"), data) {
		t.Fatal("content read back differs from what was written")
	}
	want := map[string]int64{"small.tar.gz": int64(len(small)), "big.tar.gz": int64(len(data))}
	if got := list(t, tg); !mapsEqual(got, want) {
		t.Errorf("List = %v, want %v", got, want)
	}
	// Random access from several goroutines at once, as a restore reads.
	r, err := tg.Open(ctx, "big.tar.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var wg sync.WaitGroup
	for _, off := range []int64{0, 1, int64(big) / 2, int64(big) - 10} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 10)
			n, err := r.ReadAt(buf, off)
			if n != 10 || (err != nil && err != io.EOF) || !bytes.Equal(buf, data[off:off+10]) {
				t.Errorf("ReadAt(%d) = %d, %v", off, n, err)
			}
		}()
	}
	wg.Wait()
	if n, err := r.ReadAt(make([]byte, 10), int64(big)-5); n != 5 || err != io.EOF {
		t.Errorf("ReadAt past the end = %d, %v; want 5, io.EOF", n, err)
	}
	if loc := tg.Location("big.tar.gz"); !strings.HasSuffix(loc, "big.tar.gz") {
		t.Errorf("Location = %q, want it to end with the name", loc)
	}
}

func testNeverReplaces(t *testing.T, h Harness) {
	tg := h.New(t)
	for i, want := range []string{"a.tar.gz", "a_2.tar.gz", "a_3.tar.gz"} {
		if got := put(t, tg, fmt.Sprintf("job%d", i), names("a"), []byte{byte('0' + i)}); got != want {
			t.Fatalf("publish %d = %q, want %q", i, got, want)
		}
	}
	for i, n := range []string{"a.tar.gz", "a_2.tar.gz", "a_3.tar.gz"} {
		if b := read(t, tg, n); string(b) != string(rune('0'+i)) {
			t.Errorf("%s = %q: replaced", n, b)
		}
	}
}

// testConcurrent: two writers of the same names, both created before either
// commits. A directory gives them different names; an object store may
// refuse the second with ErrCommit; neither ever replaces the other.
func testConcurrent(t *testing.T, h Harness) {
	tg := h.New(t)
	ctx := context.Background()
	o1, err := tg.Create(ctx, "job1", names("c"))
	if err != nil {
		t.Fatal(err)
	}
	o2, err := tg.Create(ctx, "job2", names("c"))
	if err != nil {
		t.Fatal(err)
	}
	o1.Write([]byte("first"))
	o2.Write([]byte("second"))
	n1, err := o1.Commit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n2, err2 := o2.Commit(ctx)
	switch {
	case err2 != nil && !errors.Is(err2, storage.ErrCommit):
		t.Fatalf("second Commit = %v, want success or ErrCommit", err2)
	case err2 == nil && n2 == n1:
		t.Fatalf("both committed as %s", n1)
	}
	if b := read(t, tg, n1); string(b) != "first" {
		t.Errorf("%s = %q: replaced", n1, b)
	}
	if err2 == nil && string(read(t, tg, n2)) != "second" {
		t.Errorf("%s holds the wrong content", n2)
	}
	o2.Abort()
	if n := h.Partials(t, tg); n != 0 {
		t.Errorf("%d partial objects left", n)
	}
}

func testPartialInvisible(t *testing.T, h Harness) {
	tg := h.New(t)
	ctx := context.Background()
	o, err := tg.Create(ctx, "job1", names("p"))
	if err != nil {
		t.Fatal(err)
	}
	defer o.Abort()
	o.Write(random(t, 1000))
	if l := list(t, tg); len(l) != 0 {
		t.Errorf("List shows an unpublished object: %v", l)
	}
	if _, err := tg.Open(ctx, "p.tar.gz"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open before Commit = %v, want os.ErrNotExist", err)
	}
}

func testAbort(t *testing.T, h Harness) {
	tg := h.New(t)
	ctx := context.Background()
	o, err := tg.Create(ctx, "job1", names("x"))
	if err != nil {
		t.Fatal(err)
	}
	o.Write(random(t, 1000))
	if err := o.Abort(); err != nil {
		t.Fatalf("Abort: %v", err)
	}
	if err := o.Abort(); err != nil {
		t.Errorf("second Abort: %v", err)
	}
	if n := h.Partials(t, tg); n != 0 {
		t.Errorf("%d partial objects left after Abort", n)
	}
	if l := list(t, tg); len(l) != 0 {
		t.Errorf("List after Abort = %v", l)
	}
}

func testRemovePartials(t *testing.T, h Harness) {
	tg := h.New(t)
	ctx := context.Background()
	h.Orphan(t, tg, "job2")
	o3, err := tg.Create(ctx, "job3", names("r"))
	if err != nil {
		t.Fatal(err)
	}
	o3.Write([]byte("job3's"))
	if n := h.Partials(t, tg); n != 2 {
		t.Fatalf("Partials = %d, want 2", n)
	}
	if err := tg.RemovePartials(ctx, "job2"); err != nil {
		t.Fatal(err)
	}
	if n := h.Partials(t, tg); n != 1 {
		t.Fatalf("after RemovePartials(job2): %d partials, want job3's only", n)
	}
	if name, err := o3.Commit(ctx); err != nil || string(read(t, tg, name)) != "job3's" {
		t.Fatalf("job3 after RemovePartials(job2): %q, %v", name, err)
	}
	h.Orphan(t, tg, "job4")
	h.Orphan(t, tg, "job5")
	if err := tg.RemovePartials(ctx, ""); err != nil {
		t.Fatal(err)
	}
	if n := h.Partials(t, tg); n != 0 {
		t.Errorf("after RemovePartials(\"\"): %d partials", n)
	}
	if l := list(t, tg); len(l) != 1 {
		t.Errorf("published objects touched: %v", l)
	}
}

func testOrphans(t *testing.T, h Harness) {
	tg := h.New(t)
	ctx := context.Background()
	put(t, tg, "job0", names("kept"), []byte("published"))
	h.Orphan(t, tg, "dead")
	live, err := tg.Create(ctx, "live", names("o"))
	if err != nil {
		t.Fatal(err)
	}
	live.Write(random(t, 100))
	removed, err := tg.RemoveOrphans(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 1 || !strings.Contains(removed[0], "dead") {
		t.Errorf("RemoveOrphans = %v, want only the dead writer's object", removed)
	}
	if n := h.Partials(t, tg); n != 1 {
		t.Errorf("%d partials left, want the live writer's only", n)
	}
	if name, err := live.Commit(ctx); err != nil || name != "o.tar.gz" {
		t.Errorf("live writer's Commit after RemoveOrphans = %q, %v", name, err)
	}
	if again, err := tg.RemoveOrphans(ctx); err != nil || len(again) != 0 {
		t.Errorf("second RemoveOrphans = %v, %v; want nothing", again, err)
	}
	if l := list(t, tg); len(l) != 2 {
		t.Errorf("published objects after RemoveOrphans: %v", l)
	}
}

func testRemove(t *testing.T, h Harness) {
	tg := h.New(t)
	ctx := context.Background()
	put(t, tg, "j", names("a"), []byte("1"))
	put(t, tg, "j", names("b"), []byte("2"))
	if err := tg.Remove(ctx, "a.tar.gz"); err != nil {
		t.Fatal(err)
	}
	if got := slices.Sorted(mapKeys(list(t, tg))); !slices.Equal(got, []string{"b.tar.gz"}) {
		t.Errorf("List after Remove = %v", got)
	}
	if err := tg.Remove(ctx, "a.tar.gz"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Remove of a missing object = %v, want os.ErrNotExist", err)
	}
	if _, err := tg.Open(ctx, "a.tar.gz"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open of a removed object = %v, want os.ErrNotExist", err)
	}
}

func testBadNames(t *testing.T, h Harness) {
	tg := h.New(t)
	for _, n := range []string{"", ".", "..", "../x", "a/b", "/etc/passwd"} {
		if r, err := tg.Open(context.Background(), n); err == nil {
			r.Close()
			t.Errorf("Open(%q) succeeded", n)
		}
		if err := tg.Remove(context.Background(), n); err == nil {
			t.Errorf("Remove(%q) succeeded", n)
		}
	}
}

func testCanceled(t *testing.T, h Harness) {
	tg := h.New(t)
	ctx, cancel := context.WithCancel(context.Background())
	o, err := tg.Create(ctx, "job1", names("k"))
	if err != nil {
		t.Fatal(err)
	}
	o.Write([]byte("x"))
	cancel()
	if _, err := o.Commit(ctx); err == nil {
		t.Error("Commit with a canceled context succeeded")
	}
	o.Abort()
	if _, err := tg.Create(ctx, "job2", names("k")); err == nil {
		t.Error("Create with a canceled context succeeded")
	}
	if n := h.Partials(t, tg); n != 0 {
		t.Errorf("%d partials left", n)
	}
	if l := list(t, tg); len(l) != 0 {
		t.Errorf("published after a canceled Commit: %v", l)
	}
}
