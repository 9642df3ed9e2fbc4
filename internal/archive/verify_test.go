package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestVerify_intact(t *testing.T) {
	s := writeSample(t)
	rep, err := Verify(context.Background(), bytes.NewReader(s.data), Limits{})
	if err != nil {
		t.Fatalf("Verify of an intact archive: %v (problems %q)", err, rep.Problems)
	}
	if diff := cmp.Diff(s.manifest, rep.Manifest); diff != "" {
		t.Errorf("manifest (-want +got):\n%s", diff)
	}
	var bytesWant int64
	for _, b := range s.files {
		bytesWant += int64(len(b))
	}
	if rep.Files != len(s.files) || rep.Entries != len(s.files)+2 || rep.Bytes != bytesWant {
		t.Errorf("report: %d files, %d entries, %d bytes; want %d, %d, %d", rep.Files, rep.Entries, rep.Bytes, len(s.files), len(s.files)+2, bytesWant)
	}
	if rep.CompressedBytes != int64(len(s.data)) || rep.StreamBytes <= rep.Bytes {
		t.Errorf("report: compressed %d (file %d), stream %d", rep.CompressedBytes, len(s.data), rep.StreamBytes)
	}
}

// damage describes one damaged archive and what Verify must say about it.
type damage struct {
	name    string
	archive func(t *testing.T) []byte
	kinds   []error  // sentinels the error must wrap (ErrDamaged always)
	want    []string // substrings, each of which some problem must contain
}

// hostile builds the sample archive with the standard library, with edit
// applied to its entries and manifest before the manifest is appended.
func hostile(edit func(entries []rawEntry, m *Manifest) ([]rawEntry, *Manifest)) func(t *testing.T) []byte {
	return func(t *testing.T) []byte {
		entries, m := sampleEntries(t)
		entries, m = edit(entries, m)
		if m != nil {
			entries = append(entries, manifestEntry(t, m))
		}
		return rawArchive(t, entries...)
	}
}

func flipByte(at func(n int) int) func(t *testing.T) []byte {
	return func(t *testing.T) []byte {
		b := bytes.Clone(writeSample(t).data)
		b[at(len(b))] ^= 0x55
		return b
	}
}

func truncated(at func(n int) int) func(t *testing.T) []byte {
	return func(t *testing.T) []byte {
		b := writeSample(t).data
		return b[:at(len(b))]
	}
}

func addEntry(e rawEntry) func(t *testing.T) []byte {
	return hostile(func(entries []rawEntry, m *Manifest) ([]rawEntry, *Manifest) {
		return append(entries, e), m
	})
}

func link(typ byte, name, target string) rawEntry {
	return rawEntry{hdr: tar.Header{Typeflag: typ, Name: name, Linkname: target, Mode: 0o777}}
}

