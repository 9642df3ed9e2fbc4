package archive

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// legacySample is the sample's content as release 0.1.0 wrote archives:
// one gzip member, no index.
func legacySample(t *testing.T) sample {
	entries, m := sampleEntries(t)
	mj, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	tables, other := sampleFiles()
	files := map[string][]byte{ManifestName: mj}
	for k, v := range tables {
		files[k] = v
	}
	for k, v := range other {
		files[k] = v
	}
	return sample{data: rawArchive(t, append(entries, reg(ManifestName, mj))...), manifest: m, files: files}
}

func TestVerifyExtract_roundTrip(t *testing.T) {
	for _, tt := range []struct {
		name    string
		s       func(t *testing.T) sample
		indexed bool
	}{
		{"indexed", func(t *testing.T) sample { return writeSample(t) }, true},
		{"no index (release 0.1.0)", legacySample, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.s(t)
			dir := t.TempDir()
			rep, err := VerifyExtract(context.Background(), bytes.NewReader(s.data), int64(len(s.data)), dir, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(s.files, readTree(t, dir)); diff != "" {
				t.Errorf("extracted tree (-want +got):\n%s", diff)
			}
			var total int64
			for _, b := range s.files {
				total += int64(len(b))
			}
			if rep.Indexed != tt.indexed || rep.Written != total || rep.Bytes != total || rep.Files != len(s.files) {
				t.Errorf("report %+v, want indexed %v, %d files, %d bytes written", rep, tt.indexed, len(s.files), total)
			}
			if diff := cmp.Diff(s.manifest, rep.Manifest); diff != "" {
				t.Errorf("manifest (-want +got):\n%s", diff)
			}
			assertModes(t, dir)
		})
	}
}

func assertModes(t *testing.T, dir string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if perm := fi.Mode().Perm(); perm&^0o750 != 0 || fi.Mode()&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky) != 0 {
			t.Errorf("%s: mode %v, want at most 0750 without special bits", p, fi.Mode())
		}
		if !d.IsDir() && fi.Mode().Perm()&0o111 != 0 {
			t.Errorf("%s: executable file mode %v", p, fi.Mode())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestVerifyExtract_refuses: every damage Verify finds is refused, with the
// same problem text, and nothing is left in the directory.
func TestVerifyExtract_refuses(t *testing.T) {
	for _, d := range damages() {
		t.Run(d.name, func(t *testing.T) {
			dir := t.TempDir()
			data := d.archive(t)
			rep, err := VerifyExtract(context.Background(), bytes.NewReader(data), int64(len(data)), dir, Limits{})
			if err == nil {
				t.Fatal("VerifyExtract succeeded")
			}
			for _, k := range append([]error{ErrDamaged}, d.kinds...) {
				if !errors.Is(err, k) {
					t.Errorf("error %q does not wrap %q", err, k)
				}
			}
			for _, w := range d.wants(true) {
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

func assertEmpty(t *testing.T, dir string) {
	t.Helper()
	names, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(names) > 0 {
		t.Errorf("%s not empty after a refused extraction: %v", dir, readTree(t, dir))
	}
}

// TestVerifyExtract_limits: an archive past the free space, the entry
// count or the free inodes is refused before anything is written, with a
// message naming the entry and the limit.
func TestVerifyExtract_limits(t *testing.T) {
	tests := []struct {
		name   string
		lim    Limits
		inodes int64
		want   map[bool]string // regexp, by indexed
	}{
		{"content past the free space", Limits{MaxBytes: 20000}, -1, map[bool]string{
			true:  `DatabaseBackup/\S+: archive expands past the limit of 20000 bytes`,
			false: `DatabaseBackup/\S+: (archive expands to more than|entry of \d+ bytes exceeds the limit of) 20000 bytes`}},
		{"too many entries", Limits{MaxEntries: 4}, -1, map[bool]string{
			true:  `DatabaseBackup/\S+: archive has more than 4 entries`,
			false: `DatabaseBackup/\S+: archive has more than 4 entries`}},
		{"too few free inodes", Limits{}, 5, map[bool]string{
			true:  `DatabaseBackup/\S+: extracting the archive needs 10 inodes \(files and directories\), \S+ has 5 free`,
			false: `DatabaseBackup/\S+: archive has more than 5 entries \(\S+ has 5 free inodes\)`}},
	}
	for _, tt := range tests {
		for _, indexed := range []bool{true, false} {
			t.Run(tt.name+map[bool]string{true: "/indexed", false: "/no index"}[indexed], func(t *testing.T) {
				if tt.inodes >= 0 {
					defer func(f func(string) int64) { freeInodes = f }(freeInodes)
					freeInodes = func(string) int64 { return tt.inodes }
				}
				s := writeSample(t)
				if !indexed {
					s = legacySample(t)
				}
				dir := t.TempDir()
				rep, err := VerifyExtract(context.Background(), bytes.NewReader(s.data), int64(len(s.data)), dir, tt.lim)
				if !errors.Is(err, ErrTooLarge) || !regexp.MustCompile(tt.want[indexed]).MatchString(err.Error()) {
					t.Errorf("VerifyExtract: %v, want ErrTooLarge mentioning %q", err, tt.want[indexed])
				}
				if rep.Written != 0 {
					t.Errorf("%d bytes written before the refusal", rep.Written)
				}
				assertEmpty(t, dir)
			})
		}
	}
}

func TestVerifyExtract_target(t *testing.T) {
	s := writeSample(t)
	size := int64(len(s.data))
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "x"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyExtract(context.Background(), bytes.NewReader(s.data), size, dir, Limits{}); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("VerifyExtract into a non-empty directory: %v, want refused", err)
	}
	if _, err := VerifyExtract(context.Background(), bytes.NewReader(s.data), size, filepath.Join(dir, "x"), Limits{}); err == nil {
		t.Error("VerifyExtract into a file succeeded")
	}
	if _, err := VerifyExtract(context.Background(), bytes.NewReader(s.data), size, filepath.Join(dir, "missing"), Limits{}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("VerifyExtract into a missing directory: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, data := range [][]byte{s.data, legacySample(t).data} {
		empty := t.TempDir()
		if _, err := VerifyExtract(ctx, bytes.NewReader(data), int64(len(data)), empty, Limits{}); !errors.Is(err, context.Canceled) {
			t.Errorf("VerifyExtract with a canceled context: %v, want context.Canceled", err)
		}
		assertEmpty(t, empty)
	}
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
		{"copies", &bytes.Buffer{}, false, true},
		{"stops reading after a write error", &failAfter{n: 300 << 10}, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, rerr, werr := copyAsync(tt.w, bytes.NewReader(src))
			if rerr != nil {
				t.Fatalf("read error %v", rerr)
			}
			if (werr != nil) != tt.wantErr {
				t.Fatalf("write error %v, want error %v", werr, tt.wantErr)
			}
			if (n == int64(len(src))) != tt.wantRead {
				t.Errorf("read %d of %d bytes", n, len(src))
			}
			if b, ok := tt.w.(*bytes.Buffer); ok && !bytes.Equal(b.Bytes(), src) {
				t.Error("copy differs")
			}
		})
	}
}
