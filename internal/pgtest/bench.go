package pgtest

import (
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// benchChunk is the number of rows one INSERT ... SELECT generates.
const benchChunk = 1_000_000

// GenerateBench creates schema with a Hubble-like dataset of about
// targetBytes of table data (heap size on disk): gl_budget (~40%), the other
// budgeting tables, the five activity tables and 100 small lookup tables.
// Rows are generated server-side (INSERT ... SELECT generate_series), two
// tables at a time on two connections; primary keys and indexes are built
// after the load, then every table is vacuumed (freeze, analyze) so a
// following backup does not pay for hint bits. Progress lines, and at the end
// the gzip -6 ratio of a COPY text sample, go to progress (may be nil).
// The schema must not exist yet.
func GenerateBench(ctx context.Context, dsn, schema string, targetBytes int64, progress io.Writer) error {
	return generateBench(ctx, dsn, schema, targetBytes, func(bt benchTable) int64 {
		return int64(bt.share * float64(targetBytes))
	}, progress)
}

// GenerateBenchOneBig is GenerateBench's schema with one huge table among
// many small ones: gl_budget gets bigBytes of table data, the other ten
// tables share restBytes in their usual proportions, and the 100 lookup
// tables are as always. It shows what a restore or backup does when one
// table is most of the work (and the largest table's effect on memory).
func GenerateBenchOneBig(ctx context.Context, dsn, schema string, bigBytes, restBytes int64, progress io.Writer) error {
	others := 0.0
	for _, bt := range benchTables[1:] {
		others += bt.share
	}
	return generateBench(ctx, dsn, schema, bigBytes+restBytes, func(bt benchTable) int64 {
		if bt.name == benchTables[0].name {
			return bigBytes
		}
		return int64(bt.share / others * float64(restBytes))
	}, progress)
}

// generateBench creates the schema with each table's share of target bytes
// given by share.
func generateBench(ctx context.Context, dsn, schema string, targetBytes int64, share func(benchTable) int64, progress io.Writer) error {
	if progress == nil {
		progress = io.Discard
	}
	start := time.Now()
	if err := Exec(ctx, dsn, "CREATE SCHEMA "+QuoteIdent(schema)+";\n"+lookupSQL(schema)); err != nil {
		return fmt.Errorf("create bench schema %s: %w", schema, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	queue := make(chan benchTable)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for bt := range queue {
				if err := generateTable(ctx, dsn, schema, bt, share(bt), progress, &mu); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					cancel()
				}
			}
		}()
	}
	// benchTables is ordered largest first, so the two workers finish together.
	for _, bt := range benchTables {
		select {
		case queue <- bt:
		case <-ctx.Done():
		}
	}
	close(queue)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	size, err := schemaBytes(ctx, dsn, schema)
	if err != nil {
		return err
	}
	fmt.Fprintf(progress, "bench: schema %s: %d MB of table data in %s\n", schema, size>>20, time.Since(start).Round(time.Second))
	raw, gz, err := CompressionRatio(ctx, dsn, schema, min(64<<20, max(targetBytes/4, 1<<20)))
	if err != nil {
		return err
	}
	fmt.Fprintf(progress, "bench: gzip -6 of a %d MB COPY text sample: %d MB, ratio %.2f:1\n", raw>>20, gz>>20, float64(raw)/float64(gz))
	return nil
}

func generateTable(ctx context.Context, dsn, schema string, bt benchTable, target int64, progress io.Writer, mu *sync.Mutex) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.Background())
	qt := QuoteQualified(schema, bt.name)
	if _, err := conn.Exec(ctx, "CREATE TABLE "+qt+" ("+bt.ddl+")"); err != nil {
		return fmt.Errorf("create bench table %s: %w", bt.name, err)
	}
	insert := "INSERT INTO " + qt + " SELECT " + groupRandom(bt.cols, bt.group) + " FROM (SELECT " + benchArrays() + ") c, generate_series($1::bigint, $2::bigint) i"
	say := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(progress, "bench: %s: "+format+"\n", append([]any{bt.name}, args...)...)
	}

	// Calibrate: the row count that reaches the target depends on the row width.
	probe := min(max(target/2000, 1000), 20_000) // a probe far beyond a small target would overshoot it
	if _, err := conn.Exec(ctx, insert, 1, probe); err != nil {
		return fmt.Errorf("fill bench table %s: %w", bt.name, err)
	}
	var size int64
	if err := conn.QueryRow(ctx, "SELECT pg_relation_size($1::regclass)", qt).Scan(&size); err != nil {
		return fmt.Errorf("size of bench table %s: %w", bt.name, err)
	}
	rows := max(probe, int64(float64(target)/float64(max(size, 1))*float64(probe)))
	for from := int64(probe + 1); from <= rows; from += benchChunk {
		to := min(from+benchChunk-1, rows)
		if _, err := conn.Exec(ctx, insert, from, to); err != nil {
			return fmt.Errorf("fill bench table %s: %w", bt.name, err)
		}
		say("%d/%d rows", to, rows)
	}
	post := "ALTER TABLE " + qt + " ADD " + strings.ReplaceAll(bt.post, "{t}", qt)
	if _, err := conn.Exec(ctx, post); err != nil {
		return fmt.Errorf("index bench table %s: %w", bt.name, err)
	}
	if _, err := conn.Exec(ctx, "VACUUM (FREEZE, ANALYZE) "+qt); err != nil {
		return fmt.Errorf("vacuum bench table %s: %w", bt.name, err)
	}
	if err := conn.QueryRow(ctx, "SELECT pg_relation_size($1::regclass)", qt).Scan(&size); err != nil {
		return fmt.Errorf("size of bench table %s: %w", bt.name, err)
	}
	say("done, %d rows, %d MB", rows, size>>20)
	return nil
}

