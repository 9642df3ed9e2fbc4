package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hubble/hubble-applianceapi/internal/pgtest"
)

// comparison is one dataset at one worker count: pairs of backups and of
// restores, ours and theirs alternating.
type comparison struct {
	ds        *dataset
	j         int
	pairs     int
	loadStart float64
	loadEnd   float64

	backupOurs, backupTheirs   []sample
	restoreOurs, restoreTheirs []sample
}

// compare runs the pairs of dataset name with j workers (or returns the
// result of an earlier call with the same arguments).
func (b *bench) compare(ctx context.Context, name string, j, pairs int) (*comparison, error) {
	key := cellKey{name, j}
	if c, ok := b.results[key]; ok {
		return c, nil
	}
	ds, err := b.dataset(ctx, name)
	if err != nil {
		return nil, err
	}
	b.waitQuiet(ctx)
	c := &comparison{ds: ds, j: j, pairs: pairs, loadStart: loadAvg()}
	logf("dataset %s, -j%d, %d pairs (load average %.2f)", ds.describe(), j, pairs, c.loadStart)
	work := filepath.Join(b.o.dir, "run")
	os.RemoveAll(work)
	defer os.RemoveAll(work)
	for _, d := range []string{"out", "tmp", "state", "pgdump"} {
		if err := os.MkdirAll(filepath.Join(work, d), 0o755); err != nil {
			return nil, err
		}
	}
	cfg, err := b.writeConfig(work, ds, j)
	if err != nil {
		return nil, err
	}
	src := b.c.DSN(ds.db)
	pgDump, err := pgtest.Bin("pg_dump")
	if err != nil {
		return nil, err
	}
	pgRestore, err := pgtest.Bin("pg_restore")
	if err != nil {
		return nil, err
	}
	jflag := fmt.Sprintf("-j%d", j)

	// Backups: the first archive and dump are kept for the restores.
	var archive, dump string
	backupPairs := pairs
	if b.o.only == "restore" {
		backupPairs = 1 // untimed, for the restores' input
	}
	for i := range backupPairs {
		if err := b.checkpoint(ctx); err != nil {
			return nil, err
		}
		out, s, err := b.r.timed(b.o.bin, "backup", "--config", cfg)
		if err != nil {
			return nil, err
		}
		path := lastLine(out)
		s.bytes = size(path)
		if i == 0 {
			archive = path
		} else {
			os.Remove(path)
		}
		if err := b.checkpoint(ctx); err != nil {
			return nil, err
		}
		dir := filepath.Join(work, "pgdump", fmt.Sprint(i))
		_, t, err := b.r.timed(pgDump, "-Fd", jflag, "-n", "hubble", "-f", dir, "-d", src)
		if err != nil {
			return nil, err
		}
		t.bytes = size(dir)
		if i == 0 {
			dump = dir
		} else {
			os.RemoveAll(dir)
		}
		if b.o.only != "restore" {
			c.backupOurs, c.backupTheirs = append(c.backupOurs, s), append(c.backupTheirs, t)
		}
	}

	// Restores, each into a fresh database.
	for range pairs {
		if b.o.only == "backup" {
			break
		}
		s, err := b.restore(ctx, "bench_dst_ours", func(dst string) []string {
			return []string{b.o.bin, "restore", archive, "--config", cfg, "--dsn", dst}
		})
		if err != nil {
			return nil, err
		}
		t, err := b.restore(ctx, "bench_dst_theirs", func(dst string) []string {
			return []string{pgRestore, jflag, "-d", dst, dump}
		})
		if err != nil {
			return nil, err
		}
		c.restoreOurs, c.restoreTheirs = append(c.restoreOurs, s), append(c.restoreTheirs, t)
	}
	c.loadEnd = loadAvg()
	b.results[key] = c
	b.order = append(b.order, key)
	return c, nil
}

// restore times one restore into a fresh database db, created (with the
// erp schema an appliance has) and dropped outside the timing.
func (b *bench) restore(ctx context.Context, db string, argv func(dst string) []string) (sample, error) {
	if err := recreateDB(ctx, b.c, db); err != nil {
		return sample{}, err
	}
	defer dropDB(context.Background(), b.c, db)
	if err := pgtest.CreateERP(ctx, b.c.DSN(db)); err != nil {
		return sample{}, err
	}
	if err := b.checkpoint(ctx); err != nil {
		return sample{}, err
	}
	args := argv(b.c.DSN(db))
	_, s, err := b.r.timed(args[0], args[1:]...)
	return s, err
}

// checkpoint starts each timed run with no dirty buffers of the previous
// one, so that no run pays for another's checkpoint.
func (b *bench) checkpoint(ctx context.Context) error {
	return pgtest.Exec(ctx, b.c.DSN("postgres"), "CHECKPOINT")
}

// writeConfig writes our configuration: the product's defaults but for the
// folders, the database and database.parallel.
func (b *bench) writeConfig(work string, ds *dataset, j int) (string, error) {
	level := ""
	if b.o.level > 0 {
		level = fmt.Sprintf("compression_level: %d\n", b.o.level)
	}
	cfg := filepath.Join(work, "config.yaml")
	return cfg, os.WriteFile(cfg, []byte(fmt.Sprintf(`backup_dir: %[1]s/out
temp_dir: %[1]s/tmp
state_dir: %[1]s/state
log_file: %[1]s/bench.log
min_free_mb: 1
%[4]sdatabase:
  dsn: %[2]q
  parallel: %[3]d
replication:
  enabled: false
`, work, b.c.DSN(ds.db), j, level)), 0o600)
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// size is a file's size, or the total of a directory's files.
func size(path string) int64 {
	var total int64
	filepath.Walk(path, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			total += fi.Size()
		}
		return nil
	})
	return total
}
