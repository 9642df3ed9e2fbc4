package postgres

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"strconv"
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
func (c *copyBinaryReader) convertRow(line []byte) *transcodeError {
	ends, bs, ok := c.split(line)
	if !ok {
		return c.convertRowSlow(line)
	}
	if len(line) == 2 && len(bs) == 1 && bs[0] == 0 && line[1] == '.' {
		return &transcodeError{row: c.row, column: -1, reason: "an end-of-data marker"}
	}
	c.out = binary.BigEndian.AppendUint16(c.out, uint16(len(c.kinds)))
	start, b := 0, 0
	for i, k := range c.kinds {
		end := ends[i]
		raw := line[start:end]
		start = end + 1
		for b < len(bs) && bs[b] < end-len(raw) {
			b++
		}
		v := raw
		if b < len(bs) && bs[b] < end { // an escape in this field
			if len(raw) == 2 && raw[1] == 'N' {
				c.out = append(c.out, 0xff, 0xff, 0xff, 0xff)
				continue
			}
			c.field = unescapeCopyText(c.field[:0], raw)
			v = c.field
		}
		var err error
		if c.out, err = appendBinaryValue(c.out, k, v); err != nil {
			return &transcodeError{row: c.row, column: i, value: string(raw), reason: err.Error()}
		}
	}
	return nil
}

// stopInWord reports whether any of 8 bytes is a fieldStop byte.
func stopInWord(w uint64) bool {
	return (zeroBytes(w^wordTab) | zeroBytes(w^wordBS) | zeroBytes(w^wordCR)) != 0
}

// convertRowSlow is convertRow reading byte by byte, for the rows split
// does not take; it refuses what the server would not read as these
// fields.
func (c *copyBinaryReader) convertRowSlow(line []byte) *transcodeError {
	if len(line) == 2 && line[0] == '\\' && line[1] == '.' {
		return &transcodeError{row: c.row, column: -1, reason: "an end-of-data marker"}
	}
	c.out = binary.BigEndian.AppendUint16(c.out, uint16(len(c.kinds)))
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
		if !escaped {
			var err error
			if c.out, err = appendBinaryValue(c.out, k, raw); err != nil {
				return &transcodeError{row: c.row, column: i, value: string(raw), reason: err.Error()}
			}
			continue
		}
		if len(raw) == 2 && raw[1] == 'N' {
			c.out = append(c.out, 0xff, 0xff, 0xff, 0xff)
			continue
		}
		c.field = unescapeCopyText(c.field[:0], raw)
		var err error
		if c.out, err = appendBinaryValue(c.out, k, c.field); err != nil {
			return &transcodeError{row: c.row, column: i, value: string(raw), reason: err.Error()}
		}
	}
	if pos <= len(line) {
		return &transcodeError{row: c.row, column: len(c.kinds) - 1, reason: "more fields than columns"}
	}
	return nil
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

// appendBinaryValue appends one non-null value: its length, then its bytes.
func appendBinaryValue(out []byte, k colKind, v []byte) ([]byte, error) {
	switch k {
	case kindText:
		out = binary.BigEndian.AppendUint32(out, uint32(len(v)))
		return append(out, v...), nil
	case kindBool:
		if len(v) != 1 || (v[0] != 't' && v[0] != 'f') {
			return out, errNotBool
		}
		b := byte(0)
		if v[0] == 't' {
			b = 1
		}
		return append(out, 0, 0, 0, 1, b), nil
	case kindInt2:
		n, err := parseInt(v, 16)
		if err != nil {
			return out, err
		}
		out = append(out, 0, 0, 0, 2)
		return binary.BigEndian.AppendUint16(out, uint16(n)), nil
	case kindInt4:
		n, err := parseInt(v, 32)
		if err != nil {
			return out, err
		}
		out = append(out, 0, 0, 0, 4)
		return binary.BigEndian.AppendUint32(out, uint32(n)), nil
	case kindInt8:
		n, err := parseInt(v, 64)
		if err != nil {
			return out, err
		}
		out = append(out, 0, 0, 0, 8)
		return binary.BigEndian.AppendUint64(out, uint64(n)), nil
	case kindFloat4, kindFloat8:
		return appendFloat(out, k, v)
	case kindNumeric:
		return appendNumeric(out, v)
	case kindDate:
		return appendDate(out, v)
	case kindTimestamp, kindTimestamptz:
		return appendTimestamp(out, v, k == kindTimestamptz)
	}
	return out, errUnknownKind
}