// damages are shared by the Verify and Extract tests.
func damages() []damage {
	gl := DirDatabase + "/gl_budget.hubble"
	return []damage{
		{"flipped byte early in the compressed stream", flipByte(func(n int) int { return n / 5 }), nil, []string{"gzip: "}},
		{"flipped byte in the middle of the compressed stream", flipByte(func(n int) int { return n / 2 }), nil, []string{"gzip: "}},
		{"flipped byte late in the compressed stream", flipByte(func(n int) int { return n - 40 }), nil, []string{"gzip: "}},
		{"flipped byte in the gzip CRC", flipByte(func(n int) int { return n - 6 }), nil, []string{"gzip: checksum mismatch"}},
		{"flipped byte in the gzip size", flipByte(func(n int) int { return n - 2 }), nil, []string{"gzip: checksum mismatch"}},
		{"truncated in the middle", truncated(func(n int) int { return n / 2 }), nil, []string{"gzip: truncated"}},
		{"truncated trailer", truncated(func(n int) int { return n - 3 }), nil, []string{"gzip: truncated"}},
		{"truncated header", truncated(func(int) int { return 5 }), nil, []string{"gzip: truncated"}},
		{"empty file", truncated(func(int) int { return 0 }), nil, []string{"gzip: empty"}},
		{"not gzip", func(*testing.T) []byte { return []byte("PK\x03\x04 this is a zip file, honest") }, nil, []string{"gzip: invalid header"}},
		{"data after the gzip stream", func(t *testing.T) []byte {
			return append(bytes.Clone(writeSample(t).data), "garbage"...)
		}, nil, []string{"gzip: data after the end of the compressed stream"}},
		{"second gzip member", func(t *testing.T) []byte {
			return append(bytes.Clone(writeSample(t).data), writeSample(t).data...)
		}, nil, []string{"gzip: data after the end of the compressed stream"}},
		{"content byte changed, archive rebuilt", hostile(func(entries []rawEntry, m *Manifest) ([]rawEntry, *Manifest) {
			for i := range entries {
				if entries[i].hdr.Name == gl {
					entries[i].body = bytes.Clone(entries[i].body)
					entries[i].body[100] ^= 1
				}
			}
			return entries, m
		}), nil, []string{gl + ": sha256 mismatch"}},
		{"manifest lies about a size", hostile(func(entries []rawEntry, m *Manifest) ([]rawEntry, *Manifest) {
			for i := range m.Tables {
				if m.Tables[i].File == gl {
					m.Tables[i].Bytes -= 10
				}
			}
			return entries, m
		}), nil, []string{gl + ": size mismatch: manifest says"}},
		{"missing manifest", hostile(func(entries []rawEntry, _ *Manifest) ([]rawEntry, *Manifest) {
			return entries, nil
		}), nil, []string{"manifest.json: missing"}},
		{"invalid manifest", hostile(func(entries []rawEntry, _ *Manifest) ([]rawEntry, *Manifest) {
			return append(entries, reg(ManifestName, []byte(`{"format_version": 99}`))), nil
		}), nil, []string{"manifest.json: invalid: validate manifest: unknown format version 99"}},
		{"missing file", hostile(func(entries []rawEntry, m *Manifest) ([]rawEntry, *Manifest) {
			var kept []rawEntry
			for _, e := range entries {
				if e.hdr.Name != CopyInFile {
					kept = append(kept, e)
				}
			}
			return kept, m
		}), nil, []string{CopyInFile + ": missing"}},
		{"extra entry", addEntry(reg(DirDatabase+"/extra.hubble", []byte("x\n"))), []error{ErrUnsafeEntry}, []string{"DatabaseBackup/extra.hubble: not in manifest"}},
		{"extra directory", addEntry(dirEntry("elsewhere")), []error{ErrUnsafeEntry}, []string{"elsewhere/: directory not in manifest"}},
		{"duplicate entry", hostile(func(entries []rawEntry, m *Manifest) ([]rawEntry, *Manifest) {
			return append(entries, reg(gl, []byte("evil\n"))), m
		}), nil, []string{gl + ": duplicate entry"}},
		{"../ entry", addEntry(reg("../escape", []byte("x"))), []error{ErrUnsafeEntry}, []string{"../escape: unsafe entry: '..' in path"}},
		{"nested ../ entry", addEntry(reg("DatabaseBackup/../../escape", []byte("x"))), []error{ErrUnsafeEntry}, []string{"'..' in path"}},
		{"absolute path", addEntry(reg("/etc/cron.d/evil", []byte("x"))), []error{ErrUnsafeEntry}, []string{"/etc/cron.d/evil: unsafe entry: absolute path"}},
		{"symlink", addEntry(link(tar.TypeSymlink, "DatabaseBackup/link", "/etc")), []error{ErrUnsafeEntry}, []string{"DatabaseBackup/link: unsafe entry: symbolic link to /etc"}},
		{"hardlink", addEntry(link(tar.TypeLink, "DatabaseBackup/hard", "/etc/shadow")), []error{ErrUnsafeEntry}, []string{"DatabaseBackup/hard: unsafe entry: hard link to /etc/shadow"}},
		{"character device", addEntry(rawEntry{hdr: tar.Header{Typeflag: tar.TypeChar, Name: "dev", Devmajor: 1, Devminor: 3}}), []error{ErrUnsafeEntry}, []string{"dev: unsafe entry: character device"}},
		{"block device", addEntry(rawEntry{hdr: tar.Header{Typeflag: tar.TypeBlock, Name: "blk", Devmajor: 8}}), []error{ErrUnsafeEntry}, []string{"blk: unsafe entry: block device"}},
		{"fifo", addEntry(rawEntry{hdr: tar.Header{Typeflag: tar.TypeFifo, Name: "fifo"}}), []error{ErrUnsafeEntry}, []string{"fifo: unsafe entry: fifo"}},
		{"dot entry", addEntry(reg("./DatabaseBackup/x", []byte("x"))), []error{ErrUnsafeEntry}, []string{"unsafe entry: path is not clean"}},
		{"control character in name", addEntry(reg("a\x1b[2Jb", []byte("x"))), []error{ErrUnsafeEntry}, []string{`"a\x1b[2Jb": unsafe entry: control character`}},
	}
}

