package postgres

import (
	"bytes"
	"encoding/binary"
	"math"
	"strconv"
)

// The encoders of COPY binary's values, one per colKind: each takes the
// value's COPY text (unescaped) in exactly the form PostgreSQL writes it
// and appends its length and binary form, or refuses it.

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
