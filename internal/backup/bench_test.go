package backup_test

import (
	"context"
	"log/slog"
	"os"
	"strconv"
	"testing"

	"github.com/hubble/hubble-applianceapi/internal/backup"
	"github.com/hubble/hubble-applianceapi/internal/engine/postgres"
	"github.com/hubble/hubble-applianceapi/internal/pgtest"
	"github.com/hubble/hubble-applianceapi/internal/storage/local"
)

// BenchmarkPipeline_Run backs up a Hubble-like dataset of HUBBLE_BENCH_MB
// (default 64) MB with the product's settings (2 workers, level 6, or
// HUBBLE_BENCH_LEVEL), for profiling the client side:
//
//	go test -run '^$' -bench Pipeline -benchtime 3x -cpuprofile cpu.out ./internal/backup
//	go tool pprof -top cpu.out
//
// make bench compares whole runs with pg_dump; this is the microscope.
func BenchmarkPipeline_Run(b *testing.B) {
	mb, level := envInt(b, "HUBBLE_BENCH_MB", 64), envInt(b, "HUBBLE_BENCH_LEVEL", 6)
	ctx := context.Background()
	dsn := pgtest.NewDB(b)
	if err := pgtest.GenerateBench(ctx, dsn, "hubble", int64(mb)<<20, nil); err != nil {
		b.Fatal(err)
	}
	eng, err := postgres.New(postgres.Config{DSN: dsn})
	if err != nil {
		b.Fatal(err)
	}
	var data int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		dir := b.TempDir()
		p := &backup.Pipeline{
			Engine: eng, Target: local.New(dir), FS: backup.OSFS{}, Log: slog.New(slog.DiscardHandler),
			Opts: backup.Options{BackupDir: dir, TempDir: b.TempDir(), MinFreeMB: 1, Schema: "hubble", Parallel: 2,
				Level: level, Version: "bench"},
		}
		data = 0
		res, err := p.Run(ctx, "0123456789abcdef0123456789abcdef", func(p backup.Progress) { data = p.Bytes })
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(res.Bytes), "archive-bytes")
		os.RemoveAll(dir)
	}
	b.SetBytes(data)
}

func envInt(b *testing.B, name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		b.Fatalf("%s=%q: %v", name, s, err)
	}
	return n
}