// groupRandom replaces each {hN} of cols with a pseudo-random number in
// [0,1) that is the same for the rows of one group of size consecutive ids,
// so related rows share their codes the way real budget lines do.
func groupRandom(cols string, size int) string {
	return hashRef.ReplaceAllStringFunc(cols, func(ref string) string {
		k := ref[2 : len(ref)-1]
		return fmt.Sprintf("((hashint8(i / %d * 64 + %s) & 2147483647)::float8 / 2147483648)", max(size, 1), k)
	})
}

var hashRef = regexp.MustCompile(`\{h[0-9]+\}`)

// benchArrays is the SELECT list of the constants the column expressions use.
func benchArrays() string {
	lit := func(words []string) string {
		return "ARRAY['" + strings.Join(words, "','") + "']::text[]"
	}
	return fmt.Sprintf("%s AS w, %d::float8 AS wn, %s AS u, %d::float8 AS un",
		lit(benchWords), len(benchWords), lit(benchUsers), len(benchUsers))
}

// lookupSQL creates the small lookup tables, 20 to 80 rows each.
func lookupSQL(schema string) string {
	var b strings.Builder
	for n := 1; n <= benchLookups; n++ {
		t := QuoteQualified(schema, fmt.Sprintf("lookup_%03d", n))
		fmt.Fprintf(&b, `CREATE TABLE %[1]s (code text PRIMARY KEY, label text NOT NULL, sort_order integer, valid_from date, valid_to date);
INSERT INTO %[1]s SELECT 'K%[2]d_' || i, initcap(%[3]s[1 + floor(random() * wn)::int]) || ' ' || i, i * 10,
	make_date(2015 + i %% 8, 1 + i %% 12, 1), CASE WHEN random() < 0.8 THEN NULL ELSE date '2030-12-31' END
FROM (SELECT %[4]s) c, generate_series(1, %[5]d) i;
`, t, n, "w", benchArrays(), 20+(n*37)%61)
	}
	return b.String()
}

// CompressionRatio samples the COPY text form of every table of schema
// (about sampleBytes in all, each table in proportion to its size on disk)
// and returns the sample's size raw and under gzip level 6.
func CompressionRatio(ctx context.Context, dsn, schema string, sampleBytes int64) (raw, gz int64, err error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return 0, 0, fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.Background())
	type rel struct {
		name       string
		size, rows int64
	}
	rows, err := conn.Query(ctx, `SELECT c.relname, pg_relation_size(c.oid), greatest(c.reltuples, 0)::bigint
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relkind = 'r' ORDER BY 2 DESC`, schema)
	if err != nil {
		return 0, 0, fmt.Errorf("list tables of %s: %w", schema, err)
	}
	var r rel
	var rels []rel
	var total int64
	_, err = pgx.ForEachRow(rows, []any{&r.name, &r.size, &r.rows}, func() error {
		rels = append(rels, r)
		total += r.size
		return nil
	})
	if err != nil {
		return 0, 0, fmt.Errorf("list tables of %s: %w", schema, err)
	}
	counter := &countingWriter{}
	zw, err := gzip.NewWriterLevel(counter, 6)
	if err != nil {
		return 0, 0, err
	}
	for _, r := range rels {
		if total == 0 || r.size == 0 {
			continue
		}
		limit := r.rows // without statistics (never analyzed) take the whole table
		if r.rows > 0 && total > sampleBytes {
			limit = max(1, r.rows*sampleBytes/total)
		}
		sql := "COPY (SELECT * FROM " + QuoteQualified(schema, r.name) + fmt.Sprintf(" LIMIT %d) TO STDOUT", limit)
		if r.rows == 0 {
			sql = "COPY " + QuoteQualified(schema, r.name) + " TO STDOUT"
		}
		tag, err := conn.PgConn().CopyTo(ctx, &teeCounter{w: zw, n: &raw}, sql)
		if err != nil {
			return 0, 0, fmt.Errorf("sample %s (%s): %w", r.name, tag, err)
		}
	}
	if err := zw.Close(); err != nil {
		return 0, 0, err
	}
	return raw, counter.n, nil
}

func schemaBytes(ctx context.Context, dsn, schema string) (int64, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return 0, fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.Background())
	var n int64
	err = conn.QueryRow(ctx, `SELECT coalesce(sum(pg_relation_size(c.oid)), 0)::bigint FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind = 'r'`, schema).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("size of schema %s: %w", schema, err)
	}
	return n, nil
}

type countingWriter struct{ n int64 }

func (c *countingWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

type teeCounter struct {
	w io.Writer
	n *int64
}

func (t *teeCounter) Write(p []byte) (int, error) { *t.n += int64(len(p)); return t.w.Write(p) }
