package archive

import (
	"archive/tar"
	"bytes"
	"compress/flate"
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
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

func rawTarHeader(t testing.TB, h *tar.Header) []byte {
	t.Helper()
	b, err := tarHeader(h)
	if err != nil {
		t.Fatal(err)
	}
	// The header blocks alone: the entry stays unfinished.
	return b
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

// TestVerify_gzipBomb: a bomb without an index (one gzip member, as any
// tool writes it) is stopped at the limit, in bounded memory.
func TestVerify_gzipBomb(t *testing.T) {
	const expands = 1024 // MiB: 1 GiB from about 1 MiB
	gl := DirDatabase + "/gl_budget.hubble"
	tests := []struct {
		name string
		data func(t *testing.T) []byte
	}{
		{"one huge entry", func(t *testing.T) []byte {
			return bomb(t, rawTarHeader(t, &tar.Header{Typeflag: tar.TypeReg, Name: gl, Mode: 0o644, Size: expands * mib}), expands, nil)
		}},
		{"zeros after the end of the tar", func(t *testing.T) []byte {
			return bomb(t, nil, expands, nil) // a tar of zero blocks only: end of archive, then more
		}},
		{"directory with content", func(t *testing.T) []byte {
			return bomb(t, rawTarHeader(t, &tar.Header{Typeflag: tar.TypeDir, Name: DirDatabase + "/", Mode: 0o755, Size: expands * mib}), expands, nil)
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
				rep, err = Verify(context.Background(), bytes.NewReader(data), int64(len(data)), Limits{MaxBytes: limit})
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

// TestVerifyExtract_gzipBomb: a bomb without an index is verified before
// anything is written: refused by the limit (the free space), or, below
// it, by the manifest that does not list it; nothing is ever written.
func TestVerifyExtract_gzipBomb(t *testing.T) {
	const expands = 256
	gl := DirDatabase + "/gl_budget.hubble"
	data := bomb(t, rawTarHeader(t, &tar.Header{Typeflag: tar.TypeReg, Name: gl, Mode: 0o644, Size: expands * mib}), expands, nil)
	tests := []struct {
		name string
		lim  Limits
		want string
	}{
		{"past the free space", Limits{MaxBytes: 16 * mib}, gl + ": entry of 268435456 bytes exceeds the limit of 16777216 bytes"},
		{"within the free space", Limits{MaxBytes: 1 << 40}, "gzip: checksum mismatch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			var rep *Report
			var err error
			alloc := allocated(func() {
				rep, err = VerifyExtract(context.Background(), bytes.NewReader(data), int64(len(data)), dir, tt.lim)
			})
			if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("VerifyExtract of a gzip bomb: %v, want %q", err, tt.want)
			}
			if rep.Written != 0 {
				t.Errorf("VerifyExtract wrote %d bytes of a bomb", rep.Written)
			}
			if alloc > 16*mib {
				t.Errorf("VerifyExtract allocated %d bytes for a bomb", alloc)
			}
			assertEmpty(t, dir)
		})
	}
}

// TestVerifyExtract_entryFlood: an archive of many tiny entries (one of
// 300,000 once took 194 s and nearly all the inodes of temp_dir) is refused
// before any is written: by the free inodes, or, with inodes to spare, by
// its manifest, which does not list them.
func TestVerifyExtract_entryFlood(t *testing.T) {
	const flood = 20_000
	entries, m := sampleEntries(t)
	for i := range flood {
		entries = append(entries, reg(fmt.Sprintf("%s/f%05d", DirDatabase, i), []byte{'x'}))
	}
	data := rawArchive(t, append(entries, manifestEntry(t, m))...)
	tests := []struct {
		name   string
		inodes int64
		want   string
	}{
		{"short of inodes", 10_000, "archive has more than 10000 entries ("},
		{"inodes to spare", -1, "DatabaseBackup/f00000: not in manifest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func(f func(string) int64) { freeInodes = f }(freeInodes)
			freeInodes = func(string) int64 { return tt.inodes }
			dir := t.TempDir()
			rep, err := VerifyExtract(context.Background(), bytes.NewReader(data), int64(len(data)), dir, Limits{})
			if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("VerifyExtract of %d entries: %v, want %q", flood, err, tt.want)
			}
			if rep.Written != 0 || len(rep.Problems) > maxProblems+1 {
				t.Errorf("wrote %d bytes, listed %d problems", rep.Written, len(rep.Problems))
			}
			assertEmpty(t, dir)
		})
	}
}
