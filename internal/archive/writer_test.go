package archive

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestWriter_headers(t *testing.T) {
	s := writeSample(t)
	// The standard library's reader, as gunzip: one stream of many members.
	gz, err := gzip.NewReader(bytes.NewReader(s.data))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		wantMode := int64(0o644)
		if h.Typeflag == tar.TypeDir {
			wantMode = 0o755
		}
		if d := time.Since(h.ModTime); h.Mode != wantMode || h.Uid != 0 || h.Gid != 0 || d < 0 || d > time.Hour {
			t.Errorf("%s: mode %o uid %d gid %d mtime %v", h.Name, h.Mode, h.Uid, h.Gid, h.ModTime)
		}
		if h.Format == tar.FormatGNU {
			t.Errorf("%s: GNU format, want USTAR/PAX", h.Name)
		}
	}
	if rest, err := io.ReadAll(gz); err != nil || len(rest) != 0 {
		t.Errorf("after the end-of-archive marker: %d bytes, %v", len(rest), err)
	}
	want := []string{"AttunityBackup/", "DatabaseBackup/", ReplicationFile, CopyInFile, CopyOutFile,
		"DatabaseBackup/Long_Name-Long_Name-Long_Name-Long_Name-Long_Name-Long_Name-Long_Name-Long_Name-Long_Name-Long_Name-.hubble",
		"DatabaseBackup/ap_budget.hubble", "DatabaseBackup/empty.hubble", "DatabaseBackup/gl_budget.hubble", ManifestName}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}
}

