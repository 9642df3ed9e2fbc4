package archive

import (
	"fmt"
	"strings"
)

// maxHeaderBytes bounds a header member once inflated: the previous
// entry's padding and the entry's tar header blocks, PAX records included.
const maxHeaderBytes = 64 << 10

// minMember is the size of the smallest gzip member: a 10-byte header, an
// empty deflate block and the 8-byte trailer.
const minMember = 20

// validateIndex checks the index against the files the manifest lists:
// format 1 has none; in format 2 every listed file has exactly one entry
// whose members hold its size, directories are parents of listed files and
// hold nothing, and member sizes are plausible. Where the members are is
// checked against the archive by OpenIndexed and CheckStructure.
func (m *Manifest) validateIndex() error {
	if m.FormatVersion == formatNoIndex {
		if len(m.Index) > 0 {
			return fmt.Errorf("validate manifest: format %d has no index", formatNoIndex)
		}
		return nil
	}
	if len(m.Index) == 0 {
		return fmt.Errorf("validate manifest: format %d needs an index", m.FormatVersion)
	}
	files := m.Expected()
	dirs := parents(files)
	seen := make(map[string]bool, len(m.Index))
	var total int64
	for _, e := range m.Index {
		name, isDir := strings.CutSuffix(e.Path, "/")
		bad := func(format string, args ...any) error {
			return fmt.Errorf("validate manifest: index entry %s: %s", display(e.Path), fmt.Sprintf(format, args...))
		}
		if err := checkPath(name); err != nil {
			return bad("%v", err)
		}
		if seen[name] {
			return bad("listed twice")
		}
		seen[name] = true
		if e.Header.Compressed < minMember || e.Header.Bytes < blockSize || e.Header.Bytes > maxHeaderBytes {
			return bad("header member of %d bytes (%d inflated) is out of range", e.Header.Compressed, e.Header.Bytes)
		}
		total = addSat(total, e.Header.Compressed)
		if isDir {
			if !dirs[name] {
				return bad("directory holds no listed file")
			}
			if len(e.Content) > 0 {
				return bad("directory with content")
			}
			continue
		}
		f, ok := files[name]
		if !ok {
			return bad("not a listed file")
		}
		var n int64
		for _, c := range e.Content {
			if c.Compressed < minMember || c.Bytes < 0 {
				return bad("content member of %d bytes (%d inflated) is out of range", c.Compressed, c.Bytes)
			}
			n = addSat(n, c.Bytes)
			total = addSat(total, c.Compressed)
		}
		if n != f.Bytes {
			return bad("members hold %d bytes, the file has %d", n, f.Bytes)
		}
	}
	for p := range files {
		if !seen[p] {
			return fmt.Errorf("validate manifest: file %s: not in the index", p)
		}
	}
	if total == maxInt64 {
		return fmt.Errorf("validate manifest: index: sizes out of range")
	}
	return nil
}

const maxInt64 = 1<<63 - 1

// span is where an indexed entry is: its header member's offset, and its
// content members' offset and sizes.
type span struct {
	entry   IndexEntry
	header  int64 // offset of the header member
	content int64 // offset of the first content member
	bytes   int64 // content size
	pad     int64 // padding of the previous entry, at the start of the header member
}

// spans lays the index out from offset 0; end is where the manifest's
// member starts.
func (m *Manifest) spans() (spans []span, end int64) {
	spans = make([]span, len(m.Index))
	var off, pad int64
	for i, e := range m.Index {
		s := span{entry: e, header: off, pad: pad}
		off += e.Header.Compressed
		s.content = off
		for _, c := range e.Content {
			off += c.Compressed
			s.bytes += c.Bytes
		}
		pad = padding(s.bytes)
		spans[i] = s
	}
	return spans, off
}

// lastPad is the padding owed by the index's last entry.
func lastPad(spans []span) int64 {
	if len(spans) == 0 {
		return 0
	}
	return padding(spans[len(spans)-1].bytes)
}
