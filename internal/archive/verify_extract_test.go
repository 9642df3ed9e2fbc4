package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestVerifyExtract_roundTrip(t *testing.T) {
	s := writeSample(t)
	dir := t.TempDir()
	rep, err := VerifyExtract(context.Background(), bytes.NewReader(s.data), dir, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(s.files, readTree(t, dir)); diff != "" {
		t.Errorf("extracted tree (-want +got):\n%s", diff)
	}
	want, err := Verify(context.Background(), bytes.NewReader(s.data), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, rep); diff != "" {
		t.Errorf("report differs from Verify's (-Verify +VerifyExtract):\n%s", diff)
	}
}

// TestVerifyExtract_refuses: every damage Verify finds is refused with the
// same problem text, and nothing is left in the directory.
func TestVerifyExtract_refuses(t *testing.T) {
	for _, d := range damages() {
		t.Run(d.name, func(t *testing.T) {
			dir := t.TempDir()
			rep, err := VerifyExtract(context.Background(), bytes.NewReader(d.archive(t)), dir, Limits{})
			if err == nil {
				t.Fatal("VerifyExtract succeeded")
			}
			for _, k := range append([]error{ErrDamaged}, d.kinds...) {
				if !errors.Is(err, k) {
					t.Errorf("error %q does not wrap %q", err, k)
				}
			}
			for _, w := range d.want {
				if !strings.Contains(err.Error(), w) && !containsSubstring(rep.Problems, w) {
					t.Errorf("error %q: no problem mentions %q", err, w)
				}
			}
			if rep.Manifest != nil {
				t.Error("a refused archive's report holds a manifest")
			}
			assertEmpty(t, dir)
		})
	}
}

func TestVerifyExtract_gzipBomb(t *testing.T) {
	const expands = 1024
	gl := DirDatabase + "/gl_budget.hubble"
	hdr := tarHeader(t, &tar.Header{Typeflag: tar.TypeReg, Name: gl, Mode: 0o644, Size: expands * mib})
	data := bomb(t, hdr, expands, nil)
	dir := t.TempDir()
	var err error
	alloc := allocated(func() {
		_, err = VerifyExtract(context.Background(), bytes.NewReader(data), dir, Limits{MaxBytes: 16 * mib})
	})
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "exceeds the limit") {
		t.Fatalf("VerifyExtract of a gzip bomb: %v, want ErrTooLarge", err)
	}
	if alloc > 16*mib {
		t.Errorf("VerifyExtract allocated %d bytes for a bomb", alloc)
	}
	assertEmpty(t, dir)
}

func TestVerifyExtract_target(t *testing.T) {
	s := writeSample(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "x"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyExtract(context.Background(), bytes.NewReader(s.data), dir, Limits{}); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("VerifyExtract into a non-empty directory: %v, want refused", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	empty := t.TempDir()
	if _, err := VerifyExtract(ctx, bytes.NewReader(s.data), empty, Limits{}); !errors.Is(err, context.Canceled) {
		t.Errorf("VerifyExtract with a canceled context: %v, want context.Canceled", err)
	}
	assertEmpty(t, empty)
}

type failAfter struct{ n int }

func (f *failAfter) Write(p []byte) (int, error) {
	if f.n -= len(p); f.n < 0 {
		return 0, errors.New("no space left on device")
	}
	return len(p), nil
}

func TestCopyAsync(t *testing.T) {
	src := bytes.Repeat([]byte("0123456789abcdef"), 100_000) // 1.6 MB, several chunks
	tests := []struct {
		name     string
		w        io.Writer
		wantErr  bool
		wantRead bool // the whole source read
	}{
		{"copies and hashes", io.Discard, false, true},
		{"stops reading after a write error", &failAfter{n: 300 << 10}, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := sha256.New()
			n, rerr, werr := copyAsync(tt.w, h, bytes.NewReader(src))
			if rerr != nil {
				t.Fatalf("read error %v", rerr)
			}
			if (werr != nil) != tt.wantErr {
				t.Fatalf("write error %v, want error %v", werr, tt.wantErr)
			}
			if (n == int64(len(src))) != tt.wantRead {
				t.Errorf("read %d of %d bytes", n, len(src))
			}
			if !tt.wantErr && hex.EncodeToString(h.Sum(nil)) != sha(src) {
				t.Error("sha256 differs")
			}
		})
	}
}
