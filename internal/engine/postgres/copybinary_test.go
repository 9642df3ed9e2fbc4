package postgres

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hubble/hubble-applianceapi/internal/engine"
	"github.com/hubble/hubble-applianceapi/internal/pgtest"
	"github.com/hubble/hubble-applianceapi/internal/testlog"
	"github.com/jackc/pgx/v5"
)

// copyBinaryColumns is a table with one column of every kind the
// conversion covers, typmods included.
const copyBinaryColumns = `b bool, i2 int2, i4 int4, i8 int8, f4 float4, f8 float8, n numeric,
	n2 numeric(18,2), d date, ts timestamp, ts3 timestamp(3), tz timestamptz, t text, vc varchar(20), bc char(5)`

var copyBinaryKinds = []colKind{kindBool, kindInt2, kindInt4, kindInt8, kindFloat4, kindFloat8, kindNumeric,
	kindNumeric, kindDate, kindTimestamp, kindTimestamp, kindTimestamptz, kindText, kindText, kindText}

// copyBinaryEdges are values at every edge of every column's text form.
const copyBinaryEdges = `
INSERT INTO src VALUES
 (true, 32767, 2147483647, 9223372036854775807, 'NaN', 'NaN', 'NaN', 'NaN', 'infinity', 'infinity', 'infinity', 'infinity', '', '', ''),
 (false, -32768, -2147483648, -9223372036854775808, 'Infinity', 'Infinity', 'Infinity', 0, '-infinity', '-infinity', '-infinity', '-infinity', ' ', ' x', 'ab'),
 (NULL, 0, 0, 0, '-Infinity', '-Infinity', '-Infinity', -0.01, '4713-01-01 BC', '4713-11-24 00:00:00 BC', '4713-01-01 00:00:00.123 BC', '4713-11-24 00:00:00+00 BC', E'tab\there', E'nl\nx', E'\\\\'),
 (true, -1, -1, -1, '-0', '-0', '-0', 9999999999999999.99, '5874897-12-31', '294276-12-31 23:59:59.999999', '294276-12-31 23:59:59.999', '294276-12-31 23:59:59.999999+00', E'cr\rlf\n', E'\\N', 'N'),
 (false, 1, 1, 1, 1.17549435e-38, 2.2250738585072014e-308, '0.00000', 12.3, '2000-01-01', '2000-01-01 00:00:00', '1999-12-31 23:59:59.9995', '2000-01-01 00:00:00+00', E'\\.', '\.', E'\b\f\v'),
 (true, NULL, NULL, NULL, 3.4028235e+38, 1.7976931348623157e+308, '-123456789012345678901234567890.123456789012345678901234567890', -7.5, '0001-01-01 BC', '0001-01-01 00:00:00 BC', NULL, '0001-01-01 00:00:00+00 BC', 'é€😀', 'ünïcode', 'ß'),
 (NULL, 7, 7, 7, 1e-45, 5e-324, '0.0001', 0.5, '1900-02-28', '1900-02-28 12:34:56.000001', '1900-02-28 12:34:56.001', '1853-06-01 12:00:00+00', E'\x01\x7f', 'a\b', NULL),
 (false, 100, 100, 100, 0.1, 0.1, '10000', 1, '2024-02-29', '2024-02-29 23:59:59', '2024-02-29 23:59:59.5', '2024-02-29 23:59:59.5+00', 'trailing space ', '  ', '    '),
 (true, -100, -100, -100, -1.5e-07, -1.5e-07, '1e-20', 100, '10000-01-01', '10000-01-01 00:00:00', '10000-01-01 00:00:00', '10000-01-01 00:00:00+00', 'x', 'y', 'z');
INSERT INTO src SELECT random() < 0.5, (random()*65535 - 32768)::int2, (random()*4e9 - 2e9)::int4,
  (random()*1.8e19 - 9e18)::int8, ((random()-0.5) * 10^(random()*70-35))::float4,
  ((random()-0.5) * 10^(random()*600-300))::float8,
  round(((random()-0.5) * 10^(random()*40-20))::numeric, (random()*30)::int),
  round((random()*1e14)::numeric, 2), DATE '2000-01-01' + (random()*2e6 - 1e6)::int,
  TIMESTAMP '2000-01-01' + (random()*1e11 - 5e10) * interval '1 second',
  TIMESTAMP '2000-01-01' + (random()*1e11 - 5e10) * interval '1 second',
  TIMESTAMPTZ '2000-01-01' + (random()*1e11 - 5e10) * interval '1 second',
  md5(g::text) || repeat(E'\\\t\n', (random()*2)::int), left(md5(g::text), (random()*20)::int), left(md5(g::text), 5)
FROM generate_series(1, 5000) g;
`

