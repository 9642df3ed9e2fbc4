package postgres

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"sync"
)

// The archive keeps every table as COPY text, the format pg_dump and psql
// read. Parsing that text is a large share of the server's work in a
// restore (numbers, dates and timestamps go through their input
// functions), so for tables whose columns are all of the types below the
// restore parses the text itself and sends COPY's binary format, which the
// server only has to check. The conversion is strict: a value in any form
// other than the one PostgreSQL writes with DateStyle ISO is an error
// (errTranscode), never a guess, and the caller loads the table as text
// instead.

// colKind is how one column's text turns into COPY binary.
type colKind uint8

const (
	kindText colKind = iota // text, varchar, bpchar: the unescaped bytes
	kindBool
	kindInt2
	kindInt4
	kindInt8
	kindFloat4
	kindFloat8
	kindNumeric
	kindDate
	kindTimestamp
	kindTimestamptz
)

// kindOfType maps a column's type OID to its conversion; ok is false for a
// type the conversion does not cover (domains, arrays, enums, ...).
func kindOfType(oid uint32) (colKind, bool) {
	switch oid {
	case 25, 1043, 1042: // text, varchar, bpchar
		return kindText, true
	case 16:
		return kindBool, true
	case 21:
		return kindInt2, true
	case 23:
		return kindInt4, true
	case 20:
		return kindInt8, true
	case 700:
		return kindFloat4, true
	case 701:
		return kindFloat8, true
	case 1700:
		return kindNumeric, true
	case 1082:
		return kindDate, true
	case 1114:
		return kindTimestamp, true
	case 1184:
		return kindTimestamptz, true
	}
	return 0, false
}

// worthBinary reports whether converting is worth its client CPU: when a
// column has an input function the server spends real time in (dates,
// timestamps, numeric, floats), or most columns are not text. For text the
// server's work is about the same either way (on a table of an integer and
// two short texts, 0.33 against 0.32 CPU-s per 845,000 rows), and ours and
// the larger binary stream would be spent for nothing.
func worthBinary(kinds []colKind) bool {
	plain := 0
	for _, k := range kinds {
		switch k {
		case kindNumeric, kindDate, kindTimestamp, kindTimestamptz, kindFloat4, kindFloat8:
			return true
		case kindText:
		default:
			plain++
		}
	}
	return 2*plain >= len(kinds)
}

// errTranscode is a value the conversion does not take; the table is then
// loaded as text.
var errTranscode = errors.New("not in the form COPY text output has")

// The reasons a value is refused.
var (
	errNotBool        = errors.New("not t or f")
	errUnknownKind    = errors.New("unknown column kind")
	errNotInt         = errors.New("not an integer")
	errIntRange       = errors.New("out of range")
	errNotNumber      = errors.New("not a number")
	errFloatRange     = errors.New("not a number in range")
	errNumericDigits  = errors.New("too many digits for the binary format")
	errNotDate        = errors.New("not an ISO date")
	errBadDate        = errors.New("not a valid date")
	errDateRange      = errors.New("date out of range")
	errNotTimestamp   = errors.New("not an ISO timestamp")
	errTimestampRange = errors.New("timestamp out of range")
)

// transcodeError places an errTranscode failure.
type transcodeError struct {
	row    int64
	column int
	value  string
	reason string
}

// Error is short: it goes to the server in COPY's CopyFail message, which
// the server refuses past a few kilobytes (and closes the session).
func (e *transcodeError) Error() string {
	v := e.value
	if len(v) > 40 {
		v = v[:40] + "..."
	}
	return fmt.Sprintf("row %d, column %d (%q): %s", e.row, e.column+1, v, e.reason)
}

func (e *transcodeError) Unwrap() error { return errTranscode }

var copyBinaryHeader = []byte("PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00")

