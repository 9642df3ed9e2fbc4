package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// verifiers are the two ways to verify an archive: through its index when
// it has one (Verify), and the sequential walk (VerifyStream).
var verifiers = []struct {
	name    string
	indexed bool
	verify  func(ctx context.Context, data []byte, lim Limits) (*Report, error)
}{
	{"Verify", true, func(ctx context.Context, data []byte, lim Limits) (*Report, error) {
		return Verify(ctx, bytes.NewReader(data), int64(len(data)), lim)
	}},
	{"VerifyStream", false, func(ctx context.Context, data []byte, lim Limits) (*Report, error) {
		return VerifyStream(ctx, bytes.NewReader(data), lim)
	}},
}

func TestVerify_intact(t *testing.T) {
	for _, vf := range verifiers {
		for _, legacy := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/legacy=%v", vf.name, legacy), func(t *testing.T) {
				s := writeSample(t)
				if legacy {
					s = legacySample(t)
				}
				rep, err := vf.verify(context.Background(), s.data, Limits{})
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
				if rep.CompressedBytes != int64(len(s.data)) || rep.StreamBytes <= rep.Bytes || rep.Indexed != (vf.indexed && !legacy) {
					t.Errorf("report: compressed %d (file %d), stream %d, indexed %v", rep.CompressedBytes, len(s.data), rep.StreamBytes, rep.Indexed)
				}
				if !legacy {
					stream, err := VerifyStream(context.Background(), bytes.NewReader(s.data), Limits{})
					if err != nil || stream.StreamBytes != rep.StreamBytes {
						t.Errorf("stream of %d bytes by the index, %d read (%v)", rep.StreamBytes, stream.StreamBytes, err)
					}
				}
			})
		}
	}
}

// damage describes one damaged archive and what Verify must say about it.
type damage struct {
	name    string
	archive func(t *testing.T) []byte
	kinds   []error  // sentinels the error must wrap (ErrDamaged always)
	want    []string // substrings, each of which some problem must contain
}

// wants is what some problem must say when the archive is read through its
// index (when it has one), or sequentially.
func (d damage) wants(indexed bool) []string {
	if w, ok := indexedWants[d.name]; ok && indexed {
		return w
	}
	return d.want
}

// indexedWants is what reading through the index says, where it differs.
var indexedWants = map[string][]string{
	"flipped byte early in the compressed stream":         {"gzip member at offset"},
	"flipped byte in the middle of the compressed stream": {"gzip member at offset"},
	"flipped byte in the manifest's member":               {"manifest.json: gzip member at offset"},
	"flipped byte in the index trailer":                   {"gzip: index trailer: header checksum mismatch"},
	"flipped byte in the gzip CRC":                        {"gzip: index trailer: not the end-of-archive member"},
	"flipped byte in the gzip size":                       {"gzip: index trailer: not the end-of-archive member"},
	"second archive appended":                             {"gzip: index trailer: the manifest's member is out of place"},
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
		{"flipped byte in the manifest's member", flipByte(func(n int) int { return n - int(trailerSize) - 40 }), nil, []string{"gzip: "}},
		{"flipped byte in the index trailer", flipByte(func(n int) int { return n - 40 }), nil, []string{"gzip: invalid header"}},
		{"flipped byte in the gzip CRC", flipByte(func(n int) int { return n - 6 }), nil, []string{"gzip: checksum mismatch"}},
		{"flipped byte in the gzip size", flipByte(func(n int) int { return n - 2 }), nil, []string{"gzip: checksum mismatch"}},
		{"truncated in the middle", truncated(func(n int) int { return n / 2 }), nil, []string{"gzip: truncated"}},
		{"truncated trailer", truncated(func(n int) int { return n - 3 }), nil, []string{"gzip: truncated"}},
		// Between two members the gzip stream ends cleanly: the tar's own
		// end-of-archive marker is what is missing.
		{"truncated before the trailer", truncated(func(n int) int { return n - int(trailerSize) }), nil, []string{"tar: truncated archive (no end-of-archive marker)"}},
		{"truncated header", truncated(func(int) int { return 5 }), nil, []string{"gzip: truncated"}},
		{"empty file", truncated(func(int) int { return 0 }), nil, []string{"gzip: empty"}},
		{"not gzip", func(*testing.T) []byte { return []byte("PK\x03\x04 this is a zip file, honest") }, nil, []string{"gzip: invalid header"}},
		{"data after the gzip stream", func(t *testing.T) []byte {
			return append(bytes.Clone(writeSample(t).data), "garbage"...)
		}, nil, []string{"gzip: data after the end of the compressed stream"}},
		{"second archive appended", func(t *testing.T) []byte {
			return append(bytes.Clone(writeSample(t).data), writeSample(t).data...)
		}, nil, []string{"tar: data after the end-of-archive marker"}},
		{"second gzip member after a release 0.1.0 archive", func(t *testing.T) []byte {
			return append(bytes.Clone(legacySample(t).data), legacySample(t).data...)
		}, nil, []string{"tar: data after the end-of-archive marker"}},
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
		for _, vf := range verifiers {
			t.Run(d.name+"/"+vf.name, func(t *testing.T) {
				rep, err := vf.verify(context.Background(), d.archive(t), Limits{})
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
				for _, w := range d.wants(vf.indexed) {
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
		rep, _ := VerifyStream(context.Background(), bytes.NewReader(d.archive(t)), Limits{})
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
	for _, vf := range verifiers {
		rep, err := vf.verify(context.Background(), s.data, Limits{MaxEntries: 3})
		if !errors.Is(err, ErrTooLarge) || !errors.Is(err, ErrDamaged) {
			t.Fatalf("%s with 3 entries allowed: %v", vf.name, err)
		}
		if !containsSubstring(rep.Problems, "more than 3 entries") {
			t.Errorf("%s: problems %q", vf.name, rep.Problems)
		}
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

// failingReaderAt fails every read that reaches past after.
type failingReaderAt struct {
	r     io.ReaderAt
	after int64
}

func (f *failingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > f.after {
		return 0, errors.New("input/output error")
	}
	return f.r.ReadAt(p, off)
}

func TestVerify_sourceAndContextErrors(t *testing.T) {
	s := writeSample(t)
	_, err := VerifyStream(context.Background(), &failingReader{r: bytes.NewReader(s.data), after: len(s.data) / 2}, Limits{})
	if err == nil || errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "input/output error") {
		t.Errorf("VerifyStream with a failing source: %v, want the source's error, not damage", err)
	}
	_, err = VerifyStream(context.Background(), &failingReader{r: bytes.NewReader(s.data), after: 0}, Limits{})
	if err == nil || errors.Is(err, ErrDamaged) {
		t.Errorf("VerifyStream with a source failing at once: %v, want the source's error, not damage", err)
	}
	for _, after := range []int64{0, int64(len(s.data)) / 2, int64(len(s.data)) - trailerSize - 1} {
		_, err = Verify(context.Background(), &failingReaderAt{r: bytes.NewReader(s.data), after: after}, int64(len(s.data)), Limits{})
		if err == nil || errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "input/output error") {
			t.Errorf("Verify with a source failing after %d bytes: %v, want the source's error, not damage", after, err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, vf := range verifiers {
		if _, err := vf.verify(ctx, s.data, Limits{}); !errors.Is(err, context.Canceled) || errors.Is(err, ErrDamaged) {
			t.Errorf("%s with a canceled context: %v", vf.name, err)
		}
	}
}
