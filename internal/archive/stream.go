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
	cur     string // name of the entry being read, for messages
	lastN   int    // what the last Read returned
	zeros   int64  // zero bytes at the end of what was read

	ctxErr, gzErr, limitErr error
}

// errAfterStream marks bytes after a gzip member that start no other.
var errAfterStream = errors.New("data after the end of the compressed stream")

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
	// Members follow each other (the indexed format has many; release
	// 0.1.0 wrote one): gunzip reads them as one stream, and so does this,
	// one member at a time (Read), to tell bytes after the last member from
	// a truncated one.
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
	for err == io.EOF {
		if err = s.nextMember(); err != nil || n > 0 {
			break
		}
		n, err = s.gz.Read(p)
	}
	s.n += int64(n)
	s.lastN = n
	s.countZeros(p[:n])
	if s.n > s.lim.MaxBytes {
		what := "archive"
		if s.cur != "" {
			what = display(s.cur)
		}
		s.limitErr = problemf(tooLarge, "%s: archive expands to more than %d bytes", what, s.lim.MaxBytes)
		return n, s.limitErr
	}
	if err != nil && err != io.EOF && s.gzErr == nil {
		s.gzErr = err
	}
	return n, err
}

// nextMember starts the member that follows the one that just ended, if
// any: io.EOF at the end of the input, nil when one was started, else the
// reason.
func (s *stream) nextMember() error {
	peek, err := s.br.Peek(2)
	magic := string(peek) // Reset may overwrite what Peek returned
	if len(magic) == 0 {
		if s.src.err != nil {
			return err
		}
		return io.EOF
	}
	if err := s.gz.Reset(s.br); err != nil {
		if s.src.err != nil || magic == "\x1f\x8b" {
			return err // a damaged member, not bytes after the last
		}
		return errAfterStream
	}
	s.gz.Multistream(false)
	return nil
}

// countZeros keeps the length of the run of zero bytes the stream ends in.
func (s *stream) countZeros(b []byte) {
	i := len(b) - 1
	for i >= 0 && b[i] == 0 {
		i--
	}
	if i < 0 {
		s.zeros += int64(len(b))
	} else {
		s.zeros = int64(len(b) - 1 - i)
	}
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
		// tar.Reader also ends quietly where the input does between two
		// entries; the archive must end in its end-of-archive blocks.
		if s.lastN == 0 || s.zeros < endBlocks {
			return nil, problemf(damaged, "tar: truncated archive (no end-of-archive marker)")
		}
		s.cur = ""
		return nil, io.EOF
	}
	if err != nil {
		if s.ctxErr == nil && s.src.err == nil && s.limitErr == nil && s.gzErr == nil {
			_, _ = io.Copy(io.Discard, s)
		}
		return nil, s.classify(err)
	}
	s.entries++
	s.cur = h.Name
	if s.entries > s.lim.MaxEntries {
		return nil, problemf(tooLarge, "%s: archive has more than %d entries", display(h.Name), s.lim.MaxEntries)
	}
	return h, nil
}

// finish reads the stream to its end, so that gzip checks the CRC-32 and
// size in every member's trailer, and checks that nothing but zeros (tar's
// padding of its last record) follows the end-of-archive marker.
func (s *stream) finish() error {
	buf := make([]byte, 32<<10)
	for {
		n, err := s.Read(buf)
		if !allZero(buf[:n]) {
			return problemf(damaged, "tar: data after the end-of-archive marker")
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return s.classify(err)
		}
	}
}

// gzipError names the gzip layer and says what is wrong with it.
func gzipError(err error) error {
	return problemf(damaged, "gzip: %s", gzipMsg(err))
}

// gzipMsg says what a gzip reader's error means.
func gzipMsg(err error) string {
	var corrupt flate.CorruptInputError
	var msg string
	switch {
	case errors.Is(err, errAfterStream):
		msg = errAfterStream.Error()
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
	return msg
}
