package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"

	"github.com/hubble/hubble-applianceapi/internal/s3test"
)

// copyDone is the log line of a finished off-site copy.
var copyDone = regexp.MustCompile(`msg="off-site copy done".* bytes=(\d+) seconds=([0-9.e+-]+)`)

// offsite runs our backup with one off-site target on a local S3 server
// (SeaweedFS, as the tests use) and reports, side by side, the throughput
// of the backup to backup_dir and of the upload to the bucket (archive MB
// per second of each step), over --pairs runs.
func (b *bench) offsite(ctx context.Context, name string) error {
	ds, err := b.dataset(ctx, name)
	if err != nil {
		return err
	}
	work := filepath.Join(b.o.dir, "offsite")
	os.RemoveAll(work)
	defer os.RemoveAll(work)
	for _, d := range []string{"out", "tmp", "state", "s3"} {
		if err := os.MkdirAll(filepath.Join(work, d), 0o755); err != nil {
			return err
		}
	}
	srv, err := s3test.Start(ctx, filepath.Join(work, "s3"), logf)
	if err != nil {
		return err
	}
	defer srv.Stop()
	bucket, err := srv.Bucket(ctx)
	if err != nil {
		return err
	}
	secret := filepath.Join(work, "s3.secret")
	if err := os.WriteFile(secret, []byte(srv.SecretKey), 0o600); err != nil {
		return err
	}
	cfg, err := b.writeConfig(work, ds, b.o.parallel)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(cfg, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	fmt.Fprintf(f, `storage:
  targets:
    - {name: bench, type: s3, endpoint: "http://%s", bucket: %s, prefix: "bench/", access_key_id: %s, secret_access_key_file: %s, path_style: true}
`, srv.Endpoint, bucket, srv.AccessKey, secret)
	f.Close()

	logf("off-site: dataset %s, %d runs, one S3 target on a local SeaweedFS", ds.describe(), b.o.pairs)
	var backupMBs, uploadMBs, backupS, uploadS []float64
	logFile := filepath.Join(work, "bench.log")
	for range b.o.pairs {
		os.Remove(logFile)
		out, s, err := b.r.timed(b.o.bin, "backup", "--config", cfg)
		if err != nil {
			return err
		}
		os.Remove(lastLine(out))
		lb, _ := os.ReadFile(logFile)
		m := copyDone.FindSubmatch(lb)
		if m == nil {
			return fmt.Errorf("off-site: no copy in the backup's log %s", logFile)
		}
		n, _ := strconv.ParseFloat(string(m[1]), 64)
		up, _ := strconv.ParseFloat(string(m[2]), 64)
		local := s.wall.Seconds() - up
		backupS, uploadS = append(backupS, local), append(uploadS, up)
		backupMBs, uploadMBs = append(backupMBs, n/(1<<20)/local), append(uploadMBs, n/(1<<20)/up)
	}
	printOffsite(os.Stdout, ds.describe(), backupS, backupMBs, uploadS, uploadMBs)
	return nil
}

func printOffsite(w io.Writer, set string, backupS, backupMBs, uploadS, uploadMBs []float64) {
	fmt.Fprintf(w, "\n== off-site copy: dataset %s, %d runs (median, min-max)\n", set, len(backupS))
	row := func(what string, secs, mbs []float64) {
		s, t := summarize(secs), summarize(mbs)
		fmt.Fprintf(w, "%-34s %7.2f s (%.2f-%.2f)  %7.1f MB/s of archive (%.1f-%.1f)\n", what, s.med, s.lo, s.hi, t.med, t.lo, t.hi)
	}
	row("backup to backup_dir", backupS, backupMBs)
	row("upload to S3 (local SeaweedFS)", uploadS, uploadMBs)
}
