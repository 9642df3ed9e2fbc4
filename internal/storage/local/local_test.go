package local

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/hubble/hubble-applianceapi/internal/storage"
	"github.com/hubble/hubble-applianceapi/internal/storage/storagetest"
)

func names(seq int) string {
	if seq == 1 {
		return "a.tar.gz"
	}
	return fmt.Sprintf("a_%d.tar.gz", seq)
}

func TestTarget_Conformance(t *testing.T) {
	storagetest.Run(t, storagetest.Harness{
		New: func(t *testing.T) storage.Target { return New(t.TempDir()) },
		Partials: func(t *testing.T, tg storage.Target) int {
			m, err := filepath.Glob(filepath.Join(tg.(*Target).Dir(), partialPrefix+"*"))
			if err != nil {
				t.Fatal(err)
			}
			return len(m)
		},
		// A dead writer's file: named like a partial, nobody holds its lock.
		Orphan: func(t *testing.T, tg storage.Target, tag string) {
			f, err := os.CreateTemp(tg.(*Target).Dir(), partialPrefix+sanitize(tag)+"-*")
			if err != nil {
				t.Fatal(err)
			}
			f.WriteString("left by a dead process")
			f.Close()
		},
	})
}

type failRename struct{ osFS }

func (failRename) RenameNoReplace(string, string) error {
	return errors.New("injected: read-only file system")
}

func TestTarget_RenameFailure(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	o, _ := NewWithFS(dir, failRename{}).Create(ctx, "j", names)
	o.Write([]byte("x"))
	_, err := o.Commit(ctx)
	if !errors.Is(err, storage.ErrCommit) {
		t.Fatalf("err = %v, want ErrCommit", err)
	}
	if des, _ := os.ReadDir(dir); len(des) != 0 {
		t.Errorf("left behind: %v", des)
	}
}

// TestTarget_OnlyRegularFiles: a symbolic link or a folder named like an
// archive is neither listed nor opened, so nothing outside the directory is
// reached through one.
func TestTarget_OnlyRegularFiles(t *testing.T) {
	dir := t.TempDir()
	outside := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(outside, []byte("outside"), 0o600)
	os.Symlink(outside, filepath.Join(dir, "link.tar.gz"))
	os.Mkdir(filepath.Join(dir, "dir.tar.gz"), 0o755)
	tg := New(dir)
	if l, err := tg.List(context.Background()); err != nil || len(l) != 0 {
		t.Errorf("List = %v, %v; want nothing", l, err)
	}
	for _, n := range []string{"link.tar.gz", "dir.tar.gz"} {
		if r, err := tg.Open(context.Background(), n); err == nil {
			r.Close()
			t.Errorf("Open(%s) succeeded", n)
		}
	}
}
