package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/hubble/hubble-applianceapi/internal/pgtest"
	"github.com/jackc/pgx/v5"
)

// serverSettings are the bench server's settings (issue 11): what an
// appliance's PostgreSQL would be tuned to, with durability on. The
// test-cluster settings pgtest writes (fsync off, ...) are overridden back
// to PostgreSQL's defaults.
var serverSettings = [][2]string{
	{"shared_buffers", "1GB"},
	{"maintenance_work_mem", "512MB"},
	{"max_wal_size", "32GB"},
	{"autovacuum", "off"},
	{"fsync", "on"},
	{"synchronous_commit", "on"},
	{"full_page_writes", "on"},
	{"checkpoint_timeout", "5min"},
}

// startCluster starts (or reuses) the cluster in dir with serverSettings,
// restarting it when a setting that needs a restart changed.
func startCluster(ctx context.Context, dir string) (*pgtest.Cluster, error) {
	c, err := pgtest.StartCluster(ctx, dir, 0)
	if err != nil {
		return nil, err
	}
	// A setting the server reads only at start (shared_buffers) needs a
	// restart when its value differs; current_setting prints values as
	// they are written here ("1GB").
	restart := false
	for _, kv := range serverSettings {
		var cur, context string
		err := queryRow(ctx, c.DSN("postgres"), "SELECT current_setting($1), context FROM pg_settings WHERE name = $1",
			[]any{kv[0]}, &cur, &context)
		if err != nil {
			return nil, err
		}
		if err := pgtest.Exec(ctx, c.DSN("postgres"), fmt.Sprintf("ALTER SYSTEM SET %s = '%s'", kv[0], kv[1])); err != nil {
			return nil, err
		}
		if context == "postmaster" && cur != kv[1] {
			restart = true
		}
	}
	if restart {
		if err := c.Stop(ctx); err != nil {
			return nil, err
		}
		return pgtest.StartCluster(ctx, dir, c.Port)
	}
	return c, pgtest.Exec(ctx, c.DSN("postgres"), "SELECT pg_reload_conf()")
}

// dataset is one generated source database.
type dataset struct {
	name string // as given on the command line: "1024", "big1200"
	db   string
	mb   int64 // table data in MB (the huge table's, for big sets)
	big  bool  // one huge table among many small ones

	tables    int
	rows      int64
	dataBytes int64 // heap size of the tables
}

// parseDataset reads "N" (the Hubble-like layout of N MB) or "bigN" (one
// table of N MB among the usual small ones, which share N/12 MB).
func parseDataset(s string) (dataset, error) {
	d := dataset{name: s}
	num := s
	if rest, ok := strings.CutPrefix(s, "big"); ok {
		d.big, num = true, rest
	}
	mb, err := strconv.ParseInt(num, 10, 64)
	if err != nil || mb <= 0 {
		return d, fmt.Errorf("dataset %q: want N or bigN (MB)", s)
	}
	d.mb, d.db = mb, "bench_src_"+s
	return d, nil
}

// ensure generates the dataset unless an earlier run left it (a marker
// file records a completed generation), then reads its figures.
func (d *dataset) ensure(ctx context.Context, c *pgtest.Cluster, dir string) error {
	marker := filepath.Join(dir, "dataset-"+d.name+".ok")
	if _, err := os.Stat(marker); err != nil {
		if err := recreateDB(ctx, c, d.db); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "generating dataset %s (once; kept in %s)\n", d.name, dir)
		dsn := c.DSN(d.db)
		if err := pgtest.CreateERP(ctx, dsn); err != nil {
			return err
		}
		if d.big {
			err = pgtest.GenerateBenchOneBig(ctx, dsn, "hubble", d.mb<<20, max(d.mb<<20/12, 1<<20), os.Stderr)
		} else {
			err = pgtest.GenerateBench(ctx, dsn, "hubble", d.mb<<20, os.Stderr)
		}
		if err != nil {
			return err
		}
		if err := pgtest.Exec(ctx, dsn, "CHECKPOINT"); err != nil {
			return err
		}
		if err := os.WriteFile(marker, nil, 0o644); err != nil {
			return err
		}
	}
	return queryRow(ctx, c.DSN(d.db), `SELECT count(*), coalesce(sum(greatest(c.reltuples, 0)), 0)::bigint,
		coalesce(sum(pg_relation_size(c.oid)), 0)::bigint
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'hubble' AND c.relkind = 'r'`,
		nil, &d.tables, &d.rows, &d.dataBytes)
}

func (d *dataset) describe() string {
	kind := "Hubble-like"
	if d.big {
		kind = "one huge table (gl_budget) among many small ones"
	}
	return fmt.Sprintf("%s: %s, %d tables, %.1f M rows, %d MB of table data", d.name, kind, d.tables,
		float64(d.rows)/1e6, d.dataBytes>>20)
}

func recreateDB(ctx context.Context, c *pgtest.Cluster, db string) error {
	if err := pgtest.Exec(ctx, c.DSN("postgres"), "DROP DATABASE IF EXISTS "+pgtest.QuoteIdent(db)+" WITH (FORCE)"); err != nil {
		return err
	}
	return pgtest.Exec(ctx, c.DSN("postgres"), "CREATE DATABASE "+pgtest.QuoteIdent(db))
}

func dropDB(ctx context.Context, c *pgtest.Cluster, db string) error {
	return pgtest.Exec(ctx, c.DSN("postgres"), "DROP DATABASE IF EXISTS "+pgtest.QuoteIdent(db)+" WITH (FORCE)")
}

func queryRow(ctx context.Context, dsn, sql string, args []any, dest ...any) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.Background())
	if err := conn.QueryRow(ctx, sql, args...).Scan(dest...); err != nil {
		return fmt.Errorf("%s: %w", strings.Fields(sql)[0], err)
	}
	return nil
}