// TestCopyBinary_MatchesServer: rows the server wrote as COPY text, turned
// into COPY binary by the restore and read back, are the rows the server
// would have read from the text, in every session time zone (offsets with
// minutes and seconds included).
func TestCopyBinary_MatchesServer(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.NewDB(t)
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	mustExec := func(sql string) {
		t.Helper()
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	mustExec("CREATE TABLE src (" + copyBinaryColumns + ")")
	mustExec("CREATE TABLE viatext (" + copyBinaryColumns + ")")
	mustExec("CREATE TABLE viabinary (" + copyBinaryColumns + ")")
	mustExec("SET extra_float_digits = 3")
	mustExec(copyBinaryEdges)
	for _, zone := range []string{"UTC", "America/New_York", "Asia/Kolkata", "Europe/Amsterdam", "Pacific/Chatham", "America/St_Johns"} {
		t.Run(zone, func(t *testing.T) {
			mustExec("SET TimeZone = '" + zone + "'")
			mustExec("TRUNCATE viatext, viabinary")
			var text bytes.Buffer
			if _, err := conn.PgConn().CopyTo(ctx, &text, "COPY src TO STDOUT"); err != nil {
				t.Fatal(err)
			}
			if _, err := conn.PgConn().CopyFrom(ctx, bytes.NewReader(text.Bytes()), "COPY viatext FROM STDIN"); err != nil {
				t.Fatal(err)
			}
			bin := newCopyBinaryReader(iotestOneByte(bytes.NewReader(text.Bytes()), zone == "UTC"), copyBinaryKinds)
			tag, err := conn.PgConn().CopyFrom(ctx, bin, "COPY viabinary FROM STDIN WITH (FORMAT binary)")
			if err != nil {
				t.Fatalf("binary COPY: %v", err)
			}
			if tag.RowsAffected() != 5009 {
				t.Fatalf("rows: %d", tag.RowsAffected())
			}
			var want, got bytes.Buffer
			if _, err := conn.PgConn().CopyTo(ctx, &want, "COPY viatext TO STDOUT WITH (FORMAT binary)"); err != nil {
				t.Fatal(err)
			}
			if _, err := conn.PgConn().CopyTo(ctx, &got, "COPY viabinary TO STDOUT WITH (FORMAT binary)"); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(want.Bytes(), got.Bytes()) {
				var wt, gt bytes.Buffer
				_, _ = conn.PgConn().CopyTo(ctx, &wt, "COPY viatext TO STDOUT")
				_, _ = conn.PgConn().CopyTo(ctx, &gt, "COPY viabinary TO STDOUT")
				w, g := strings.Split(wt.String(), "\n"), strings.Split(gt.String(), "\n")
				for i := range min(len(w), len(g)) {
					if w[i] != g[i] {
						t.Fatalf("row %d differs:\ntext:   %q\nbinary: %q", i+1, w[i], g[i])
					}
				}
				t.Fatalf("binary images differ (%d vs %d bytes), text the same", want.Len(), got.Len())
			}
		})
	}
}

// iotestOneByte returns r, or when slow a reader of one byte at a time (the
// conversion then meets every row split across reads).
func iotestOneByte(r io.Reader, slow bool) io.Reader {
	if !slow {
		return r
	}
	return readerFunc(func(p []byte) (int, error) { return r.Read(p[:min(len(p), 1)]) })
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

// TestCopyBinary_Refuses: text in any other form is refused with its row
// and column, never converted by a guess.
func TestCopyBinary_Refuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		kind colKind
		in   string
	}{
		{"DateStyle SQL", kindDate, "01/02/2024"},
		{"DateStyle German", kindDate, "02.01.2024"},
		{"DateStyle Postgres timestamp", kindTimestamp, "Tue Jan 02 00:00:00 2024"},
		{"timestamptz without offset", kindTimestamptz, "2024-01-02 00:00:00"},
		{"timestamptz zone name", kindTimestamptz, "2024-01-02 00:00:00 PST"},
		{"February 30", kindDate, "2024-02-30"},
		{"hour 24", kindTimestamp, "2024-01-02 24:00:00"},
		{"int with spaces", kindInt4, " 1"},
		{"int4 overflow", kindInt4, "2147483648"},
		{"int2 overflow", kindInt2, "-32769"},
		{"bool word", kindBool, "true"},
		{"numeric exponent", kindNumeric, "1e5"},
		{"numeric bare point", kindNumeric, "1."},
		{"float word", kindFloat8, "inf"},
		{"float hex", kindFloat8, "0x1p-2"},
		{"float8 overflow", kindFloat8, "1e999"},
		{"seven fraction digits", kindTimestamp, "2024-01-02 00:00:00.1234567"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newCopyBinaryReader(strings.NewReader("x\t"+tc.in+"\n"), []colKind{kindText, tc.kind})
			_, err := io.ReadAll(r)
			var te *transcodeError
			if !errors.As(err, &te) || !errors.Is(err, errTranscode) || te.row != 1 || te.column != 1 {
				t.Fatalf("err = %v, want a transcodeError at row 1, column 2", err)
			}
		})
	}
	for _, tc := range []struct{ name, in string }{
		{"fewer fields", "a\n"},
		{"more fields", "a\tb\tc\n"},
		{"no line end", "a\tb"},
		{"end marker", "\\.\n"},
		{"raw carriage return", "a\tb\r\n"},
		{"escaped line end", "a\tb\\\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := io.ReadAll(newCopyBinaryReader(strings.NewReader(tc.in), []colKind{kindText, kindText}))
			if !errors.Is(err, errTranscode) {
				t.Fatalf("err = %v, want errTranscode", err)
			}
		})
	}
}

