package main

import (
	"fmt"
	"io"
)

// target is one of issue 11's goals, checked on every comparison at the
// product's worker count.
type target struct {
	what  string
	pass  float64 // the ratio (or MB) to stay at or under
	aim   float64 // the better goal; 0 = none
	value func(c *comparison) (float64, bool)
}

var targets = []target{
	{what: "restore wall ours/pg_restore", pass: 1.00, aim: 0.85,
		value: func(c *comparison) (float64, bool) { return medianRatio(c.restoreOurs, c.restoreTheirs, metrics[0]) }},
	{what: "restore client CPU ours/pg_restore", pass: 1.00,
		value: func(c *comparison) (float64, bool) { return medianRatio(c.restoreOurs, c.restoreTheirs, metrics[1]) }},
	{what: "backup wall ours/pg_dump", pass: 0.50, aim: 0.45,
		value: func(c *comparison) (float64, bool) { return medianRatio(c.backupOurs, c.backupTheirs, metrics[0]) }},
	{what: "backup client CPU ours/pg_dump", pass: 1.00,
		value: func(c *comparison) (float64, bool) { return medianRatio(c.backupOurs, c.backupTheirs, metrics[1]) }},
	{what: "backup size ours/pg_dump", pass: 1.10,
		value: func(c *comparison) (float64, bool) { return medianRatio(c.backupOurs, c.backupTheirs, metrics[4]) }},
	{what: "backup peak RSS MB (ours, largest run)", pass: 150,
		value: func(c *comparison) (float64, bool) { return largest(c.backupOurs, metrics[3]) }},
	{what: "restore peak RSS MB (ours, largest run)", pass: 150,
		value: func(c *comparison) (float64, bool) { return largest(c.restoreOurs, metrics[3]) }},
}

func medianRatio(a, b []sample, m metric) (float64, bool) {
	if len(a) == 0 || len(b) == 0 {
		return 0, false
	}
	r, ok := ratio(a, b, m)
	return r.med, ok
}

func largest(ss []sample, m metric) (float64, bool) {
	if len(ss) == 0 {
		return 0, false
	}
	return summarize(values(ss, m)).hi, true
}

// printTargets checks the targets on each comparison at the product's
// worker count.
func (b *bench) printTargets(w io.Writer) {
	fmt.Fprintf(w, "\n== targets (issue 11), at database.parallel %d vs -j%d\n", b.o.parallel, b.o.parallel)
	for _, t := range targets {
		for _, k := range b.order {
			c := b.results[k]
			if k.j != b.o.parallel {
				continue
			}
			v, ok := t.value(c)
			if !ok {
				continue
			}
			verdict := "MISSED"
			switch {
			case t.aim > 0 && v <= t.aim:
				verdict = "aim met"
			case v <= t.pass:
				verdict = "passed"
			}
			goal := fmt.Sprintf("<= %s", trim(t.pass))
			if t.aim > 0 {
				goal += fmt.Sprintf(", aim <= %s", trim(t.aim))
			}
			fmt.Fprintf(w, "%-42s %-9s %7s  %-22s %s\n", t.what, k.set, trim(v), goal, verdict)
		}
	}
}
