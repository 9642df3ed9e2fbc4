package archive

import (
	"archive/tar"
	"bytes"
	"compress/flate"
	"context"
	"errors"
	"runtime"
	"testing"
)

const mib = 1 << 20

// bomb returns a gzip stream of prefix, zeroMiB MiB of zeros, then suffix,
// in about 1 KiB per MiB of zeros: the deflate output for one MiB of zeros
// with a window of zeros is the same every time, so it is repeated rather
// than computed. The gzip trailer is wrong on purpose: every reader under
// test must stop at its limit long before it reaches it.
func bomb(t testing.TB, prefix []byte, zeroMiB int, suffix []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	out.Write([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255})
	var buf bytes.Buffer
	fw, err := flate.NewWriter(&buf, flate.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	flush := func(p []byte) []byte {
		start := buf.Len()
		if _, err := fw.Write(p); err != nil {
			t.Fatal(err)
		}
		if err := fw.Flush(); err != nil {
			t.Fatal(err)
		}
		return bytes.Clone(buf.Bytes()[start:])
	}
	zeros := make([]byte, mib)
	out.Write(flush(prefix))
	out.Write(flush(zeros))
	steady := flush(zeros)
	if !bytes.Equal(steady, flush(zeros)) {
		t.Fatal("deflate output for zeros is not periodic")
	}
	for i := 2; i < zeroMiB; i++ {
		out.Write(steady)
	}
	start := buf.Len()
	if _, err := fw.Write(suffix); err != nil {
		t.Fatal(err)
	}
	if err := fw.Close(); err != nil {
		t.Fatal(err)
	}
	out.Write(buf.Bytes()[start:])
	out.Write(make([]byte, 8))
	return out.Bytes()
}

func tarHeader(t testing.TB, h *tar.Header) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(h); err != nil {
		t.Fatal(err)
	}
	// The header blocks are written at once; the entry stays unfinished.
	return buf.Bytes()
}

// allocated returns the bytes f allocates.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func TestVerify_gzipBomb(t *testing.T) {
	const expands = 1024 // MiB: 1 GiB from about 1 MiB
	gl := DirDatabase + "/gl_budget.hubble"
	tests := []struct {
		name string
		data func(t *testing.T) []byte
	}{
		{"one huge entry", func(t *testing.T) []byte {
			return bomb(t, tarHeader(t, &tar.Header{Typeflag: tar.TypeReg, Name: gl, Mode: 0o644, Size: expands * mib}), expands, nil)
		}},
		{"zeros after the end of the tar", func(t *testing.T) []byte {
			return bomb(t, nil, expands, nil) // a tar of zero blocks only: end of archive, then more
		}},
		{"directory with content", func(t *testing.T) []byte {
			return bomb(t, tarHeader(t, &tar.Header{Typeflag: tar.TypeDir, Name: DirDatabase + "/", Mode: 0o755, Size: expands * mib}), expands, nil)
		}},
	}
	const limit = 16 * mib
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := tt.data(t)
			if len(data) > 8*mib {
				t.Fatalf("bomb is %d bytes compressed", len(data))
			}
			var rep *Report
			var err error
			alloc := allocated(func() {
				rep, err = Verify(context.Background(), bytes.NewReader(data), Limits{MaxBytes: limit})
			})
			if !errors.Is(err, ErrTooLarge) {
				t.Fatalf("Verify of a gzip bomb: %v, want ErrTooLarge", err)
			}
			if rep.StreamBytes > limit+1 {
				t.Errorf("Verify decompressed %d bytes, limit %d", rep.StreamBytes, limit)
			}
			if alloc > 16*mib {
				t.Errorf("Verify allocated %d bytes for a bomb", alloc)
			}
		})
	}
}

func TestExtract_gzipBomb(t *testing.T) {
	const expands = 1024
	gl := DirDatabase + "/gl_budget.hubble"
	hdr := tarHeader(t, &tar.Header{Typeflag: tar.TypeReg, Name: gl, Mode: 0o644, Size: expands * mib})
	data := bomb(t, hdr, expands, nil)
	honest := &Manifest{FormatVersion: FormatVersion, Files: []File{{Path: gl, Bytes: 1000, SHA256: sha(nil)}}}
	lying := &Manifest{FormatVersion: FormatVersion, Files: []File{{Path: gl, Bytes: expands * mib, SHA256: sha(nil)}}}
	tests := []struct {
		name string
		m    *Manifest
		lim  Limits
	}{
		{"entry larger than the manifest says", honest, Limits{}},
		{"manifest declares the bomb, limit stops it", lying, Limits{MaxBytes: 16 * mib}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			var err error
			alloc := allocated(func() {
				err = Extract(context.Background(), bytes.NewReader(data), dir, tt.m, tt.lim)
			})
			if !errors.Is(err, ErrTooLarge) {
				t.Fatalf("Extract of a gzip bomb: %v, want ErrTooLarge", err)
			}
			if alloc > 16*mib {
				t.Errorf("Extract allocated %d bytes for a bomb", alloc)
			}
			assertEmpty(t, dir)
		})
	}
}

// TestReadManifest_gzipBomb: skipping a huge entry to reach the manifest
// is bounded too.
func TestReadManifest_gzipBomb(t *testing.T) {
	hdr := tarHeader(t, &tar.Header{Typeflag: tar.TypeReg, Name: "x", Mode: 0o644, Size: 1024 * mib})
	data := bomb(t, hdr, 1024, nil)
	if _, err := ReadManifest(context.Background(), bytes.NewReader(data), Limits{MaxBytes: 16 * mib}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("ReadManifest of a gzip bomb: %v, want ErrTooLarge", err)
	}
}
