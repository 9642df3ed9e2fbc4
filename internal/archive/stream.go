package archive

import (
	"archive/tar"
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/gzip"
)

// Limits bound what reading an archive may cost, checked while streaming so
// that a gzip bomb is stopped after at most MaxBytes of decompression.
type Limits struct {
	// MaxBytes bounds the uncompressed tar stream (headers, padding and
	// content) and, for Extract, the bytes written. 0 means DefaultLimits'.
	MaxBytes int64
	// MaxEntries bounds the number of tar entries. 0 means DefaultLimits'.
	MaxEntries int
}

// DefaultLimits apply to any Limits field left at zero. They only stop
// absurd archives; callers that know better (free space of the extraction
// directory, say) should pass tighter limits.
var DefaultLimits = Limits{MaxBytes: 1 << 40, MaxEntries: 1 << 20}

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultLimits.MaxBytes
	}
	if l.MaxEntries <= 0 {
		l.MaxEntries = DefaultLimits.MaxEntries
	}
	return l
}

// countingReader counts the compressed bytes read and remembers the source's
// own failure, so that an I/O error is not reported as damage.
type countingReader struct {
	r   io.Reader
	n   int64
	err error
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if err != nil && err != io.EOF && c.err == nil {
		c.err = err
	}
	return n, err
}

// stream is the decompressed tar stream of an archive with its limits. Every
// read error is classified by what failed first: the context, the source,
// the limit, the gzip layer, or else (in next) the tar structure.
type stream struct {
	ctx     context.Context
	lim     Limits
	src     *countingReader
	br      *bufio.Reader
	gz      *gzip.Reader
	tr      *tar.Reader
	n       int64 // uncompressed bytes read
	entries int

	ctxErr, gzErr, limitErr error
}

func openStream(ctx context.Context, r io.Reader, lim Limits) (*stream, error) {
	s := &stream{ctx: ctx, lim: lim.withDefaults(), src: &countingReader{r: r}}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.br = bufio.NewReaderSize(s.src, 256<<10)
	gz, err := gzip.NewReader(s.br)
	if err != nil {
		if s.src.err != nil {
			return nil, fmt.Errorf("read archive: %w", s.src.err)
		}
		return nil, gzipError(err)
	}
	// The writer makes exactly one gzip member; anything after it is damage
	// (finish says so), not a second member to be read.
	gz.Multistream(false)
	s.gz = gz
	s.tr = tar.NewReader(s)
	return s, nil
}

// Read implements io.Reader over the uncompressed stream for tar.Reader.
func (s *stream) Read(p []byte) (int, error) {
	if err := s.ctx.Err(); err != nil {
		s.ctxErr = err
		return 0, err
	}
	if s.limitErr != nil {
		return 0, s.limitErr
	}
	// Ask for one byte more than the limit allows, to tell "exactly at the
	// limit" from "past it" without reading further.
	if room := s.lim.MaxBytes - s.n + 1; int64(len(p)) > room {
		p = p[:room]
	}
	n, err := s.gz.Read(p)
	s.n += int64(n)
	if s.n > s.lim.MaxBytes {
		s.limitErr = problemf(tooLarge, "archive: expands to more than %d bytes", s.lim.MaxBytes)
		return n, s.limitErr
	}
	if err != nil && err != io.EOF && s.gzErr == nil {
		s.gzErr = err
	}
	return n, err
}

// classify turns an error met while reading into the error to report.
func (s *stream) classify(err error) error {
	switch {
	case s.ctxErr != nil:
		return s.ctxErr
	case s.src.err != nil:
		return fmt.Errorf("read archive: %w", s.src.err)
	case s.limitErr != nil:
		return s.limitErr
	case s.gzErr != nil:
		return gzipError(s.gzErr)
	}
	return problemf(damaged, "tar: %v", err)
}

// next returns the next entry's header, io.EOF at the end of the tar, or a
// classified error. A tar error is followed up by reading the rest of the
// gzip stream: a damaged compressed stream often shows first as a garbled tar
// header, and the gzip error is the one worth reporting.
func (s *stream) next() (*tar.Header, error) {
	h, err := s.tr.Next()
	if err == io.EOF {
		return nil, io.EOF
	}
	if err != nil {
		if s.ctxErr == nil && s.src.err == nil && s.limitErr == nil && s.gzErr == nil {
			_, _ = io.Copy(io.Discard, s)
		}
		return nil, s.classify(err)
	}
	s.entries++
	if s.entries > s.lim.MaxEntries {
		return nil, problemf(tooLarge, "%s: archive has more than %d entries", display(h.Name), s.lim.MaxEntries)
	}
	return h, nil
}

// finish reads the stream to its end, so that gzip checks the CRC-32 and
// size in its trailer, and checks that nothing follows the gzip member.
func (s *stream) finish() error {
	if _, err := io.Copy(io.Discard, s); err != nil {
		return s.classify(err)
	}
	if _, err := s.br.ReadByte(); err != io.EOF {
		if s.src.err != nil {
			return fmt.Errorf("read archive: %w", s.src.err)
		}
		return problemf(damaged, "gzip: data after the end of the compressed stream")
	}
	return nil
}

// gzipError names the gzip layer and says what is wrong with it.
func gzipError(err error) error {
	var corrupt flate.CorruptInputError
	var msg string
	switch {
	case errors.Is(err, gzip.ErrChecksum):
		msg = "checksum mismatch (CRC-32 or size in the trailer)"
	case errors.Is(err, gzip.ErrHeader):
		msg = "invalid header (not gzip, or data after the end of the stream)"
	case errors.Is(err, io.ErrUnexpectedEOF):
		msg = "truncated stream (unexpected end of file)"
	case errors.Is(err, io.EOF):
		msg = "empty stream"
	case errors.As(err, &corrupt):
		msg = fmt.Sprintf("corrupt compressed data at offset %d", int64(corrupt))
	default:
		msg = err.Error()
	}
	return problemf(damaged, "gzip: %s", msg)
}
