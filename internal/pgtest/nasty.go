package pgtest

// nastySQL holds values that break naive COPY, CSV, escaping or encoding code.
// Each row's label says what it exercises.
const nastySQL = `
CREATE TABLE {s}.nasty_data (
	id integer PRIMARY KEY,
	label text NOT NULL,
	t text,
	b bytea,
	j jsonb,
	js json,
	ia integer[],
	ta text[],
	n numeric,
	f double precision,
	ts timestamptz,
	d date,
	iv interval,
	flag boolean,
	u uuid,
	ch char(5),
	vc varchar(10)
);
INSERT INTO {s}.nasty_data (id, label, t) VALUES
	(1, 'tab', E'before\tafter\t'),
	(2, 'newline', E'line1\nline2\n'),
	(3, 'carriage return', E'cr\r\nlf\rcr'),
	(4, 'backslashes', E'C:\\path\\to\\file\\'),
	(5, 'backslash N text', '\N'),
	(6, 'backslash dot', '\.'),
	(7, 'end of copy marker line', E'first\n\\.\nlast'),
	(8, 'empty string', ''),
	(9, 'null text', NULL),
	(10, 'NULL word', 'NULL'),
	(11, 'latin', 'Grüße, Ñandú, Øre, ĳ, ß, Œuvre'),
	(12, 'cjk', '日本語のテキスト 中文 한국어'),
	(13, 'emoji', '😀🎉 👩‍👩‍👧‍👦 🇨🇭 𝄞'),
	(14, 'rtl', E'שלום עולם \u200F مرحبا بالعالم'),
	(15, 'combining and zero width', E'e\u0301 a\u200bb \uFEFFbom'),
	(16, 'quotes', E'single '' double " backtick \u0060 $$ dollar'),
	(17, 'surrounding spaces', '  leading and trailing  '),
	(18, 'control characters', E'\x01\x07\x1b[31mred\x1b[0m\x7f'),
	(19, 'tab newline backslash mix', E'\\t is not a tab\t\\n is not\na newline\\');

INSERT INTO {s}.nasty_data (id, label, b) VALUES
	(20, 'bytea all 256 bytes', (SELECT string_agg(set_byte('\x00'::bytea, 0, i), ''::bytea ORDER BY i) FROM generate_series(0, 255) i)),
	(21, 'bytea empty', '\x'),
	(22, 'bytea backslashes', E'\\x5c5c4e0a09'::bytea);

INSERT INTO {s}.nasty_data (id, label, j, js) VALUES
	(23, 'json nested', '{"nested": {"a": [1, 2.50, {"b": null}]}, "s": "tab\tquote\" backslash\\ é 😀", "big": 1e40}',
	     '{"a": 1,   "a": 2, "ws":  [ 1 ,2 ] }'),
	(24, 'json null vs sql null', 'null', 'null'),
	(25, 'json empty containers', '[]', '{}'),
	(26, 'json empty string', '""', '""');

INSERT INTO {s}.nasty_data (id, label, ia, ta) VALUES
	(27, 'arrays with nulls and quotes', '{1,NULL,-2147483648,2147483647}',
	     ARRAY['a,b', 'c"d', E'e\\f', NULL, 'NULL', '', ' sp ', E'new\nline', '{braces}', E'tab\there']),
	(28, 'arrays empty', '{}', '{}'),
	(29, 'array two dimensions', '{{1,2},{3,4}}', '{{a,b},{c,d}}'),
	(30, 'array lower bound', '[0:1]={7,8}', '[-1:-1]={x}');

INSERT INTO {s}.nasty_data (id, label, n, f) VALUES
	(31, 'numeric NaN', 'NaN', 'NaN'),
	(32, 'numeric infinity', 'Infinity', 'Infinity'),
	(33, 'numeric minus infinity', '-Infinity', '-Infinity'),
	(34, 'numeric tiny negative', '-0.000000000000000000000000000001', '-0'),
	(35, 'numeric huge', ('1' || repeat('0', 300))::numeric, 1.7976931348623157e308),
	(36, 'numeric high precision', '123456789012345678901234567890.123456789012345678901234567890', 5e-324),
	(37, 'numeric trailing zeros', '-99999999999999999999.9900', 0.1);

INSERT INTO {s}.nasty_data (id, label, ts, d, iv) VALUES
	(38, 'infinity', 'infinity', 'infinity', '178000000 years'),
	(39, 'minus infinity', '-infinity', '-infinity', '-178000000 years'),
	(40, 'epoch', '1970-01-01 00:00:00+00', '1970-01-01', '0'),
	(41, 'leap microsecond offset', '2024-02-29 23:59:59.999999+05:30', '2024-02-29', '1 year 2 mons -3 days 04:05:06.789'),
	(42, 'BC', '0044-03-15 12:00:00+00 BC', '4713-11-24 BC', '-00:00:00.000001'),
	(43, 'far future', '294276-12-31 23:59:59+00', '5874897-12-31', '1 day -24 hours');

INSERT INTO {s}.nasty_data (id, label, flag, u, ch, vc) VALUES
	(44, 'booleans and padding', true, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'ab', 'short'),
	(45, 'false and multibyte varchar', false, '00000000-0000-0000-0000-000000000000', 'ü ', 'ü😀ü😀ü😀ü😀ü😀'),
	(46, 'all columns null', NULL, NULL, NULL, NULL);

INSERT INTO {s}.nasty_data (id, label, t, n)
SELECT 100 + i, 'generated', 'row ' || i || E'\t' || md5(i::text) || CASE WHEN i % 5 = 0 THEN E'\\N' ELSE '' END, i / 7.0
FROM generate_series(1, {rows} / 4) i;

CREATE TABLE {s}.long_text (id integer PRIMARY KEY, body text);
INSERT INTO {s}.long_text VALUES
	(1, (SELECT string_agg(md5(i::text), '') FROM generate_series(1, 32768) i)),
	(2, repeat(E'ab\tc\\d\n', 150000)),
	(3, repeat('ü😀', 150000)),
	(4, '');
`
