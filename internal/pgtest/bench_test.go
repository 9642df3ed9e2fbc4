package pgtest

import (
	"bytes"
	"strings"
	"testing"
)

func TestGenerateBench(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	dsn := NewDB(t)
	const target = 12 << 20
	var progress bytes.Buffer
	if err := GenerateBench(ctx, dsn, "hubble", target, &progress); err != nil {
		t.Fatal(err)
	}
	tables, err := Tables(ctx, dsn, "hubble")
	if err != nil {
		t.Fatal(err)
	}
	if want := len(benchTables) + benchLookups; len(tables) != want {
		t.Errorf("%d tables, want %d", len(tables), want)
	}
	size, err := schemaBytes(ctx, dsn, "hubble")
	if err != nil {
		t.Fatal(err)
	}
	if size < target*7/10 || size > target*14/10 {
		t.Errorf("table data %d bytes, want about %d", size, target)
	}
	gl := queryInt(t, ctx, dsn, "SELECT pg_relation_size('hubble.gl_budget')")
	if share := float64(gl) / float64(size); share < 0.3 || share > 0.5 {
		t.Errorf("gl_budget is %.0f%% of the data, want about 40%%", share*100)
	}
	// Realistic entropy: not filler that compresses 35:1, not noise.
	raw, gz, err := CompressionRatio(ctx, dsn, "hubble", 4<<20)
	if err != nil {
		t.Fatal(err)
	}
	if ratio := float64(raw) / float64(gz); ratio < 3.3 || ratio > 5 {
		t.Errorf("gzip ratio %.2f:1, want about 4:1", ratio)
	}
	if !strings.Contains(progress.String(), "ratio") {
		t.Errorf("progress lacks the ratio:\n%s", progress.String())
	}
	if n := queryInt(t, ctx, dsn, "SELECT count(*) FROM hubble.gl_budget WHERE cost_center IS NULL"); n == 0 {
		t.Error("gl_budget has no NULLs")
	}
}

func TestGenerateBenchOneBig(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	dsn := NewDB(t)
	const big, rest = 8 << 20, 1 << 20
	if err := GenerateBenchOneBig(ctx, dsn, "hubble", big, rest, nil); err != nil {
		t.Fatal(err)
	}
	tables, err := Tables(ctx, dsn, "hubble")
	if err != nil {
		t.Fatal(err)
	}
	if want := len(benchTables) + benchLookups; len(tables) != want {
		t.Errorf("%d tables, want %d", len(tables), want)
	}
	gl := queryInt(t, ctx, dsn, "SELECT pg_relation_size('hubble.gl_budget')")
	if gl < big*7/10 || gl > big*14/10 {
		t.Errorf("gl_budget %d bytes, want about %d", gl, big)
	}
	// Every other table is small: the next largest is a fraction of rest.
	next := queryInt(t, ctx, dsn, `SELECT max(pg_relation_size(c.oid)) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = 'hubble' AND c.relkind = 'r' AND c.relname <> 'gl_budget'`)
	if next > rest {
		t.Errorf("the second largest table has %d bytes, want under %d", next, rest)
	}
}
