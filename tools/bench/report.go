package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"
)

// printHeader says what machine and server the figures come from.
func (b *bench) printHeader(ctx context.Context) {
	cpu := "?"
	if info, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(info), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	mem := "?"
	if info, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		fmt.Sscanf(string(info), "MemTotal: %d kB", &kb)
		mem = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
	}
	var server string
	_ = queryRow(ctx, b.c.DSN("postgres"), "SELECT version()", nil, &server)
	version, _ := exec.Command(b.o.bin, "version").Output()
	var settings []string
	for _, kv := range serverSettings {
		settings = append(settings, kv[0]+"="+kv[1])
	}
	fmt.Printf("bench %s\nmachine: %s, %d CPUs, %s RAM\nserver: %s\n  %s\nours: %s\n", time.Now().UTC().Format(time.RFC3339),
		cpu, runtime.NumCPU(), mem, server, strings.Join(settings, ", "), strings.TrimSpace(string(version)))
	fmt.Printf("each row: median (min-max) of the runs; ratio row: ours/theirs of the medians (min-max of the pairs' ratios)\n" +
		"client CPU: the tool's processes (user+system); server CPU: the cluster's processes during the run, from /proc\n")
}

// print writes the comparison's tables.
func (c *comparison) print(w io.Writer) {
	fmt.Fprintf(w, "\n== dataset %s\n   %d alternating pairs, database.parallel %d vs -j%d; load average %.2f before, %.2f after\n",
		c.ds.describe(), c.pairs, c.j, c.j, c.loadStart, c.loadEnd)
	gb := float64(c.ds.dataBytes) / (1 << 30)
	if len(c.backupOurs) > 0 {
		table(w, "backup", fmt.Sprintf("ours (parallel %d)", c.j), fmt.Sprintf("pg_dump -Fd -j%d -n hubble", c.j),
			c.backupOurs, c.backupTheirs, gb)
	}
	if len(c.restoreOurs) > 0 {
		table(w, "restore", fmt.Sprintf("ours (parallel %d)", c.j), fmt.Sprintf("pg_restore -j%d", c.j),
			c.restoreOurs, c.restoreTheirs, gb)
	}
}

func table(w io.Writer, title, ours, theirs string, a, b []sample, gb float64) {
	ms := metrics
	if title == "restore" {
		ms = ms[:len(ms)-1] // no output size
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "%s", title)
	for _, m := range ms {
		fmt.Fprintf(tw, "\t%s %s", m.name, m.unit)
	}
	fmt.Fprintln(tw, "\tclient CPU s/GB")
	for _, row := range []struct {
		name string
		ss   []sample
	}{{ours, a}, {theirs, b}} {
		fmt.Fprint(tw, row.name)
		for _, m := range ms {
			fmt.Fprintf(tw, "\t%s", summarize(values(row.ss, m)))
		}
		fmt.Fprintf(tw, "\t%s\n", trim(summarize(values(row.ss, metrics[1])).med/max(gb, 1e-9)))
	}
	fmt.Fprint(tw, "ours / theirs")
	for _, m := range ms {
		if r, ok := ratio(a, b, m); ok {
			fmt.Fprintf(tw, "\t%s", r)
		} else {
			fmt.Fprint(tw, "\t-")
		}
	}
	fmt.Fprintln(tw, "\t")
	tw.Flush()
}

// scaling measures the cells of the scaling tables the comparisons did not
// and prints them.
func (b *bench) scaling(ctx context.Context) error {
	type row = cellKey
	var rows []row
	for _, s := range b.o.scaleSizes {
		rows = append(rows, row{s, b.o.parallel})
	}
	for _, j := range b.o.scaleJ {
		if j != b.o.parallel || !contains(b.o.scaleSizes, b.o.scaleSet) {
			rows = append(rows, row{b.o.scaleSet, j})
		}
	}
	if len(rows) == 0 {
		return nil
	}
	for _, r := range rows {
		if _, err := b.compare(ctx, r.set, r.j, b.o.scalePairs); err != nil {
			return err
		}
	}
	fmt.Printf("\n== scaling: medians in seconds (pairs per cell: %d for the datasets above, %d for the others); s/GB = ours per GB of table data\n",
		b.o.pairs, b.o.scalePairs)
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "dataset\tMB\t-j\tpairs\tbackup\tpg_dump\tratio\ts/GB\trestore\tpg_restore\tratio\ts/GB\tload\t")
	for _, r := range rows {
		c := b.results[r]
		gb := float64(c.ds.dataBytes) / (1 << 30)
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.2f\t\n", r.set, c.ds.dataBytes>>20, r.j, c.pairs,
			med(c.backupOurs), med(c.backupTheirs), medRatio(c.backupOurs, c.backupTheirs), perGB(c.backupOurs, gb),
			med(c.restoreOurs), med(c.restoreTheirs), medRatio(c.restoreOurs, c.restoreTheirs), perGB(c.restoreOurs, gb),
			c.loadStart)
	}
	return tw.Flush()
}

func med(ss []sample) string {
	if len(ss) == 0 {
		return "-"
	}
	return trim(summarize(values(ss, metrics[0])).med)
}

func medRatio(a, b []sample) string {
	if r, ok := ratio(a, b, metrics[0]); ok && len(a) > 0 {
		return fmt.Sprintf("%.2f", r.med)
	}
	return "-"
}

func perGB(ss []sample, gb float64) string {
	if len(ss) == 0 || gb <= 0 {
		return "-"
	}
	return trim(summarize(values(ss, metrics[0])).med / gb)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