// parseInt takes what int2out/int4out/int8out write: an optional minus and
// decimal digits.
func parseInt(v []byte, bits int) (int64, error) {
	if len(v) == 0 || len(v) > 20 {
		return 0, errNotInt
	}
	neg := v[0] == '-'
	d := v
	if neg {
		d = v[1:]
	}
	if len(d) == 0 {
		return 0, errNotInt
	}
	var u uint64
	for _, ch := range d {
		if ch < '0' || ch > '9' {
			return 0, errNotInt
		}
		if u > (math.MaxUint64-9)/10 {
			return 0, errIntRange
		}
		u = u*10 + uint64(ch-'0')
	}
	limit := uint64(1) << (bits - 1)
	if (!neg && u >= limit) || (neg && u > limit) {
		return 0, errIntRange
	}
	if neg {
		return -int64(u-1) - 1, nil // -limit does not fit before negation
	}
	return int64(u), nil
}

// appendFloat takes what float4out/float8out write: NaN, Infinity,
// -Infinity, or a decimal number (shortest exact since PostgreSQL 12,
// rounded to extra_float_digits before; either parses to what the server's
// strtod would).
func appendFloat(out []byte, k colKind, v []byte) ([]byte, error) {
	s := string(v)
	var f float64
	switch s {
	case "NaN":
		f = math.NaN()
	case "Infinity":
		f = math.Inf(1)
	case "-Infinity":
		f = math.Inf(-1)
	default:
		if len(v) == 0 {
			return out, errNotNumber
		}
		for _, ch := range v {
			if !(ch >= '0' && ch <= '9' || ch == '.' || ch == 'e' || ch == '-' || ch == '+') {
				return out, errNotNumber
			}
		}
		bits := 64
		if k == kindFloat4 {
			bits = 32
		}
		var err error
		if f, err = strconv.ParseFloat(s, bits); err != nil {
			return out, errFloatRange
		}
	}
	if k == kindFloat4 {
		b := math.Float32bits(float32(f))
		if f != f {
			b = 0x7fc00000 // the NaN float4in stores
		}
		out = append(out, 0, 0, 0, 4)
		return binary.BigEndian.AppendUint32(out, b), nil
	}
	b := math.Float64bits(f)
	if f != f {
		b = 0x7ff8000000000000 // the NaN float8in stores
	}
	out = append(out, 0, 0, 0, 8)
	return binary.BigEndian.AppendUint64(out, b), nil
}

// numeric_send's limits: digits are base 10000, at most
// NUMERIC_MAX_PRECISION + NUMERIC_MAX_RESULT_SCALE of them.
const (
	numericMaxDigits = 1000 + 2000
	numericPos       = 0x0000
	numericNeg       = 0x4000
	numericNaN       = 0xC000
	numericPInf      = 0xD000
	numericNInf      = 0xF000
)

