package archive

import (
	"bufio"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
)

// memberReader inflates a run of gzip members at a known offset of an
// archive, each bounded by the size the index declares for it: a member
// that holds more is refused at its declared size (a lying index costs no
// more than it declares), one that holds less, or whose trailer or
// compressed size does not match, is damage. Errors name the entry.
type memberReader struct {
	ra      io.ReaderAt
	name    string
	members []Member
	off     int64           // offset of the next member to open
	i       int             // members opened so far
	left    int64           // bytes left in the open member, -1 when none is open
	src     *countingReader // remembers the source's own failure
	br      *bufio.Reader
	gz      *gzip.Reader
	one     [1]byte
}

func newMemberReader(ra io.ReaderAt, name string, off int64, members []Member) *memberReader {
	return &memberReader{ra: ra, name: name, members: members, off: off, left: -1}
}

// Read implements io.Reader; it returns io.EOF after the last member.
func (m *memberReader) Read(p []byte) (int, error) {
	for {
		if m.left < 0 {
			if m.i == len(m.members) {
				return 0, io.EOF
			}
			if err := m.open(); err != nil {
				return 0, err
			}
		}
		if m.left == 0 {
			if err := m.endMember(); err != nil {
				return 0, err
			}
			continue
		}
		if len(p) == 0 {
			return 0, nil
		}
		if int64(len(p)) > m.left {
			p = p[:m.left]
		}
		n, err := m.gz.Read(p)
		m.left -= int64(n)
		if err == io.EOF && m.left > 0 {
			return n, problemf(damaged, "%s: gzip member at offset %d: holds %d bytes, the index declares %d",
				display(m.name), m.memberOffset(), m.members[m.i-1].Bytes-m.left, m.members[m.i-1].Bytes)
		}
		if err != nil && err != io.EOF {
			return n, m.gzipProblem(err)
		}
		if n > 0 {
			return n, nil
		}
	}
}

func (m *memberReader) open() error {
	mb := m.members[m.i]
	m.src = &countingReader{r: io.NewSectionReader(m.ra, m.off, mb.Compressed)}
	if m.br == nil {
		m.br = bufio.NewReaderSize(m.src, 64<<10)
	} else {
		m.br.Reset(m.src)
	}
	var err error
	if m.gz == nil {
		m.gz, err = gzip.NewReader(m.br)
	} else {
		err = m.gz.Reset(m.br)
	}
	m.off += mb.Compressed
	m.i++
	if err != nil {
		return m.gzipProblem(err)
	}
	m.gz.Multistream(false)
	m.left = mb.Bytes
	return nil
}

// endMember checks that the open member ends where the index says: no more
// content (its CRC-32 and size then checked by gzip) and no more bytes.
func (m *memberReader) endMember() error {
	n, err := m.gz.Read(m.one[:])
	switch {
	case n > 0:
		return problemf(tooLarge, "%s: gzip member at offset %d: holds more than the %d bytes the index declares",
			display(m.name), m.memberOffset(), m.members[m.i-1].Bytes)
	case err != io.EOF:
		if err == nil {
			err = io.ErrNoProgress
		}
		return m.gzipProblem(err)
	}
	if _, err := m.br.ReadByte(); err != io.EOF {
		if err != nil {
			return m.gzipProblem(err)
		}
		return problemf(damaged, "%s: gzip member at offset %d: data after its end", display(m.name), m.memberOffset())
	}
	m.left = -1
	return nil
}

// finish checks that every member was read to its end.
func (m *memberReader) finish() error {
	if m.left == 0 {
		if err := m.endMember(); err != nil {
			return err
		}
	}
	if m.left > 0 || m.i < len(m.members) {
		return problemf(damaged, "%s: not every gzip member was read", display(m.name))
	}
	return nil
}

// memberOffset is the offset of the open (or last opened) member.
func (m *memberReader) memberOffset() int64 {
	return m.off - m.members[m.i-1].Compressed
}

func (m *memberReader) gzipProblem(err error) error {
	var pe *problemError
	if errors.As(err, &pe) {
		return err
	}
	if m.src != nil && m.src.err != nil {
		return fmt.Errorf("read archive: %w", m.src.err) // I/O, not damage
	}
	return problemf(damaged, "%s: gzip member at offset %d: %s", display(m.name), m.memberOffset(), gzipMsg(err))
}

// readMember inflates the single member at off into memory (at most its
// declared size).
func readMember(ra io.ReaderAt, name string, off int64, mb Member) ([]byte, error) {
	m := newMemberReader(ra, name, off, []Member{mb})
	buf := make([]byte, mb.Bytes)
	if _, err := io.ReadFull(m, buf); err != nil {
		if err == io.ErrUnexpectedEOF || err == io.EOF {
			err = problemf(damaged, "%s: gzip member at offset %d: holds fewer bytes than the index declares", display(name), off)
		}
		return nil, err
	}
	if err := m.finish(); err != nil {
		return nil, err
	}
	return buf, nil
}
