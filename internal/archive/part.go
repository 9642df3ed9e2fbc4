package archive

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"

	"github.com/klauspost/compress/gzip"
)

// Part compresses one file's content as it is produced into gzip members of
// at most memberBytes each, hashing it on the way. A table worker writes its
// rows into a Part over a staging file, in parallel with the other workers;
// Writer.AddPart then appends the compressed bytes to the archive as they
// are, so each table is compressed once, by the worker that read it.
//
// Members are independent, so a Part compresses up to partInFlight of them
// at once in goroutines of its own while the caller goes on writing: a
// single large table (or the last one of a backup) keeps every core busy.
// Memory stays at a few member buffers. A Part is not safe for concurrent
// use; Close or Discard it.
type Part struct {
	dst     *countWriter
	level   int
	h       hash.Hash
	n       int64  // content bytes written
	buf     []byte // the member being filled
	pending []chan compressed
	members []Member
	closed  bool
	err     error
}

// partInFlight is how many members of one Part are compressed at once.
const partInFlight = 2

// compressed is one member compressed by a goroutine of the Part.
type compressed struct {
	in  []byte
	out *bytes.Buffer
	err error
}

// NewPart returns a Part compressing at level (gzip levels, as NewWriter)
// into dst.
func NewPart(dst io.Writer, level int) (*Part, error) {
	gz, err := getCompressor(level)
	if err != nil {
		return nil, fmt.Errorf("new archive part: %w", err)
	}
	putCompressor(level, gz)
	return &Part{dst: &countWriter{w: dst}, level: level, h: sha256.New()}, nil
}

// compressors keeps gzip writers by level for reuse: each holds hundreds
// of KiB of match tables.
var compressors [gzip.BestCompression - gzip.HuffmanOnly + 1]sync.Pool

// inputs and outputs keep the members' buffers: free lists rather than
// sync.Pools, which the garbage collector empties, and allocating and
// clearing 4 MiB per member would cost more than compressing small tables.
var (
	inputs  = freeList[[]byte]{c: make(chan []byte, 8), new: func() []byte { return make([]byte, 0, memberBytes) }}
	outputs = freeList[*bytes.Buffer]{c: make(chan *bytes.Buffer, 8), new: func() *bytes.Buffer {
		return bytes.NewBuffer(make([]byte, 0, memberBytes/2))
	}}
)

// freeList is a bounded list of reusable buffers.
type freeList[T any] struct {
	c   chan T
	new func() T
}

func (f *freeList[T]) Get() T {
	select {
	case b := <-f.c:
		return b
	default:
		return f.new()
	}
}

func (f *freeList[T]) Put(b T) {
	select {
	case f.c <- b:
	default:
	}
}

func getCompressor(level int) (*gzip.Writer, error) {
	if level >= gzip.HuffmanOnly && level <= gzip.BestCompression {
		if gz, ok := compressors[level-gzip.HuffmanOnly].Get().(*gzip.Writer); ok {
			return gz, nil
		}
	}
	return gzip.NewWriterLevel(io.Discard, level)
}

func putCompressor(level int, gz *gzip.Writer) {
	gz.Reset(io.Discard)
	compressors[level-gzip.HuffmanOnly].Put(gz)
}

// Write hashes b and compresses it. After an error the Part is unusable.
func (p *Part) Write(b []byte) (int, error) {
	if p.err != nil {
		return 0, p.err
	}
	if p.closed {
		return 0, errors.New("archive part: write after Close")
	}
	p.h.Write(b)
	p.n += int64(len(b))
	for rest := b; len(rest) > 0; {
		if p.buf == nil {
			p.buf = inputs.Get()[:0]
		}
		k := copy(p.buf[len(p.buf):memberBytes], rest)
		p.buf, rest = p.buf[:len(p.buf)+k], rest[k:]
		if len(p.buf) == memberBytes {
			if err := p.submit(); err != nil {
				return len(b) - len(rest), err
			}
		}
	}
	return len(b), nil
}

// submit hands the filled member to a goroutine, then writes out what is
// done, waiting while partInFlight members are being compressed.
func (p *Part) submit() error {
	in, level := p.buf, p.level
	p.buf = nil
	ch := make(chan compressed, 1)
	go func() {
		out := outputs.Get()
		out.Reset()
		gz, err := getCompressor(level)
		if err == nil {
			gz.Reset(out)
			if _, err = gz.Write(in); err == nil {
				err = gz.Close()
			}
			putCompressor(level, gz)
		}
		ch <- compressed{in: in, out: out, err: err}
	}()
	p.pending = append(p.pending, ch)
	return p.drain(partInFlight)
}

// drain writes out compressed members in order, waiting until at most
// keep are pending (and taking those already done).
func (p *Part) drain(keep int) error {
	for len(p.pending) > 0 {
		var c compressed
		if len(p.pending) > keep {
			c = <-p.pending[0]
		} else {
			select {
			case c = <-p.pending[0]:
			default:
				return nil
			}
		}
		p.pending = p.pending[1:]
		if p.err == nil {
			start := p.dst.n
			if c.err == nil {
				_, c.err = p.dst.Write(c.out.Bytes())
			}
			if c.err != nil {
				p.err = fmt.Errorf("archive part: %w", c.err)
			}
			p.members = append(p.members, Member{Compressed: p.dst.n - start, Bytes: int64(len(c.in))})
		}
		inputs.Put(c.in[:0])
		outputs.Put(c.out)
	}
	return p.err
}

// Close compresses what is left and writes every member out. It does not
// close the destination.
func (p *Part) Close() error {
	if p.closed {
		return p.err
	}
	if p.err == nil && len(p.buf) > 0 {
		p.submit()
	}
	p.closed = true
	if p.buf != nil {
		inputs.Put(p.buf[:0])
		p.buf = nil
	}
	return p.drain(0)
}

// Discard waits for the members being compressed and drops them, for a
// Part whose content failed. After Close it does nothing.
func (p *Part) Discard() {
	if p.closed {
		return
	}
	if p.err == nil {
		p.err = errors.New("archive part: discarded")
	}
	p.Close()
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
