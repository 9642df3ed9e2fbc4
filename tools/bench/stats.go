package main

import (
	"fmt"
	"slices"
)

// metric is one measured quantity of a sample, as a float in the unit the
// report prints (seconds, MB).
type metric struct {
	name string
	get  func(sample) float64
	unit string
}

var metrics = []metric{
	{"wall", func(s sample) float64 { return s.wall.Seconds() }, "s"},
	{"client CPU", func(s sample) float64 { return s.client.Seconds() }, "s"},
	{"server CPU", func(s sample) float64 { return s.server.Seconds() }, "s"},
	{"peak RSS", func(s sample) float64 { return float64(s.rssKB) / 1024 }, "MB"},
	{"size", func(s sample) float64 { return float64(s.bytes) / (1 << 20) }, "MB"},
}

// spread is a median with its range.
type spread struct{ med, lo, hi float64 }

func (s spread) String() string {
	if s.lo == s.hi {
		return trim(s.med)
	}
	return fmt.Sprintf("%s (%s-%s)", trim(s.med), trim(s.lo), trim(s.hi))
}

// trim prints a value with 2 significant decimals below 10, 1 below 100.
func trim(v float64) string {
	switch {
	case v < 10:
		return fmt.Sprintf("%.2f", v)
	case v < 100:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.0f", v)
}

// summarize is the median and range of vs (the mean of the two middle
// values for an even count).
func summarize(vs []float64) spread {
	if len(vs) == 0 {
		return spread{}
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	n := len(s)
	med := s[n/2]
	if n%2 == 0 {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	return spread{med: med, lo: s[0], hi: s[n-1]}
}

func values(ss []sample, m metric) []float64 {
	out := make([]float64, len(ss))
	for i, s := range ss {
		out[i] = m.get(s)
	}
	return out
}

// pairRatios is ours/theirs of each pair, for the range of the ratio: runs
// of one pair ran back to back, so their ratio is less exposed to the
// machine's drift than the ratio of two medians.
func pairRatios(ours, theirs []sample, m metric) []float64 {
	var out []float64
	for i := range min(len(ours), len(theirs)) {
		if t := m.get(theirs[i]); t > 0 {
			out = append(out, m.get(ours[i])/t)
		}
	}
	return out
}

// ratio is the ratio of the medians, with the range of the pairs' ratios.
func ratio(ours, theirs []sample, m metric) (spread, bool) {
	t := summarize(values(theirs, m)).med
	if t <= 0 {
		return spread{}, false
	}
	r := summarize(pairRatios(ours, theirs, m))
	r.med = summarize(values(ours, m)).med / t
	return r, true
}
