package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/klauspost/compress/gzip"
)

func TestOpenIndexed(t *testing.T) {
	s := writeSample(t)
	ar, err := OpenIndexed(bytes.NewReader(s.data), int64(len(s.data)), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(s.manifest, ar.Manifest()); diff != "" {
		t.Errorf("manifest (-want +got):\n%s", diff)
	}
	if err := ar.CheckStructure(context.Background()); err != nil {
		t.Fatal(err)
	}
	for path, want := range s.files {
		if path == ManifestName {
			continue
		}
		e, err := ar.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(e)
		if err != nil {
			t.Errorf("read %s: %v", path, err)
		}
		if !bytes.Equal(got, want) || e.Size() != int64(len(want)) || e.SHA256() != sha(want) {
			t.Errorf("%s: read %d bytes (size %d, sha %s), want %d", path, len(got), e.Size(), e.SHA256(), len(want))
		}
		e.Close()
	}
	if _, err := ar.Open(DirDatabase + "/"); err == nil {
		t.Error("Open of a directory succeeded")
	}
	if _, err := ar.Open("nope"); err == nil {
		t.Error("Open of a missing file succeeded")
	}
}

// TestOpenIndexed_noIndex: archives of release 0.1.0 and single-member
// ones are told apart from damaged indexed ones.
func TestOpenIndexed_noIndex(t *testing.T) {
	entries, m := sampleEntries(t)
	for name, data := range map[string][]byte{
		"release 0.1.0": readLegacy(t),
		"one member":    rawArchive(t, append(entries, manifestEntry(t, m))...),
		"tiny":          []byte("x"),
	} {
		if _, err := OpenIndexed(bytes.NewReader(data), int64(len(data)), Limits{}); !errors.Is(err, ErrNoIndex) {
			t.Errorf("%s: %v, want ErrNoIndex", name, err)
		}
	}
}

// TestTrailer_deflateConstant: the fixed deflate bytes are the end-of-archive
// blocks.
func TestTrailer_deflateConstant(t *testing.T) {
	b := trailer{offset: 1, compressed: 2, stream: 3, pad: 4}.marshal()
	if int64(len(b)) != trailerSize {
		t.Fatalf("trailer of %d bytes, want %d", len(b), trailerSize)
	}
	gz, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(gz)
	if err != nil || !bytes.Equal(got, make([]byte, endBlocks)) {
		t.Fatalf("trailer inflates to %d bytes (%v), want %d zero bytes", len(got), err, endBlocks)
	}
	tr, err := parseTrailer(b)
	if err != nil || tr != (trailer{offset: 1, compressed: 2, stream: 3, pad: 4}) {
		t.Fatalf("parseTrailer = %+v, %v", tr, err)
	}
}

// repack replaces the manifest of an indexed archive with edit's version of
// it (encoded without validation) and writes a trailer that points to it.
func repack(t *testing.T, data []byte, edit func(m *Manifest)) []byte {
	t.Helper()
	tr, err := parseTrailer(data[int64(len(data))-trailerSize:])
	if err != nil {
		t.Fatal(err)
	}
	ar, err := OpenIndexed(bytes.NewReader(data), int64(len(data)), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	var m Manifest
	if err := json.Unmarshal(ar.raw, &m); err != nil {
		t.Fatal(err)
	}
	edit(&m)
	raw, err := json.MarshalIndent(&m, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return withManifest(t, data[:tr.offset], tr.pad, raw)
}

// withManifest appends manifest.json (raw) in its member, and the trailer,
// to the members in prefix.
func withManifest(t *testing.T, prefix []byte, pad int64, raw []byte) []byte {
	t.Helper()
	member := append(make([]byte, pad), rawTarHeader(t, manifestHeader(int64(len(raw))))...)
	member = append(append(member, raw...), make([]byte, padding(int64(len(raw))))...)
	var out bytes.Buffer
	out.Write(prefix)
	gz := gzip.NewWriter(&out)
	gz.Write(member)
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	tr := trailer{offset: int64(len(prefix)), compressed: int64(out.Len() - len(prefix)), stream: int64(len(member)), pad: pad}
	out.Write(tr.marshal())
	return out.Bytes()
}

func manifestHeader(size int64) *tar.Header {
	return &tar.Header{Typeflag: tar.TypeReg, Name: ManifestName, Mode: 0o644, Size: size, Format: tar.FormatPAX}
}

// craft builds an indexed archive from parts the Writer would not write:
// files whose content members are given as they are (possibly hostile),
// with the index the test declares.
type craftFile struct {
	name    string
	header  int64    // size in the tar header
	members [][]byte // content members, compressed
	bytes   []int64  // what the index declares each member holds
	sum     string   // what the manifest declares
}

func craft(t *testing.T, files ...craftFile) []byte {
	t.Helper()
	var out bytes.Buffer
	m := &Manifest{FormatVersion: FormatVersion}
	var pad int64
	member := func(data []byte) Member {
		start := out.Len()
		gz := gzip.NewWriter(&out)
		gz.Write(data)
		if err := gz.Close(); err != nil {
			t.Fatal(err)
		}
		return Member{Compressed: int64(out.Len() - start), Bytes: int64(len(data))}
	}
	for _, f := range files {
		h := append(make([]byte, pad), rawTarHeader(t, &tar.Header{Typeflag: tar.TypeReg, Name: f.name, Mode: 0o644, Size: f.header, Format: tar.FormatPAX})...)
		e := IndexEntry{Path: f.name, Header: member(h)}
		var n int64
		for i, c := range f.members {
			out.Write(c)
			e.Content = append(e.Content, Member{Compressed: int64(len(c)), Bytes: f.bytes[i]})
			n += f.bytes[i]
		}
		m.Index = append(m.Index, e)
		m.Files = append(m.Files, File{Path: f.name, Bytes: n, SHA256: f.sum})
		pad = padding(f.header)
	}
	raw, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return withManifest(t, out.Bytes(), pad, raw)
}

func gz(t *testing.T, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write(data)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestReader_lyingIndex: an index that does not describe the archive is
// refused, and never costs more than it declares: Open yields at most the
// declared bytes, VerifyExtract writes at most that.
func TestReader_lyingIndex(t *testing.T) {
	gl := DirDatabase + "/gl_budget.hubble"
	rows := tableRows(1, 300)
	s := writeSample(t)
	tests := []struct {
		name    string
		data    func(t *testing.T) []byte
		kind    error
		want    string
		written int64 // at most
	}{
		{"member is a bomb the index declares small", func(t *testing.T) []byte {
			// 256 MiB of zeros in a few hundred KiB; the index says 1 MiB.
			return craft(t, craftFile{name: gl, header: mib, members: [][]byte{bomb(t, nil, 256, nil)}, bytes: []int64{mib}, sum: sha(make([]byte, mib))})
		}, ErrTooLarge, gl + ": gzip member at offset 103: holds more than the 1048576 bytes the index declares", mib},
		{"member holds less than declared", func(t *testing.T) []byte {
			return craft(t, craftFile{name: gl, header: int64(len(rows)) + 10, members: [][]byte{gz(t, rows)}, bytes: []int64{int64(len(rows)) + 10}, sum: sha(rows)})
		}, ErrDamaged, "holds " + fmt.Sprint(len(rows)) + " bytes, the index declares", int64(len(rows))},
		{"tar header declares another size", func(t *testing.T) []byte {
			return craft(t, craftFile{name: gl, header: int64(len(rows)) + blockSize, members: [][]byte{gz(t, rows)}, bytes: []int64{int64(len(rows))}, sum: sha(rows)})
		}, ErrDamaged, gl + ": tar header: declares " + fmt.Sprint(len(rows)+blockSize) + " bytes, the index " + fmt.Sprint(len(rows)), 0},
		{"checksum the content does not have", func(t *testing.T) []byte {
			return craft(t, craftFile{name: gl, header: int64(len(rows)), members: [][]byte{gz(t, rows)}, bytes: []int64{int64(len(rows))}, sum: sha(nil)})
		}, ErrDamaged, gl + ": sha256 mismatch", int64(len(rows))},
		{"compressed sizes shifted between members", func(t *testing.T) []byte {
			return repack(t, s.data, func(m *Manifest) {
				for i := range m.Index[:len(m.Index)-1] {
					if len(m.Index[i].Content) > 0 {
						m.Index[i].Content[0].Compressed--
						m.Index[i+1].Header.Compressed++
						break
					}
				}
			})
		}, ErrDamaged, ": gzip member at offset", int64(len(s.files[gl]))},
		{"entries swapped in the index", func(t *testing.T) []byte {
			return repack(t, s.data, func(m *Manifest) {
				m.Index[2], m.Index[3] = m.Index[3], m.Index[2]
			})
		}, ErrDamaged, CopyInFile + ": gzip member at offset", 0},
		{"manifest's member points elsewhere", func(t *testing.T) []byte {
			b := bytes.Clone(s.data)
			tr, _ := parseTrailer(b[int64(len(b))-trailerSize:])
			tr.offset--
			tr.compressed++
			return append(b[:int64(len(b))-trailerSize], tr.marshal()...)
		}, ErrDamaged, "manifest.json: gzip member at offset", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := tt.data(t)
			rep, err := Verify(context.Background(), bytes.NewReader(data), int64(len(data)), Limits{})
			if !errors.Is(err, tt.kind) || !containsSubstring(rep.Problems, tt.want) {
				t.Errorf("Verify: %v (problems %q), want %v mentioning %q", err, rep.Problems, tt.kind, tt.want)
			}
			dir := t.TempDir()
			rep, err = VerifyExtract(context.Background(), bytes.NewReader(data), int64(len(data)), dir, Limits{})
			if !errors.Is(err, tt.kind) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("VerifyExtract: %v, want %v mentioning %q", err, tt.kind, tt.want)
			}
			if rep.Written > tt.written {
				t.Errorf("VerifyExtract wrote %d bytes, at most %d declared", rep.Written, tt.written)
			}
			assertEmpty(t, dir)
		})
	}
}

// eofAtEnd is a ReaderAt that answers a read reaching its end with every
// byte and io.EOF, as io.ReaderAt allows (age's decryption, S3 objects).
type eofAtEnd struct{ *bytes.Reader }

func (r eofAtEnd) ReadAt(p []byte, off int64) (int, error) {
	n, err := r.Reader.ReadAt(p, off)
	if err == nil && off+int64(n) == r.Size() {
		err = io.EOF
	}
	return n, err
}

func TestVerify_readerAtEOFWithFullRead(t *testing.T) {
	s := writeSample(t)
	if rep, err := Verify(context.Background(), eofAtEnd{bytes.NewReader(s.data)}, int64(len(s.data)), Limits{}); err != nil {
		t.Fatalf("Verify = %v (%v)", err, rep.Problems)
	}
	if _, err := OpenIndexed(eofAtEnd{bytes.NewReader(s.data[:len(s.data)-1])}, int64(len(s.data)), Limits{}); err == nil {
		t.Error("a short read of the trailer was accepted")
	}
}
