package archive

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// planningRows returns about size bytes of COPY text shaped like budgeting
// rows: ids, account and cost-centre codes, periods, amounts with random
// digits, words from a small vocabulary. It compresses about 4:1 under gzip
// level 6, like real planning data, unlike blank filler.
func planningRows(seed uint64, size int) []byte {
	rng := rand.New(rand.NewPCG(seed, 11))
	words := []string{"budget", "forecast", "actual", "payroll", "travel", "licence", "consulting",
		"rent", "utilities", "marketing", "capex", "opex", "accrual", "reversal", "adjustment", "Q1", "Q2", "Q3", "Q4"}
	var b bytes.Buffer
	b.Grow(size + 256)
	for id := 1; b.Len() < size; id++ {
		cents := 0
		if rng.IntN(3) == 0 {
			cents = rng.IntN(100)
		}
		// Rows are loaded in batches: one load timestamp per 500 rows.
		batch := rand.New(rand.NewPCG(seed, uint64(id/500)))
		fmt.Fprintf(&b, "%d\t%04d-%03d\tCC%04d\t%d-%02d\t%d.%02d\t%s %s\t2024-%02d-%02d %02d:%02d:00+00\t%s\n",
			id, 4000+100*rng.IntN(30), 10*rng.IntN(5), rng.IntN(300), 2020+rng.IntN(6), 1+rng.IntN(12),
			100*(rng.IntN(200000)-50000), cents,
			words[rng.IntN(len(words))], words[rng.IntN(len(words))],
			1+batch.IntN(12), 1+batch.IntN(28), batch.IntN(24), batch.IntN(60),
			[]string{"\\N", "t", "f"}[rng.IntN(3)])
	}
	return b.Bytes()
}

type countingWriter struct{ n int64 }

func (c *countingWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// BenchmarkWriter measures Writer throughput at level 6 on 64 MiB of
// planning-like rows streamed from disk (MB/s of uncompressed input). It
// also reports MB per CPU-second of the whole process, a figure that stays
// meaningful when other work competes for the cores.
func BenchmarkWriter(b *testing.B) {
	const size = 64 << 20
	src := filepath.Join(b.TempDir(), "gl_budget.hubble")
	if err := os.WriteFile(src, planningRows(1, size), 0o600); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.SetBytes(size)
	var out countingWriter
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		out.n = 0
		w, err := NewWriter(&out, 6)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := w.AddFile(ctx, DirDatabase+"/gl_budget.hubble", src); err != nil {
			b.Fatal(err)
		}
		if err := finish(b, w); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(size)/float64(out.n), "ratio")
	b.ReportMetric(float64(size)*float64(b.N)/1e6/(cpuTime()-cpu0).Seconds(), "MB/cpu-s")
}

// cpuTime is the user and system CPU time of this process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestPlanningRows_ratio keeps the benchmark honest: its data must compress
// about 4:1 (between 3:1 and 5.5:1) at level 6.
func TestPlanningRows_ratio(t *testing.T) {
	data := planningRows(2, 4<<20)
	var out countingWriter
	w, err := NewWriter(&out, 6)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.AddBytes(context.Background(), "x", data); err != nil {
		t.Fatal(err)
	}
	if err := finish(t, w); err != nil {
		t.Fatal(err)
	}
	ratio := float64(len(data)) / float64(out.n)
	if ratio < 3 || ratio > 5.5 {
		t.Errorf("planning rows compress %.2f:1, want about 4:1", ratio)
	}
}