// appendNumeric takes what numeric_out writes: NaN, Infinity, -Infinity, or
// an optional minus, digits, and a fraction whose length is the scale.
func appendNumeric(out []byte, v []byte) ([]byte, error) {
	special := func(sign uint16) []byte {
		out = append(out, 0, 0, 0, 8, 0, 0, 0, 0)
		out = binary.BigEndian.AppendUint16(out, sign)
		return append(out, 0, 0)
	}
	switch string(v) {
	case "NaN":
		return special(numericNaN), nil
	case "Infinity":
		return special(numericPInf), nil
	case "-Infinity":
		return special(numericNInf), nil
	}
	sign := uint16(numericPos)
	d := v
	if len(d) > 0 && d[0] == '-' {
		sign, d = numericNeg, d[1:]
	}
	intPart, frac := d, []byte(nil)
	if i := bytes.IndexByte(d, '.'); i >= 0 {
		intPart, frac = d[:i], d[i+1:]
		if len(frac) == 0 {
			return out, errNotNumber
		}
	}
	if len(intPart) == 0 || len(frac) > 0x3fff {
		return out, errNotNumber
	}
	for _, ch := range intPart {
		if ch < '0' || ch > '9' {
			return out, errNotNumber
		}
	}
	for _, ch := range frac {
		if ch < '0' || ch > '9' {
			return out, errNotNumber
		}
	}
	for len(intPart) > 1 && intPart[0] == '0' {
		intPart = intPart[1:]
	}
	if len(intPart) == 1 && intPart[0] == '0' {
		intPart = intPart[:0]
	}
	// Base-10000 groups, written after the value's length and header: the
	// integer part cut in fours from its end, the fraction from its start
	// (its last group padded with zeros); leading zero groups are dropped
	// (each moves the weight down), then trailing ones.
	weight := (len(intPart)+3)/4 - 1
	head := len(out)
	out = append(out, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
	first := len(out)
	ip := intPart
	if r := len(ip) % 4; r != 0 {
		out, weight = pushGroup(out, first, digitsValue(ip[:r]), weight)
		ip = ip[r:]
	}
	for ; len(ip) >= 4; ip = ip[4:] {
		out, weight = pushGroup(out, first, digitsValue(ip[:4]), weight)
	}
	fp := frac
	for ; len(fp) >= 4; fp = fp[4:] {
		out, weight = pushGroup(out, first, digitsValue(fp[:4]), weight)
	}
	if len(fp) > 0 {
		out, weight = pushGroup(out, first, digitsValue(fp)*[...]int{1000, 100, 10}[len(fp)-1], weight)
	}
	for len(out) > first && out[len(out)-2] == 0 && out[len(out)-1] == 0 {
		out = out[:len(out)-2]
	}
	ndigits := (len(out) - first) / 2
	if ndigits == 0 {
		weight, sign = 0, numericPos
	}
	if ndigits > numericMaxDigits || weight > math.MaxInt16 || weight < math.MinInt16 {
		return out[:head], errNumericDigits
	}
	binary.BigEndian.PutUint32(out[head:], uint32(8+2*ndigits))
	binary.BigEndian.PutUint16(out[head+4:], uint16(ndigits))
	binary.BigEndian.PutUint16(out[head+6:], uint16(int16(weight)))
	binary.BigEndian.PutUint16(out[head+8:], sign)
	binary.BigEndian.PutUint16(out[head+10:], uint16(len(frac)))
	return out, nil
}

// pushGroup appends one base-10000 digit, or drops a leading zero one.
func pushGroup(out []byte, first, g, weight int) ([]byte, int) {
	if g == 0 && len(out) == first {
		return out, weight - 1
	}
	return append(out, byte(g>>8), byte(g)), weight
}

// digitsValue is the value of up to four checked decimal digits.
func digitsValue(d []byte) int {
	v := 0
	for _, ch := range d {
		v = v*10 + int(ch-'0')
	}
	return v
}

// postgresEpochJDate is the Julian day of 2000-01-01, where PostgreSQL's
// dates and timestamps count from.
const postgresEpochJDate = 2451545

// date2j is PostgreSQL's date2j: the Julian day of a proleptic Gregorian
// date (year 0 is 1 BC).
func date2j(year, month, day int) int {
	if month > 2 {
		month++
		year += 4800
	} else {
		month += 13
		year += 4799
	}
	century := year / 100
	julian := year*365 - 32167
	julian += year/4 - century + century/4
	julian += 7834*month/256 + day
	return julian
}

func daysIn(year, month int) int {
	switch month {
	case 4, 6, 9, 11:
		return 30
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	}
	return 31
}

// parseISODate reads "YYYY-MM-DD" (four or more year digits) at the start
// of v; it returns the date as written (BC not applied) and the rest of v.
func parseISODate(v []byte) (year, month, day int, rest []byte, err error) {
	if len(v) >= 10 && v[4] == '-' && v[7] == '-' { // four year digits: nearly every date
		d := [8]byte{v[0] - '0', v[1] - '0', v[2] - '0', v[3] - '0', v[5] - '0', v[6] - '0', v[8] - '0', v[9] - '0'}
		if max(d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]) < 10 {
			year = int(d[0])*1000 + int(d[1])*100 + int(d[2])*10 + int(d[3])
			month, day = int(d[4])*10+int(d[5]), int(d[6])*10+int(d[7])
			if year == 0 || month < 1 || month > 12 || day < 1 {
				return 0, 0, 0, nil, errBadDate
			}
			return year, month, day, v[10:], nil
		}
	}
	i := 0
	for i < len(v) && v[i] >= '0' && v[i] <= '9' {
		year = year*10 + int(v[i]-'0')
		i++
		if i > 9 {
			return 0, 0, 0, nil, errNotDate
		}
	}
	if i < 4 || len(v) < i+6 || v[i] != '-' || v[i+3] != '-' || !digits2(v[i+1:]) || !digits2(v[i+4:]) {
		return 0, 0, 0, nil, errNotDate
	}
	month = int(v[i+1]-'0')*10 + int(v[i+2]-'0')
	day = int(v[i+4]-'0')*10 + int(v[i+5]-'0')
	if year == 0 || month < 1 || month > 12 || day < 1 {
		return 0, 0, 0, nil, errBadDate
	}
	return year, month, day, v[i+6:], nil
}

