package archive

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"

	"github.com/klauspost/compress/gzip"
)

// Part compresses one file's content as it is produced into gzip members of
// at most memberBytes each, hashing it on the way. A table worker writes its
// rows into a Part over a staging file, in parallel with the other workers;
// Writer.AddPart then appends the compressed bytes to the archive as they
// are, so each table is compressed once, by the worker that read it.
// A Part is not safe for concurrent use.
type Part struct {
	dst     *countWriter
	gz      *gzip.Writer
	h       hash.Hash
	n       int64 // content bytes written
	cur     int64 // content bytes in the open member, -1 when none is open
	start   int64 // dst offset at which the open member began
	members []Member
	closed  bool
	err     error
}

// NewPart returns a Part compressing at level (gzip levels, as NewWriter)
// into dst.
func NewPart(dst io.Writer, level int) (*Part, error) {
	gz, err := gzip.NewWriterLevel(io.Discard, level)
	if err != nil {
		return nil, fmt.Errorf("new archive part: %w", err)
	}
	return &Part{dst: &countWriter{w: dst}, gz: gz, h: sha256.New(), cur: -1}, nil
}

// Write compresses b. After an error the Part is unusable.
func (p *Part) Write(b []byte) (int, error) {
	if p.err != nil {
		return 0, p.err
	}
	if p.closed {
		return 0, errors.New("archive part: write after Close")
	}
	written := 0
	for len(b) > 0 {
		if p.cur < 0 {
			p.gz.Reset(p.dst)
			p.start, p.cur = p.dst.n, 0
		}
		chunk := b[:min(int64(len(b)), memberBytes-p.cur)]
		n, err := p.gz.Write(chunk)
		p.h.Write(chunk[:n])
		p.n += int64(n)
		p.cur += int64(n)
		written += n
		if err != nil {
			p.err = fmt.Errorf("archive part: %w", err)
			return written, p.err
		}
		b = b[n:]
		if p.cur == memberBytes {
			if err := p.endMember(); err != nil {
				return written, err
			}
		}
	}
	return written, nil
}

func (p *Part) endMember() error {
	if err := p.gz.Close(); err != nil {
		p.err = fmt.Errorf("archive part: %w", err)
		return p.err
	}
	p.members = append(p.members, Member{Compressed: p.dst.n - p.start, Bytes: p.cur})
	p.cur = -1
	return nil
}

// Close ends the last member. It does not close the destination.
func (p *Part) Close() error {
	if p.err != nil || p.closed {
		return p.err
	}
	p.closed = true
	if p.cur >= 0 {
		return p.endMember()
	}
	return nil
}

// Bytes is the content size written so far.
func (p *Part) Bytes() int64 { return p.n }

// Compressed is the number of bytes written to the destination so far.
func (p *Part) Compressed() int64 { return p.dst.n }

// SHA256 is the lower-case hex sha256 of the content; valid after Close.
func (p *Part) SHA256() string { return hex.EncodeToString(p.h.Sum(nil)) }

// countWriter counts what it passes on.
type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}
