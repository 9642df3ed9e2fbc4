// Command bench times hubble-applianceapi's backup and restore against
// pg_dump -Fd -j2 and pg_restore -j2 on the same generated Hubble-like
// dataset, in the same run, and prints the time and size ratios and peak
// RSS of each. `make bench` runs it on ~1 GB; `make bench-smoke` on 20 MB.
//
// The cluster and dataset persist in --dir, so repeated runs skip the
// (minutes-long) generation; --cleanup removes everything at the end.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/hubble/hubble-applianceapi/internal/pgtest"
)

type result struct {
	name    string
	elapsed time.Duration
	rssKB   int64
	bytes   int64
}

func main() {
	bin := flag.String("bin", "bin/hubble-applianceapi", "the binary under test")
	sizeMB := flag.Int64("size-mb", 1024, "dataset size (table data) in MB")
	dir := flag.String("dir", ".bench", "working directory (cluster, dataset marker, outputs)")
	jobs := flag.Int("j", 2, "parallel workers for every tool")
	cleanup := flag.Bool("cleanup", false, "stop the cluster and remove --dir at the end")
	restore := flag.Bool("restore", true, "also time restore against pg_restore")
	flag.Parse()
	if err := run(*bin, *sizeMB, *dir, *jobs, *cleanup, *restore); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(bin string, sizeMB int64, dir string, jobs int, cleanup, restore bool) (err error) {
	ctx := context.Background()
	if bin, err = filepath.Abs(bin); err != nil {
		return err
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	// The server runs as the postgres user, which must reach the cluster
	// directory inside (mktemp makes 0700 directories).
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	cluster, err := pgtest.StartCluster(ctx, filepath.Join(dir, "pg"), 0)
	if err != nil {
		return err
	}
	if cleanup {
		defer func() {
			cluster.Stop(ctx)
			os.RemoveAll(dir)
		}()
	}
	src := cluster.DSN("bench_src")
	if err := ensureDataset(ctx, cluster, dir, sizeMB); err != nil {
		return err
	}

	work := filepath.Join(dir, "run")
	os.RemoveAll(work)
	for _, d := range []string{"out", "tmp", "state"} {
		if err := os.MkdirAll(filepath.Join(work, d), 0o755); err != nil {
			return err
		}
	}
	cfg := filepath.Join(work, "config.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`backup_dir: %s/out
temp_dir: %s/tmp
state_dir: %s/state
log_file: %s/bench.log
min_free_mb: 1
database:
  dsn: %q
  parallel: %d
replication:
  enabled: false
`, work, work, work, work, src, jobs)), 0o600); err != nil {
		return err
	}

	var results []result
	// Ours first, then pg_dump, both against the same warm cache.
	out, r, err := timed("hubble-applianceapi backup", bin, "backup", "--config", cfg)
	if err != nil {
		return err
	}
	archive := lastLine(out)
	r.bytes = size(archive)
	results = append(results, r)

	dumpDir := filepath.Join(work, "pgdump")
	_, r, err = timed(fmt.Sprintf("pg_dump -Fd -j%d", jobs), "pg_dump", "-Fd", fmt.Sprintf("-j%d", jobs), "-n", "hubble", "-f", dumpDir, "-d", src)
	if err != nil {
		return err
	}
	r.bytes = size(dumpDir)
	results = append(results, r)

	if !restore {
		report(sizeMB, results)
		return nil
	}
	// Restores, each into a fresh database.
	for _, db := range []string{"bench_r1", "bench_r2"} {
		if err := recreateDB(ctx, cluster, db); err != nil {
			return err
		}
		if err := pgtest.CreateERP(ctx, cluster.DSN(db)); err != nil {
			return err
		}
	}
	_, r, err = timed("hubble-applianceapi restore", bin, "restore", archive, "--config", cfg, "--dsn", cluster.DSN("bench_r1"))
	if err != nil {
		return err
	}
	results = append(results, r)
	_, r, err = timed(fmt.Sprintf("pg_restore -j%d", jobs), "pg_restore", fmt.Sprintf("-j%d", jobs), "-d", cluster.DSN("bench_r2"), dumpDir)
	if err != nil {
		return err
	}
	results = append(results, r)

	report(sizeMB, results)
	return nil
}

// ensureDataset generates the dataset unless a previous run left one of the
// same size.
func ensureDataset(ctx context.Context, c *pgtest.Cluster, dir string, sizeMB int64) error {
	marker := filepath.Join(dir, fmt.Sprintf("dataset-%dmb.ok", sizeMB))
	if _, err := os.Stat(marker); err == nil {
		return nil
	}
	old, _ := filepath.Glob(filepath.Join(dir, "dataset-*.ok"))
	for _, o := range old {
		os.Remove(o)
	}
	if err := recreateDB(ctx, c, "bench_src"); err != nil {
		return err
	}
	src := c.DSN("bench_src")
	if err := pgtest.CreateERP(ctx, src); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "generating a %d MB Hubble-like dataset (once; kept in %s)\n", sizeMB, dir)
	if err := pgtest.GenerateBench(ctx, src, "hubble", sizeMB<<20, os.Stderr); err != nil {
		return err
	}
	return os.WriteFile(marker, nil, 0o644)
}

// timed runs a command and measures wall time and the peak RSS the kernel
// reports for it (the largest of the process and its waited-for children).
func timed(name, prog string, args ...string) (string, result, error) {
	cmd := exec.Command(prog, args...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	r := result{name: name, elapsed: time.Since(start)}
	if cmd.ProcessState != nil {
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			r.rssKB = ru.Maxrss
		}
	}
	if err != nil {
		return "", r, fmt.Errorf("%s: %w\n%s", name, err, tail(stderr.String(), 2000))
	}
	return stdout.String(), r, nil
}

func report(sizeMB int64, rs []result) {
	fmt.Printf("\ndataset: %d MB of table data (Hubble-like, ~4:1 under gzip)\n\n", sizeMB)
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "run\tseconds\tpeak RSS MB\toutput MB")
	for _, r := range rs {
		out := "-"
		if r.bytes > 0 {
			out = fmt.Sprintf("%.1f", float64(r.bytes)/(1<<20))
		}
		fmt.Fprintf(tw, "%s\t%.2f\t%.1f\t%s\n", r.name, r.elapsed.Seconds(), float64(r.rssKB)/1024, out)
	}
	tw.Flush()
	fmt.Printf("\nbackup time ratio  (ours / pg_dump):    %.2f\n", ratio(rs[0].elapsed, rs[1].elapsed))
	fmt.Printf("backup size ratio  (ours / pg_dump):    %.2f\n", float64(rs[0].bytes)/float64(max(rs[1].bytes, 1)))
	if len(rs) == 4 {
		fmt.Printf("restore time ratio (ours / pg_restore): %.2f\n", ratio(rs[2].elapsed, rs[3].elapsed))
	}
}

func ratio(a, b time.Duration) float64 { return a.Seconds() / max(b.Seconds(), 1e-9) }

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// size is a file's size, or the total of a directory's files.
func size(path string) int64 {
	var total int64
	filepath.WalkDir(path, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return errors.Join(err)
		}
		if d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				total += fi.Size()
			}
		}
		return nil
	})
	return total
}

func recreateDB(ctx context.Context, c *pgtest.Cluster, db string) error {
	if err := pgtest.Exec(ctx, c.DSN("postgres"), "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)"); err != nil {
		return err
	}
	return pgtest.Exec(ctx, c.DSN("postgres"), "CREATE DATABASE "+db)
}
