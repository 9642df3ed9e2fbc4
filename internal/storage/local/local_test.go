package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/hubble/hubble-applianceapi/internal/storage"
)

func names(seq int) string {
	if seq == 1 {
		return "a.tar.gz"
	}
	return fmt.Sprintf("a_%d.tar.gz", seq)
}

func TestTarget_CommitNeverReusesAName(t *testing.T) {
	ctx := context.Background()
	tg := New(t.TempDir())
	for i, want := range []string{"a.tar.gz", "a_2.tar.gz", "a_3.tar.gz"} {
		o, err := tg.Create(ctx, "job1")
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(o, "content %d", i)
		got, err := o.Commit(ctx, names)
		if err != nil || got != want {
			t.Fatalf("commit %d = %q, %v; want %q", i, got, err, want)
		}
		o.Abort() // no-op after commit
	}
	r, err := tg.Open(ctx, "a.tar.gz")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r)
	r.Close()
	if string(b) != "content 0" {
		t.Errorf("first archive overwritten: %q", b)
	}
	entries, _ := tg.List(ctx)
	if len(entries) != 3 {
		t.Errorf("List = %v", entries)
	}
}

func TestTarget_AbortAndPartialsLeaveNothing(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	tg := New(dir)
	o, _ := tg.Create(ctx, "job1")
	o.Write([]byte("half"))
	if l, _ := tg.List(ctx); len(l) != 0 {
		t.Errorf("partial listed: %v", l)
	}
	if err := o.Abort(); err != nil {
		t.Fatal(err)
	}
	o2, _ := tg.Create(ctx, "job2")
	o2.Write([]byte("left by a dead process"))
	o3, _ := tg.Create(ctx, "job3")
	if err := tg.RemovePartials(ctx, "job2"); err != nil {
		t.Fatal(err)
	}
	left, _ := filepath.Glob(filepath.Join(dir, ".partial-*"))
	if des, _ := os.ReadDir(dir); len(des) != 1 || len(left) != 1 || filepath.Base(left[0])[:14] != ".partial-job3-" {
		t.Errorf("want only job3's partial, got %v", left)
	}
	o3.Abort()
	if des, _ := os.ReadDir(dir); len(des) != 0 {
		t.Errorf("dir not empty: %v", des)
	}
}

type failRename struct{ osFS }

func (failRename) RenameNoReplace(string, string) error {
	return errors.New("injected: read-only file system")
}

func TestTarget_RenameFailure(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	o, _ := NewWithFS(dir, failRename{}).Create(ctx, "j")
	o.Write([]byte("x"))
	_, err := o.Commit(ctx, names)
	if !errors.Is(err, storage.ErrCommit) {
		t.Fatalf("err = %v, want ErrCommit", err)
	}
	if des, _ := os.ReadDir(dir); len(des) != 0 {
		t.Errorf("left behind: %v", des)
	}
}

func TestTarget_BadNames(t *testing.T) {
	tg := New(t.TempDir())
	for _, n := range []string{"", "..", "../x", "a/b"} {
		if _, err := tg.Open(context.Background(), n); err == nil {
			t.Errorf("Open(%q) succeeded", n)
		}
	}
}