// copyBinaryReader reads COPY text rows from src and returns the same rows
// in COPY binary format. Memory is bounded by the longest row.
type copyBinaryReader struct {
	src   *bufio.Reader
	kinds []colKind
	out   []byte
	off   int
	row   int64
	long  []byte // a row longer than src's buffer
	field []byte // scratch: an unescaped field
	ends  []int  // scratch: where each field of a row ends
	bs    []int  // scratch: where a row's backslashes are
	state int    // 0 header due, 1 rows, 2 trailer written, 3 done
	err   error

	// refused is the value the conversion refused, read by the loader
	// while pgx may still be reading.
	mu      sync.Mutex
	refused *transcodeError
}

// refusal returns the refused value's error, nil if none.
func (c *copyBinaryReader) refusal() *transcodeError {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.refused
}

func (c *copyBinaryReader) refuse(e *transcodeError) {
	c.mu.Lock()
	c.refused = e
	c.mu.Unlock()
	c.err = e
}

const copyBinaryChunk = 64 << 10

func newCopyBinaryReader(src io.Reader, kinds []colKind) *copyBinaryReader {
	return &copyBinaryReader{src: bufio.NewReaderSize(src, 256<<10), kinds: kinds,
		out: make([]byte, 0, copyBinaryChunk+4096)}
}

func (c *copyBinaryReader) Read(p []byte) (int, error) {
	for c.off == len(c.out) {
		if c.err != nil {
			return 0, c.err
		}
		c.out, c.off = c.out[:0], 0
		c.fill()
	}
	n := copy(p, c.out[c.off:])
	c.off += n
	return n, nil
}

// fill converts rows until a chunk is ready, the source ends or fails.
func (c *copyBinaryReader) fill() {
	if c.state == 0 {
		c.out = append(c.out, copyBinaryHeader...)
		c.state = 1
	}
	for c.state == 1 && len(c.out) < copyBinaryChunk {
		line, err := c.src.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			c.long = append(c.long[:0], line...)
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = c.src.ReadSlice('\n')
				c.long = append(c.long, line...)
			}
			line = c.long
		}
		if err != nil && !errors.Is(err, io.EOF) {
			c.err = err
			return
		}
		if len(line) > 0 {
			if line[len(line)-1] != '\n' {
				c.refuse(&transcodeError{row: c.row + 1, column: -1, reason: "the last row has no line end"})
				return
			}
			c.row++
			if terr := c.convertRow(line[:len(line)-1]); terr != nil {
				c.refuse(terr)
				return
			}
		}
		if errors.Is(err, io.EOF) {
			c.out = append(c.out, 0xff, 0xff) // the trailer: a field count of -1
			c.state = 2
		}
	}
	if c.state == 2 && c.off < len(c.out) {
		return
	}
	if c.state == 2 {
		c.state = 3
		c.err = io.EOF
	}
}

// fieldStop marks the bytes that end a field's plain run: the delimiter,
// a backslash (an escape follows) and a raw carriage return (never in
// COPY text output; the server would read it as a line end).
var fieldStop = [256]bool{'\t': true, '\\': true, '\r': true}

// zeroBytes sets the high bit of each byte of w that is zero, and no other
// bit (exact, unlike the borrow-based test, so its bits can be counted).
func zeroBytes(w uint64) uint64 {
	const m = 0x7f7f7f7f7f7f7f7f
	return ^((w&m + m) | w | m)
}

const (
	wordTab = 0x0909090909090909 // '\t' in every byte
	wordBS  = 0x5c5c5c5c5c5c5c5c // '\\'
	wordCR  = 0x0d0d0d0d0d0d0d0d // '\r'
)