func digits2(v []byte) bool {
	return len(v) >= 2 && v[0] >= '0' && v[0] <= '9' && v[1] >= '0' && v[1] <= '9'
}

// julianOf applies BC and checks the day of the month.
func julianOf(year, month, day int, bc bool) (int, error) {
	if bc {
		year = -(year - 1)
	}
	if day > daysIn(year, month) {
		return 0, errBadDate
	}
	return date2j(year, month, day), nil
}

// cutBC removes a trailing " BC".
func cutBC(v []byte) ([]byte, bool) {
	if n := len(v); n > 3 && v[n-1] == 'C' && v[n-2] == 'B' && v[n-3] == ' ' {
		return v[:n-3], true
	}
	return v, false
}

// infinite tells "infinity" (1) and "-infinity" (-1) from other text (0).
func infinite(v []byte) int {
	switch {
	case len(v) == 8 && v[0] == 'i' && string(v) == "infinity":
		return 1
	case len(v) == 9 && v[0] == '-' && string(v) == "-infinity":
		return -1
	}
	return 0
}

// The limits of date_recv and timestamp_recv (IS_VALID_DATE,
// IS_VALID_TIMESTAMP): Julian day 0 (4714-11-24 BC) up to, not including,
// 5874898-01-01 for dates and 294277-01-01 for timestamps.
const (
	dateEndJulian      = 2147483494 // date2j(5874898, 1, 1)
	timestampEndJulian = 109203528  // date2j(294277, 1, 1)
	usecsPerDay        = 86400 * 1000000
)

