package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
)

// Reader reads an archive of the indexed format at random: its manifest
// (with every file's size and sha256) is known from the start, each file
// can be inflated and checked on its own, several at once. It is safe for
// concurrent use when the io.ReaderAt is (an *os.File is).
type Reader struct {
	ra       io.ReaderAt
	size     int64
	m        *Manifest
	raw      []byte // manifest.json as stored
	spans    []span
	byPath   map[string]int
	manifest int64 // offset of the manifest's member
	tr       trailer
}

// OpenIndexed reads the trailer and the manifest of the archive in
// r[0:size] and checks, before any file is inflated, that the index is
// consistent (its members tile the archive from 0 to the manifest's member)
// and within lim: at most lim.MaxEntries entries and lim.MaxBytes of
// content, a refusal naming the entry that crosses the limit (ErrTooLarge).
// An archive without the trailer (release 0.1.0, or recompressed) gives
// ErrNoIndex: read it with Walk or VerifyStream. Any other error wraps
// ErrDamaged or ErrTooLarge, or is the source's I/O error.
//
// OpenIndexed trusts nothing it has not checked, but checks only the index
// and the manifest: each file's content is checked as it is read (Open),
// and the tar headers between them by CheckStructure.
func OpenIndexed(r io.ReaderAt, size int64, lim Limits) (*Reader, error) {
	lim = lim.withDefaults()
	if size < trailerSize {
		return nil, ErrNoIndex
	}
	tb := make([]byte, trailerSize)
	// A ReaderAt may answer a read that reaches its end with io.EOF and
	// every byte (age's decryption and S3 objects do): only a short read
	// is an error.
	if n, err := r.ReadAt(tb, size-trailerSize); n < len(tb) {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("read archive: %w", err)
	}
	t, err := parseTrailer(tb)
	if err != nil {
		return nil, err
	}
	maxStream := int64(blockSize + maxHeaderBytes + maxManifestBytes + blockSize)
	if t.offset+t.compressed != size-trailerSize || t.compressed < minMember || t.stream > maxStream {
		return nil, problemf(damaged, "gzip: index trailer: the manifest's member is out of place")
	}
	ar := &Reader{ra: r, size: size, manifest: t.offset, tr: t}
	member, err := readMember(r, ManifestName, t.offset, Member{Compressed: t.compressed, Bytes: t.stream})
	if err != nil {
		return nil, err
	}
	if ar.raw, err = parseManifestMember(member, t.pad); err != nil {
		return nil, err
	}
	if ar.m, err = ParseManifest(ar.raw); err != nil {
		return nil, problemf(damaged, "%s: invalid: %v", ManifestName, err)
	}
	if ar.m.FormatVersion == formatNoIndex {
		return nil, problemf(damaged, "%s: format %d in an archive with an index trailer", ManifestName, formatNoIndex)
	}
	var end int64
	ar.spans, end = ar.m.spans()
	if end != t.offset || lastPad(ar.spans) != t.pad {
		return nil, problemf(damaged, "%s: the index does not match the archive's layout", ManifestName)
	}
	ar.byPath = make(map[string]int, len(ar.spans))
	total := int64(len(ar.raw))
	if total > lim.MaxBytes {
		return nil, problemf(tooLarge, "%s: archive expands past the limit of %d bytes", ManifestName, lim.MaxBytes)
	}
	for i, s := range ar.spans {
		ar.byPath[s.entry.Path] = i
		if i+2 > lim.MaxEntries { // manifest.json is an entry too
			return nil, problemf(tooLarge, "%s: archive has more than %d entries", display(s.entry.Path), lim.MaxEntries)
		}
		if total = addSat(total, s.bytes); total > lim.MaxBytes {
			return nil, problemf(tooLarge, "%s: archive expands past the limit of %d bytes (%d bytes so far with this entry)",
				display(s.entry.Path), lim.MaxBytes, total)
		}
	}
	return ar, nil
}