// TestWriter_realTools extracts a written archive with gunzip + tar xvf and
// with tar xzf, as the appliance's runbook does.
func TestWriter_realTools(t *testing.T) {
	s := writeSample(t)
	for _, tool := range []string{"gunzip", "tar"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed by this test: %v", tool, err)
		}
	}
	name := Name(s.manifest.CreatedTime, 1)
	tests := []struct {
		name string
		cmds [][]string
	}{
		{"gunzip then tar xvf", [][]string{{"gunzip", name}, {"tar", "xvf", strings.TrimSuffix(name, ".gz")}}},
		{"tar xzf", [][]string{{"tar", "xzf", name}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, name), s.data, 0o600); err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(dir, "out")
			if err := os.Mkdir(out, 0o700); err != nil {
				t.Fatal(err)
			}
			for _, c := range tt.cmds {
				args := c[1:]
				if c[0] == "tar" {
					args[len(args)-1] = filepath.Join(dir, args[len(args)-1])
					args = append(args, "-C", out)
				} else {
					args[len(args)-1] = filepath.Join(dir, args[len(args)-1])
				}
				if b, err := exec.Command(c[0], args...).CombinedOutput(); err != nil {
					t.Fatalf("%s %v: %v\n%s", c[0], args, err, b)
				}
			}
			if diff := cmp.Diff(s.files, readTree(t, out)); diff != "" {
				t.Errorf("extracted tree (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWriter_rejects(t *testing.T) {
	ctx := context.Background()
	w, err := NewWriter(io.Discard, 6)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"", "/abs", "../up", "a/../b", "a//b", "./a", "a/", `a\b`, "a\x00b", ManifestName} {
		if _, err := w.AddBytes(ctx, name, nil); err == nil {
			t.Errorf("AddBytes(%q) succeeded", name)
		}
	}
	if _, err := w.AddBytes(ctx, "x", []byte("1")); err != nil {
		t.Fatal(err)
	}
	if _, err := w.AddBytes(ctx, "x", []byte("2")); err == nil {
		t.Error("AddBytes of a duplicate name succeeded")
	}
	if _, err := w.AddFile(ctx, "missing", filepath.Join(t.TempDir(), "nope")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("AddFile of a missing file: %v", err)
	}
	if _, err := w.AddFile(ctx, "dir", t.TempDir()); err == nil {
		t.Error("AddFile of a directory succeeded")
	}
	// Nothing above broke the archive.
	if _, err := w.AddBytes(ctx, "y", []byte("1")); err != nil {
		t.Fatal(err)
	}
}

func TestWriter_AddFile_canceled(t *testing.T) {
	src := filepath.Join(t.TempDir(), "big")
	if err := os.WriteFile(src, make([]byte, 3*copyChunk), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	w, err := NewWriter(io.Discard, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.AddFile(ctx, "big", src); !errors.Is(err, context.Canceled) {
		t.Errorf("AddFile with a canceled context: %v", err)
	}
	if _, err := w.AddBytes(context.Background(), "x", nil); err != nil {
		t.Errorf("AddBytes after a refused (nothing written) AddFile: %v", err)
	}
	if err := finish(t, w); err != nil {
		t.Errorf("Finish after a refused (nothing written) AddFile: %v", err)
	}
}

// cancelAfter cancels the context once the destination has received n
// bytes: n=1 cancels after AddFile has written the member of its tar header
// and before it copies the first chunk.
type cancelAfter struct {
	n      int
	cancel context.CancelFunc
}

func (c *cancelAfter) Write(p []byte) (int, error) {
	c.n -= len(p)
	if c.n <= 0 {
		c.cancel()
	}
	return len(p), nil
}

func TestWriter_AddFile_canceledMidway(t *testing.T) {
	src := filepath.Join(t.TempDir(), "big")
	if err := os.WriteFile(src, make([]byte, 3*copyChunk), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w, err := NewWriter(&cancelAfter{n: 1, cancel: cancel}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.AddFile(ctx, "big", src); !errors.Is(err, context.Canceled) {
		t.Errorf("AddFile canceled midway: %v", err)
	}
	if _, err := w.AddBytes(context.Background(), "after", nil); err == nil {
		t.Error("AddBytes after a canceled AddFile succeeded")
	}
	if err := finish(t, w); !errors.Is(err, context.Canceled) {
		t.Errorf("Finish after a canceled AddFile: %v", err)
	}
}

type failingWriter struct{ after int }

func (f *failingWriter) Write(p []byte) (int, error) {
	if f.after -= len(p); f.after < 0 {
		return 0, errors.New("disk full")
	}
	return len(p), nil
}

func TestWriter_destinationFails(t *testing.T) {
	w, err := NewWriter(&failingWriter{after: 100}, 6)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	data := bytes.Repeat(tableRows(1, 2000), 10)
	var werr error
	for i := 0; i < 4 && werr == nil; i++ {
		_, werr = w.AddBytes(ctx, "f"+strings.Repeat("x", i), data)
	}
	cerr := finish(t, w)
	if werr == nil && cerr == nil {
		t.Fatal("no error although the destination fails")
	}
	if err := errors.Join(werr, cerr); !strings.Contains(err.Error(), "disk full") {
		t.Errorf("error does not carry the destination's failure: %v", err)
	}
}

// TestWriter_Files checks the File AddFile returns and the running list.
func TestWriter_Files(t *testing.T) {
	src := filepath.Join(t.TempDir(), "f")
	data := tableRows(9, 5000)
	if err := os.WriteFile(src, data, 0o600); err != nil {
		t.Fatal(err)
	}
	w, err := NewWriter(io.Discard, 6)
	if err != nil {
		t.Fatal(err)
	}
	f, err := w.AddFile(context.Background(), "f", src)
	if err != nil {
		t.Fatal(err)
	}
	if err := finish(t, w); err != nil {
		t.Fatal(err)
	}
	want := File{Path: "f", Bytes: int64(len(data)), SHA256: sha(data)}
	if diff := cmp.Diff(want, f); diff != "" {
		t.Errorf("AddFile (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]File{want}, w.Files()); diff != "" {
		t.Errorf("Files (-want +got):\n%s", diff)
	}
}

// finish ends w's archive with a manifest listing the files written.
func finish(t testing.TB, w *Writer) error {
	t.Helper()
	return w.Finish(context.Background(), &Manifest{FormatVersion: FormatVersion, Files: w.Files()})
}