func TestVerify_damaged(t *testing.T) {
	for _, d := range damages() {
		t.Run(d.name, func(t *testing.T) {
			rep, err := Verify(context.Background(), bytes.NewReader(d.archive(t)), Limits{})
			if err == nil {
				t.Fatalf("Verify succeeded; report %+v", rep)
			}
			for _, k := range append([]error{ErrDamaged}, d.kinds...) {
				if !errors.Is(err, k) {
					t.Errorf("error %q does not wrap %q", err, k)
				}
			}
			if rep == nil {
				t.Fatal("nil report")
			}
			for _, w := range d.want {
				if !containsSubstring(rep.Problems, w) {
					t.Errorf("no problem mentions %q; problems:\n%s", w, strings.Join(rep.Problems, "\n"))
				}
			}
			if !strings.Contains(err.Error(), rep.Problems[0]) {
				t.Errorf("error %q does not name the first problem %q", err, rep.Problems[0])
			}
		})
	}
}

func containsSubstring(list []string, s string) bool {
	for _, x := range list {
		if strings.Contains(x, s) {
			return true
		}
	}
	return false
}

// TestVerify_contentChangeNamesOnlyTheFile checks the report of a changed
// data file is exactly one problem naming it.
func TestVerify_contentChangeNamesOnlyTheFile(t *testing.T) {
	for _, d := range damages() {
		if d.name != "content byte changed, archive rebuilt" {
			continue
		}
		rep, _ := Verify(context.Background(), bytes.NewReader(d.archive(t)), Limits{})
		want := []string{"DatabaseBackup/gl_budget.hubble: sha256 mismatch"}
		if diff := cmp.Diff(want, rep.Problems); diff != "" {
			t.Errorf("problems (-want +got):\n%s", diff)
		}
		return
	}
	t.Fatal("damage case not found")
}

func TestVerify_tooManyEntries(t *testing.T) {
	s := writeSample(t)
	rep, err := Verify(context.Background(), bytes.NewReader(s.data), Limits{MaxEntries: 3})
	if !errors.Is(err, ErrTooLarge) || !errors.Is(err, ErrDamaged) {
		t.Fatalf("Verify with 3 entries allowed: %v", err)
	}
	if !containsSubstring(rep.Problems, "more than 3 entries") {
		t.Errorf("problems %q", rep.Problems)
	}
}

type failingReader struct {
	r     io.Reader
	after int
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.after <= 0 {
		return 0, errors.New("input/output error")
	}
	if len(p) > f.after {
		p = p[:f.after]
	}
	n, err := f.r.Read(p)
	f.after -= n
	return n, err
}

func TestVerify_sourceAndContextErrors(t *testing.T) {
	s := writeSample(t)
	_, err := Verify(context.Background(), &failingReader{r: bytes.NewReader(s.data), after: len(s.data) / 2}, Limits{})
	if err == nil || errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "input/output error") {
		t.Errorf("Verify with a failing source: %v, want the source's error, not damage", err)
	}
	_, err = Verify(context.Background(), &failingReader{r: bytes.NewReader(s.data), after: 0}, Limits{})
	if err == nil || errors.Is(err, ErrDamaged) {
		t.Errorf("Verify with a source failing at once: %v, want the source's error, not damage", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Verify(ctx, bytes.NewReader(s.data), Limits{}); !errors.Is(err, context.Canceled) || errors.Is(err, ErrDamaged) {
		t.Errorf("Verify with a canceled context: %v", err)
	}
}

func TestReadManifest(t *testing.T) {
	s := writeSample(t)
	m, err := ReadManifest(context.Background(), bytes.NewReader(s.data), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(s.manifest, m); diff != "" {
		t.Errorf("manifest (-want +got):\n%s", diff)
	}
	for _, d := range damages() {
		switch d.name {
		case "missing manifest", "../ entry", "symlink", "truncated in the middle", "not gzip":
		default:
			continue
		}
		if _, err := ReadManifest(context.Background(), bytes.NewReader(d.archive(t)), Limits{}); err == nil {
			t.Errorf("ReadManifest of %s succeeded", d.name)
		}
	}
}