// split finds where each field of line ends, eight bytes at a time, and
// the backslashes in it; ok is false when the row needs the byte-by-byte
// reading: a carriage return, a backslash that escapes a tab or ends the
// row, or a field count other than the columns'.
func (c *copyBinaryReader) split(line []byte) (ends, bs []int, ok bool) {
	ends, bs = c.ends[:0], c.bs[:0]
	i := 0
	for ; i+8 <= len(line); i += 8 {
		w := binary.LittleEndian.Uint64(line[i:])
		if zeroBytes(w^wordCR) != 0 {
			return nil, nil, false
		}
		for t := zeroBytes(w ^ wordTab); t != 0; t &= t - 1 {
			ends = append(ends, i+bits.TrailingZeros64(t)>>3)
		}
		for b := zeroBytes(w ^ wordBS); b != 0; b &= b - 1 {
			bs = append(bs, i+bits.TrailingZeros64(b)>>3)
		}
	}
	for ; i < len(line); i++ {
		switch line[i] {
		case '\t':
			ends = append(ends, i)
		case '\\':
			bs = append(bs, i)
		case '\r':
			return nil, nil, false
		}
	}
	ends = append(ends, len(line))
	c.ends, c.bs = ends, bs
	for _, p := range bs {
		if p+1 == len(line) || line[p+1] == '\t' {
			return nil, nil, false
		}
	}
	return ends, bs, len(ends) == len(c.kinds)
}

// convertRow appends one row; line has no line end.
func (c *copyBinaryReader) convertRow(line []byte) *transcodeError { return c.convert(line, true) }

// convert is convertRow. With fast, the fields are found eight bytes at a
// time (split) when the row allows; otherwise, and for the rows split does
// not take, byte by byte, refusing what the server would not read as these
// fields. Both read every row alike (a fuzz test).
func (c *copyBinaryReader) convert(line []byte, fast bool) *transcodeError {
	if len(line) == 2 && line[0] == '\\' && line[1] == '.' {
		return &transcodeError{row: c.row, column: -1, reason: "an end-of-data marker"}
	}
	c.out = binary.BigEndian.AppendUint16(c.out, uint16(len(c.kinds)))
	if fast {
		if ends, bs, ok := c.split(line); ok {
			start, b := 0, 0
			for i, k := range c.kinds {
				end := ends[i]
				raw := line[start:end]
				start = end + 1
				for b < len(bs) && bs[b] < end-len(raw) {
					b++
				}
				if err := c.appendField(i, k, raw, b < len(bs) && bs[b] < end); err != nil {
					return err
				}
			}
			return nil
		}
	}
	pos := 0
	for i, k := range c.kinds {
		if pos > len(line) {
			return &transcodeError{row: c.row, column: i, reason: "fewer fields than columns"}
		}
		// Fields are short: a plain loop beats bytes.IndexByte's calls.
		end, escaped := pos, false
		for end+8 <= len(line) && !stopInWord(binary.LittleEndian.Uint64(line[end:])) {
			end += 8
		}
		for end < len(line) {
			ch := line[end]
			if !fieldStop[ch] {
				end++
				continue
			}
			if ch == '\t' {
				break
			}
			if ch == '\r' {
				return &transcodeError{row: c.row, column: i, reason: "a raw carriage return"}
			}
			escaped = true
			end += 2 // the escaped byte is never a delimiter
		}
		if end > len(line) { // a backslash ending the row: the server reads an escaped line end
			return &transcodeError{row: c.row, column: i, value: string(line[pos:]), reason: "a backslash at the end of the row"}
		}
		raw := line[pos:end]
		pos = end + 1
		if err := c.appendField(i, k, raw, escaped); err != nil {
			return err
		}
	}
	if pos <= len(line) {
		return &transcodeError{row: c.row, column: len(c.kinds) - 1, reason: "more fields than columns"}
	}
	return nil
}

// appendField appends field i of kind k, raw as the row has it (escaped:
// it holds a backslash): NULL, or its unescaped value converted.
func (c *copyBinaryReader) appendField(i int, k colKind, raw []byte, escaped bool) *transcodeError {
	v := raw
	if escaped {
		if len(raw) == 2 && raw[0] == '\\' && raw[1] == 'N' {
			c.out = append(c.out, 0xff, 0xff, 0xff, 0xff)
			return nil
		}
		c.field = unescapeCopyText(c.field[:0], raw)
		v = c.field
	}
	var err error
	if c.out, err = appendBinaryValue(c.out, k, v); err != nil {
		return &transcodeError{row: c.row, column: i, value: string(raw), reason: err.Error()}
	}
	return nil
}

