package restore_test

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"testing"
	"time"

	"github.com/hubble/hubble-applianceapi/internal/pgtest"
)

// BenchmarkRestore_VsPgRestore restores a GenerateBench dataset of
// HUBBLE_BENCH_MB (default 200) MB with restore (data loaded with
// database.parallel = 2) and, on the same server in the same run, with
// pg_restore -j2 of a pg_dump -Fd -j2 of the same data, and reports both.
//
//	go test ./internal/restore -run '^$' -bench VsPgRestore -benchtime 1x
//
// With HUBBLE_PROFILE_DIR set, our restores alone are profiled with pprof:
// cpu.pprof, and allocs.pprof / allocs-base.pprof (the allocations during
// the restore: go tool pprof -base allocs-base.pprof allocs.pprof).
func BenchmarkRestore_VsPgRestore(b *testing.B) {
	mb := int64(200)
	if v, err := strconv.ParseInt(os.Getenv("HUBBLE_BENCH_MB"), 10, 64); err == nil && v > 0 {
		mb = v
	}
	ctx := context.Background()
	src := pgtest.NewDB(b)
	if err := pgtest.GenerateBench(ctx, src, "hubble", mb<<20, nil); err != nil {
		b.Fatal(err)
	}
	arch := makeArchive(b, src, "hubble", false)
	fi, _ := os.Stat(arch)
	dumpDir := filepath.Join(b.TempDir(), "dump")
	pgDump, _ := pgtest.Bin("pg_dump")
	pgRestore, _ := pgtest.Bin("pg_restore")
	if out, err := exec.Command(pgDump, "-Fd", "-j2", "-n", "hubble", "-f", dumpDir, "-d", src).CombinedOutput(); err != nil {
		b.Fatalf("pg_dump: %v\n%s", err, out)
	}
	for i := 0; i < b.N; i++ {
		dst := pgtest.NewDB(b)
		f := newFixture(b, dst, arch)
		stop := startProfile(b, os.Getenv("HUBBLE_PROFILE_DIR"))
		start := time.Now()
		if _, err := f.r.Run(ctx, f.opts); err != nil {
			b.Fatal(err)
		}
		ours := time.Since(start)
		stop()

		dst2 := pgtest.NewDB(b)
		start = time.Now()
		if out, err := exec.Command(pgRestore, "-j2", "-d", dst2, dumpDir).CombinedOutput(); err != nil {
			b.Fatalf("pg_restore: %v\n%s", err, out)
		}
		theirs := time.Since(start)
		b.ReportMetric(ours.Seconds(), "restore-s")
		b.ReportMetric(theirs.Seconds(), "pg_restore-j2-s")
		b.ReportMetric(float64(mb)/ours.Seconds(), "restore-MB/s")
		b.Logf("dataset %d MB (archive %d MB): restore %.1fs, pg_restore -j2 %.1fs (ratio %.2f)",
			mb, fi.Size()>>20, ours.Seconds(), theirs.Seconds(), ours.Seconds()/theirs.Seconds())
	}
}

// startProfile starts a CPU profile into dir (if not "") and returns the
// function that ends it and writes the allocations made in between.
func startProfile(b *testing.B, dir string) (stop func()) {
	if dir == "" {
		return func() {}
	}
	write := func(name string, f func(io.Writer) error) {
		out, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			b.Fatal(err)
		}
		if err := f(out); err != nil {
			b.Fatal(err)
		}
		if err := out.Close(); err != nil {
			b.Fatal(err)
		}
	}
	allocs := func(w io.Writer) error { runtime.GC(); return pprof.Lookup("allocs").WriteTo(w, 0) }
	write("allocs-base.pprof", allocs)
	cpu, err := os.Create(filepath.Join(dir, "cpu.pprof"))
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(cpu); err != nil {
		b.Fatal(err)
	}
	return func() {
		pprof.StopCPUProfile()
		if err := cpu.Close(); err != nil {
			b.Fatal(err)
		}
		write("allocs.pprof", allocs)
	}
}