// FuzzCopyBinary: no input makes the conversion panic or loop, and the
// word-at-a-time reading of a row converts or refuses exactly what the
// byte-by-byte one does.
func FuzzCopyBinary(f *testing.F) {
	f.Add("1\t2024-01-02\t12.5\tt\tx\\ty\n")
	f.Add("\\N\t-infinity\tNaN\tf\t\\101\\x41\n")
	f.Add("-9223372036854775808\t0001-01-01 BC\t-0.0001\tt\t\\\n")
	f.Add("1\t2\t3\t\\\\\t\\\t\n")
	f.Add("\\.\n")
	f.Fuzz(func(t *testing.T, in string) {
		for _, kinds := range [][]colKind{
			{kindInt8, kindDate, kindNumeric, kindBool, kindText},
			{kindTimestamptz, kindFloat4, kindInt2, kindTimestamp, kindFloat8},
			{kindText},
		} {
			_, _ = io.ReadAll(newCopyBinaryReader(strings.NewReader(in), kinds))
			for _, line := range strings.Split(in, "\n") {
				fast, slow := newCopyBinaryReader(nil, kinds), newCopyBinaryReader(nil, kinds)
				ferr, serr := fast.convert([]byte(line), true), slow.convert([]byte(line), false)
				if (ferr == nil) != (serr == nil) || (ferr == nil && !bytes.Equal(fast.out, slow.out)) {
					t.Fatalf("row %q: word-at-a-time %v %x, byte-by-byte %v %x", line, ferr, fast.out, serr, slow.out)
				}
			}
		}
	})
}

// TestRestore_BinaryRefusedLoadsText: a value the conversion refuses (a
// numeric of more significant digits than COPY binary carries) makes its
// table load again as text, undone first, whether one session loads it or
// several (the others' lanes undone too), held or not: the data restores
// exactly and the log says which table went as text and why.
func TestRestore_BinaryRefusedLoadsText(t *testing.T) {
	defer func(old int64) { minStripeBytes = old }(minStripeBytes)
	defer func() { joinHook = nil }()
	ctx := testCtx(t)
	src := pgtest.NewDB(t)
	// 13,000 significant digits: 3,250 base-10000 digits, over numeric_recv's 3,000.
	if err := pgtest.Exec(ctx, src, `CREATE SCHEMA hubble;
		CREATE TABLE hubble.big (id int8 PRIMARY KEY, d date, n numeric, t text);
		INSERT INTO hubble.big SELECT g, DATE '2020-01-01' + g % 1000, g * 1.5, md5(g::text) FROM generate_series(1, 60000) g;
		UPDATE hubble.big SET n = ('1' || repeat('7', 13000))::numeric WHERE id = 50000;
		CREATE TABLE hubble.small (id int4, n numeric);
		INSERT INTO hubble.small VALUES (1, ('2' || repeat('3', 13000))::numeric), (2, 2.5);
		CREATE TABLE hubble.plain (id int4, ts timestamptz);
		INSERT INTO hubble.plain SELECT g, TIMESTAMPTZ '2024-01-01 00:00:00+00' + g * interval '1 minute' FROM generate_series(1, 100) g;`); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	tables := dumpForRestore(ctx, t, newEngine(t, Config{DSN: src}), "hubble", dir)
	for _, tt := range []struct {
		name          string
		striped, held bool
	}{{"one session held", false, true}, {"one session", false, false}, {"striped held", true, true}, {"striped", true, false}} {
		t.Run(tt.name, func(t *testing.T) {
			minStripeBytes = 1 << 40
			if tt.striped {
				minStripeBytes = 1
			}
			joined := make(chan struct{})
			var once sync.Once
			joinHook = func() { once.Do(func() { close(joined) }) }
			dst := pgtest.NewDB(t)
			var log testlog.Buffer
			req := engine.RestoreRequest{Dir: dir, SourceSchema: "hubble", Tables: tables, Workers: 2,
				Log: slog.New(slog.NewTextHandler(&log, nil)),
				Open: func(ctx context.Context, tb engine.RestoreTable) (io.ReadCloser, error) {
					f, err := os.Open(filepath.Join(dir, tb.File))
					if err != nil || tb.Name != "big" || !tt.striped {
						return f, err
					}
					// The other worker joins before the refused row is read.
					return &gatedReader{ReadCloser: f, after: 256 << 10, gate: joined, ctx: ctx}, nil
				}}
			if tt.held {
				req.Verified = func(context.Context) error { return nil }
			}
			if _, err := newEngine(t, Config{DSN: dst}).Restore(ctx, req); err != nil {
				t.Fatalf("Restore() error = %v\n%s", err, log.String())
			}
			for _, table := range []string{"hubble.big", "hubble.small"} {
				if !strings.Contains(log.String(), `msg="table loaded as COPY text" table="TABLE `+table+`"`) {
					t.Errorf("no warning that %s went as text:\n%s", table, log.String())
				}
			}
			if strings.Contains(log.String(), "TABLE hubble.plain") {
				t.Errorf("hubble.plain went as text:\n%s", log.String())
			}
			if tt.striped {
				select {
				case <-joined: // a second session loaded part of big before the refused row
				default:
					t.Error("no second session joined the load of big")
				}
			}
			want, got := relationHashes(ctx, t, src, "hubble"), relationHashes(ctx, t, dst, "hubble")
			for name, h := range want {
				if got[name] != h {
					t.Errorf("table %s differs after the restore", name)
				}
			}
		})
	}
}