// stopInWord reports whether any of 8 bytes is a fieldStop byte.
func stopInWord(w uint64) bool {
	return (zeroBytes(w^wordTab) | zeroBytes(w^wordBS) | zeroBytes(w^wordCR)) != 0
}

// unescapeCopyText undoes COPY text's escapes as the server's COPY FROM
// does (CopyReadAttributesText). s never ends in a lone backslash.
func unescapeCopyText(dst, s []byte) []byte {
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if ch != '\\' {
			dst = append(dst, ch)
			continue
		}
		i++
		ch = s[i]
		switch {
		case ch >= '0' && ch <= '7':
			v := int(ch - '0')
			for n := 1; n < 3 && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '7'; n++ {
				i++
				v = v<<3 + int(s[i]-'0')
			}
			dst = append(dst, byte(v&0xff))
		case ch == 'x':
			if i+1 < len(s) && isHex(s[i+1]) {
				i++
				v := hexVal(s[i])
				if i+1 < len(s) && isHex(s[i+1]) {
					i++
					v = v<<4 + hexVal(s[i])
				}
				dst = append(dst, byte(v))
			} else {
				dst = append(dst, 'x')
			}
		case ch == 'b':
			dst = append(dst, '\b')
		case ch == 'f':
			dst = append(dst, '\f')
		case ch == 'n':
			dst = append(dst, '\n')
		case ch == 'r':
			dst = append(dst, '\r')
		case ch == 't':
			dst = append(dst, '\t')
		case ch == 'v':
			dst = append(dst, '\v')
		default:
			dst = append(dst, ch)
		}
	}
	return dst
}

func isHex(b byte) bool {
	return (b >= '0' && b <= '9') || (b >= 'a' && b <= 'f') || (b >= 'A' && b <= 'F')
}

func hexVal(b byte) int {
	switch {
	case b >= '0' && b <= '9':
		return int(b - '0')
	case b >= 'a' && b <= 'f':
		return int(b-'a') + 10
	}
	return int(b-'A') + 10
}

// binaryCopy turns the conversion on; tests turn it off to load as text.
var binaryCopy = true

// copyKinds returns the conversion of each column a COPY of table loads
// (cols, or every stored column), or nil to load it as text: a column of a
// type not covered, nothing worth converting, or a client encoding other
// than the server's (COPY text converts a row before undoing its escapes,
// the binary format each value after: the same only when nothing is
// converted). The lookup cannot fail the session's transaction.
func (s *session) copyKinds(ctx context.Context, schema, table string, cols []string) []colKind {
	pc := s.conn.PgConn()
	if !binaryCopy || pc.ParameterStatus("client_encoding") != pc.ParameterStatus("server_encoding") {
		return nil
	}
	rows, err := s.conn.Query(ctx, `SELECT attname, atttypid FROM pg_catalog.pg_attribute
		WHERE attrelid = pg_catalog.to_regclass($1) AND attnum > 0 AND NOT attisdropped AND attgenerated = ''
		ORDER BY attnum`, quoteIdent(schema, table))
	if err != nil {
		return nil
	}
	var names []string
	byName := map[string]colKind{}
	ok := true
	for rows.Next() {
		var name string
		var oid uint32
		if rows.Scan(&name, &oid) != nil {
			ok = false
			continue
		}
		k, covered := kindOfType(oid)
		ok = ok && covered
		names = append(names, name)
		byName[name] = k
	}
	if rows.Err() != nil || !ok || len(names) == 0 {
		return nil
	}
	if len(cols) == 0 {
		cols = names
	}
	kinds := make([]colKind, len(cols))
	for i, c := range cols {
		k, found := byName[c]
		if !found {
			return nil
		}
		kinds[i] = k
	}
	if !worthBinary(kinds) {
		return nil
	}
	return kinds
}
