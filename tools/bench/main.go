// Command bench compares hubble-applianceapi's backup and restore with
// pg_dump -Fd -jN and pg_restore -jN on the same generated Hubble-like
// datasets, on one PostgreSQL server tuned as issue 11 says, in one run: for
// each dataset, N alternating pairs of each (ours, theirs, ours, ...),
// printing medians and ranges of wall time, client CPU, server CPU (read
// from /proc on the server's side), peak RSS and size, their ratios, and a
// table of how time scales with data size and with the worker count.
//
// `make bench` runs the full comparison; `make bench-smoke` (CI) a small
// one. The cluster and the datasets persist in --dir, so repeated runs skip
// the (minutes-long) generation; --cleanup removes everything at the end.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hubble/hubble-applianceapi/internal/pgtest"
)

type options struct {
	bin, dir   string
	sets       []string // datasets compared with -j parallel
	pairs      int
	parallel   int
	scaleSizes []string // datasets of the size scaling rows
	scaleJ     []int    // worker counts of the parallel scaling rows
	scaleSet   string   // the dataset the parallel rows use
	scalePairs int
	level      int // compression_level; 0 = the product's default
	only       string
	cleanup    bool
	quietLoad  float64
	quietWait  time.Duration
	offsiteSet string // dataset of the off-site upload part; "" = the first of sets, "none" = skip
}

func main() {
	var o options
	var sets, scaleSizes, scaleJ string
	flag.StringVar(&o.bin, "bin", "bin/hubble-applianceapi", "the binary under test")
	flag.StringVar(&o.dir, "dir", ".bench", "working directory (cluster, datasets, outputs)")
	flag.StringVar(&sets, "sets", "256,1024,big1200", "datasets to compare: N = Hubble-like N MB, bigN = one table of N MB among many small ones")
	flag.IntVar(&o.pairs, "pairs", 5, "alternating pairs (ours, theirs) per tool and dataset")
	flag.IntVar(&o.parallel, "j", 2, "database.parallel and -j of the comparisons")
	flag.StringVar(&scaleSizes, "scale-sizes", "256,1024,4096", "datasets of the size scaling table (\"\" = none)")
	flag.StringVar(&scaleJ, "scale-j", "1,2,4", "worker counts of the parallel scaling table (\"\" = none)")
	flag.StringVar(&o.scaleSet, "scale-set", "1024", "dataset of the parallel scaling table")
	flag.IntVar(&o.scalePairs, "scale-pairs", 1, "pairs per scaling cell not measured by the comparisons")
	flag.IntVar(&o.level, "level", 0, "compression_level for our backup (0 = the product's default)")
	flag.StringVar(&o.only, "only", "", "backup or restore: time only that side")
	flag.BoolVar(&o.cleanup, "cleanup", false, "stop the cluster and remove --dir at the end")
	flag.Float64Var(&o.quietLoad, "quiet-load", 0, "before each dataset, wait (up to --quiet-wait) until the 1-minute load average is below this (0 = do not wait)")
	flag.DurationVar(&o.quietWait, "quiet-wait", 10*time.Minute, "longest wait for --quiet-load")
	flag.StringVar(&o.offsiteSet, "offsite-set", "", "dataset of the off-site part: our backup with a copy to a local S3 server, their throughputs (\"\" = the first of --sets, none = skip)")
	flag.Parse()
	o.sets, o.scaleSizes = list(sets), list(scaleSizes)
	for _, s := range list(scaleJ) {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "bench: --scale-j %q: want worker counts\n", scaleJ)
			os.Exit(2)
		}
		o.scaleJ = append(o.scaleJ, n)
	}
	if o.pairs < 1 || o.scalePairs < 1 || (o.only != "" && o.only != "backup" && o.only != "restore") {
		fmt.Fprintln(os.Stderr, "bench: --pairs and --scale-pairs must be at least 1, --only backup or restore")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, o)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func list(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func run(ctx context.Context, o options) (err error) {
	if o.bin, err = filepath.Abs(o.bin); err != nil {
		return err
	}
	if o.dir, err = filepath.Abs(o.dir); err != nil {
		return err
	}
	if err := os.MkdirAll(o.dir, 0o755); err != nil {
		return err
	}
	// The server runs as the postgres user, which must reach the cluster
	// directory inside (mktemp makes 0700 directories).
	if err := os.Chmod(o.dir, 0o755); err != nil {
		return err
	}
	cluster, err := startCluster(ctx, filepath.Join(o.dir, "pg"))
	if err != nil {
		return err
	}
	if o.cleanup {
		defer func() {
			cluster.Stop(context.Background())
			os.RemoveAll(o.dir)
		}()
	}
	pid, err := postmasterPID(cluster.DataDir)
	if err != nil {
		return err
	}
	b := &bench{o: o, c: cluster, r: &runner{pmPID: pid, log: logf}, results: map[cellKey]*comparison{},
		datasets: map[string]*dataset{}}
	b.printHeader(ctx)
	for _, s := range o.sets {
		cmp, err := b.compare(ctx, s, o.parallel, o.pairs)
		if err != nil {
			return err
		}
		cmp.print(os.Stdout)
	}
	if err := b.scaling(ctx); err != nil {
		return err
	}
	b.printTargets(os.Stdout)
	if set := o.offsiteSet; set != "none" && o.only != "restore" && (set != "" || len(o.sets) > 0) {
		if set == "" {
			set = o.sets[0]
		}
		if err := b.offsite(ctx, set); err != nil {
			return err
		}
	}
	return nil
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

// bench holds one run's cluster, datasets and results.
type bench struct {
	o        options
	c        *pgtest.Cluster
	r        *runner
	datasets map[string]*dataset
	results  map[cellKey]*comparison
	order    []cellKey
}

type cellKey struct {
	set string
	j   int
}

// dataset returns the named dataset, generated if needed.
func (b *bench) dataset(ctx context.Context, name string) (*dataset, error) {
	if d, ok := b.datasets[name]; ok {
		return d, nil
	}
	d, err := parseDataset(name)
	if err != nil {
		return nil, err
	}
	if err := d.ensure(ctx, b.c, b.o.dir); err != nil {
		return nil, err
	}
	b.datasets[name] = &d
	return &d, nil
}

// waitQuiet waits for a low load average, when asked to.
func (b *bench) waitQuiet(ctx context.Context) {
	if b.o.quietLoad <= 0 {
		return
	}
	deadline := time.Now().Add(b.o.quietWait)
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	for l := loadAvg(); l >= b.o.quietLoad && time.Now().Before(deadline); l = loadAvg() {
		logf("load average %.2f, waiting for < %.2f", l, b.o.quietLoad)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