// appendDate takes what date_out writes with DateStyle ISO.
func appendDate(out []byte, v []byte) ([]byte, error) {
	out = append(out, 0, 0, 0, 4)
	switch infinite(v) {
	case 1:
		return binary.BigEndian.AppendUint32(out, math.MaxInt32), nil
	case -1:
		return binary.BigEndian.AppendUint32(out, uint32(0x80000000)), nil
	}
	v, bc := cutBC(v)
	y, m, d, rest, err := parseISODate(v)
	if err != nil {
		return out, err
	}
	if len(rest) != 0 {
		return out, errNotDate
	}
	j, err := julianOf(y, m, d, bc)
	if err != nil {
		return out, err
	}
	if j < 0 || j >= dateEndJulian {
		return out, errDateRange
	}
	return binary.BigEndian.AppendUint32(out, uint32(int32(j-postgresEpochJDate))), nil
}

// appendTimestamp takes what timestamp_out and timestamptz_out write with
// DateStyle ISO: "YYYY-MM-DD HH:MM:SS[.ffffff]", then for timestamptz the
// UTC offset "+HH[:MM[:SS]]", then " BC" for years before 1.
func appendTimestamp(out []byte, v []byte, tz bool) ([]byte, error) {
	out = append(out, 0, 0, 0, 8)
	switch infinite(v) {
	case 1:
		return binary.BigEndian.AppendUint64(out, math.MaxInt64), nil
	case -1:
		return binary.BigEndian.AppendUint64(out, uint64(1)<<63), nil
	}
	v, bc := cutBC(v)
	y, m, d, rest, err := parseISODate(v)
	if err != nil {
		return out, err
	}
	if len(rest) < 9 || rest[0] != ' ' || rest[3] != ':' || rest[6] != ':' ||
		!digits2(rest[1:]) || !digits2(rest[4:]) || !digits2(rest[7:]) {
		return out, errNotTimestamp
	}
	hh := int64(rest[1]-'0')*10 + int64(rest[2]-'0')
	mi := int64(rest[4]-'0')*10 + int64(rest[5]-'0')
	ss := int64(rest[7]-'0')*10 + int64(rest[8]-'0')
	if hh > 23 || mi > 59 || ss > 59 {
		return out, errNotTimestamp
	}
	rest = rest[9:]
	var usec int64
	if len(rest) > 0 && rest[0] == '.' {
		i := 1
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		if i == 1 || i > 7 {
			return out, errNotTimestamp
		}
		for k := 1; k < 7; k++ {
			usec *= 10
			if k < i {
				usec += int64(rest[k] - '0')
			}
		}
		rest = rest[i:]
	}
	var offset int64 // seconds east of UTC
	if tz {
		if len(rest) < 3 || (rest[0] != '+' && rest[0] != '-') || !digits2(rest[1:]) {
			return out, errNotTimestamp
		}
		sign := int64(1)
		if rest[0] == '-' {
			sign = -1
		}
		offset = (int64(rest[1]-'0')*10 + int64(rest[2]-'0')) * 3600
		rest = rest[3:]
		for _, unit := range []int64{60, 1} {
			if len(rest) == 0 {
				break
			}
			if len(rest) < 3 || rest[0] != ':' || !digits2(rest[1:]) {
				return out, errNotTimestamp
			}
			n := int64(rest[1]-'0')*10 + int64(rest[2]-'0')
			if n > 59 {
				return out, errNotTimestamp
			}
			offset += n * unit
			rest = rest[3:]
		}
		offset *= sign
	}
	if len(rest) != 0 {
		return out, errNotTimestamp
	}
	j, err := julianOf(y, m, d, bc)
	if err != nil {
		return out, err
	}
	// The local day may lie a day beyond the range its UTC value is in.
	if j < -1 || j > timestampEndJulian {
		return out, errTimestampRange
	}
	t := int64(j-postgresEpochJDate)*usecsPerDay + ((hh*60+mi)*60+ss-offset)*1000000 + usec
	// timestamp_recv's IS_VALID_TIMESTAMP, on the UTC value.
	if t < (0-postgresEpochJDate)*usecsPerDay || t >= (timestampEndJulian-postgresEpochJDate)*usecsPerDay {
		return out, errTimestampRange
	}
	return binary.BigEndian.AppendUint64(out, uint64(t)), nil
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