// parseManifestMember takes manifest.json out of its member: the last
// entry's padding, the tar header, the content, its padding, nothing more.
func parseManifestMember(member []byte, pad int64) ([]byte, error) {
	bad := func(what string) error { return problemf(damaged, "%s: its gzip member %s", ManifestName, what) }
	if int64(len(member)) < pad || !allZero(member[:pad]) {
		return nil, bad("does not start with the previous entry's padding")
	}
	br := bytes.NewReader(member[pad:])
	h, err := tar.NewReader(br).Next()
	if err != nil {
		return nil, bad("holds no tar header")
	}
	if e, err := checkEntry(h); err != nil || e.name != ManifestName || e.dir {
		return nil, bad("holds another entry")
	}
	if h.Size > maxManifestBytes || h.Size > int64(br.Len()) {
		return nil, bad("is shorter than the manifest it declares")
	}
	data := make([]byte, h.Size)
	_, _ = io.ReadFull(br, data)
	rest := make([]byte, br.Len())
	_, _ = io.ReadFull(br, rest)
	if int64(len(rest)) != padding(h.Size) || !allZero(rest) {
		return nil, bad("does not end with the manifest's padding")
	}
	return data, nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// Manifest returns the archive's manifest (shared: do not modify).
func (r *Reader) Manifest() *Manifest { return r.m }

// Open returns a reader of the file at path (a file the manifest lists):
// it inflates the file's members and checks each member's trailer, the
// size and the sha256, returning io.EOF only when all match (see Entry).
// Close it when done.
func (r *Reader) Open(path string) (*Entry, error) {
	i, ok := r.byPath[path]
	if !ok || strings.HasSuffix(path, "/") {
		return nil, fmt.Errorf("open %s: not a file of the archive", display(path))
	}
	s := r.spans[i]
	want := r.m.Expected()[path]
	mr := newMemberReader(r.ra, path, s.content, s.entry.Content)
	e := newEntry(path, s.bytes, &want, mr)
	e.end = mr.finish
	return e, nil
}

// CheckStructure checks everything of the archive that no Entry reads: each
// entry's header member holds the previous entry's padding (zeros) and one
// safe tar header whose name, type and size are the index's, and nothing
// else. With every file read to io.EOF through Open, that covers every byte
// of the archive: what `tar xzf` extracts is what the index describes.
func (r *Reader) CheckStructure(ctx context.Context) error {
	for _, s := range r.spans {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := r.checkHeader(s); err != nil {
			return err
		}
	}
	return nil
}

func (r *Reader) checkHeader(s span) error {
	name := s.entry.Path
	data, err := readMember(r.ra, name, s.header, s.entry.Header)
	if err != nil {
		return err
	}
	bad := func(format string, args ...any) error {
		return problemf(damaged, "%s: tar header: %s", display(name), fmt.Sprintf(format, args...))
	}
	if !allZero(data[:min(s.pad, int64(len(data)))]) || int64(len(data)) < s.pad {
		return bad("not preceded by the previous entry's padding")
	}
	br := bytes.NewReader(data[s.pad:])
	h, err := tar.NewReader(br).Next()
	if err != nil {
		return bad("%v", err)
	}
	if br.Len() != 0 {
		return bad("its gzip member holds more than the header")
	}
	e, err := checkEntry(h)
	if err != nil {
		return err
	}
	switch {
	case e.dir != strings.HasSuffix(name, "/") || e.name != strings.TrimSuffix(name, "/"):
		return bad("names %s, the index %s", display(h.Name), display(name))
	case e.size != s.bytes:
		return bad("declares %d bytes, the index %d", e.size, s.bytes)
	}
	return nil
}

// streamBytes is the size of the archive's tar stream once inflated.
func (r *Reader) streamBytes() int64 {
	n := r.tr.stream + endBlocks
	for _, s := range r.spans {
		n += s.entry.Header.Bytes + s.bytes
	}
	return n
}