// TestBackup_DateStyleOfTheServer: a server whose sessions write dates as
// 'SQL, DMY' still gets ISO data files (pg_dump's choice), so a server set
// to MDY restores the same days, and the restore's conversion takes them.
func TestBackup_DateStyleOfTheServer(t *testing.T) {
	ctx := testCtx(t)
	src := pgtest.NewDB(t)
	db := src[strings.LastIndex(src, "/")+1:]
	db = db[:strings.IndexByte(db, '?')]
	if err := pgtest.Exec(ctx, src, `ALTER DATABASE `+pgtest.QuoteIdent(db)+` SET DateStyle = 'SQL, DMY';
		ALTER DATABASE `+pgtest.QuoteIdent(db)+` SET extra_float_digits = -15;
		CREATE SCHEMA hubble; CREATE TABLE hubble.d (d date, ts timestamptz, f float8);
		INSERT INTO hubble.d VALUES ('2024-01-02', '2024-01-02 03:04:05+00', 0.1), ('2024-12-31', '1999-02-03 00:00:00+00', 1.0/3);`); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	tables := dumpForRestore(ctx, t, newEngine(t, Config{DSN: src}), "hubble", dir)
	data, err := os.ReadFile(filepath.Join(dir, tables[0].File))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "2024-01-02\t2024-01-02 03:04:05+00\t0.1\n") {
		t.Fatalf("data file not in ISO with exact floats:\n%s", data)
	}
	dst := pgtest.NewDB(t)
	var log testlog.Buffer
	req := engine.RestoreRequest{Dir: dir, SourceSchema: "hubble", Tables: tables, Workers: 1,
		Log: slog.New(slog.NewTextHandler(&log, nil))}
	if _, err := newEngine(t, Config{DSN: dst}).Restore(ctx, req); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(log.String(), "COPY text") {
		t.Errorf("the ISO data went as text:\n%s", log.String())
	}
	var n int
	if err := queryInt(ctx, dst, `SELECT count(*)::int FROM hubble.d WHERE (d, ts, f) IN
		((DATE '2024-01-02', TIMESTAMPTZ '2024-01-02 03:04:05+00', 0.1::float8), (DATE '2024-12-31', TIMESTAMPTZ '1999-02-03 00:00:00+00', 1.0::float8/3))`, &n); err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("%d of 2 rows restored exactly", n)
	}
}

func TestWorthBinary(t *testing.T) {
	for _, tc := range []struct {
		kinds []colKind
		want  bool
	}{
		{[]colKind{kindText}, false},
		{[]colKind{kindInt4, kindText, kindText}, false},
		{[]colKind{kindInt4, kindInt8, kindText}, true},
		{[]colKind{kindText, kindText, kindDate}, true},
		{[]colKind{kindText, kindText, kindText, kindNumeric}, true},
		{[]colKind{kindBool, kindText}, true},
		{[]colKind{kindText, kindFloat8}, true},
	} {
		if got := worthBinary(tc.kinds); got != tc.want {
			t.Errorf("worthBinary(%v) = %v, want %v", tc.kinds, got, tc.want)
		}
	}
}
