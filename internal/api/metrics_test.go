package api

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func itoa(n int) string { return strconv.Itoa(n) }

func TestNewMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg, MetricsOptions{
		QueueDepth:    func() int { return 1 },
		Executing:     func() int { return 1 },
		BackupDirFree: func() (uint64, error) { return 5 << 30, nil },
		TempDirFree:   func() (uint64, error) { return 0, errors.New("statfs: no such directory") },
	})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Unix(1_700_000_000, 0)
	m.JobFinished(Job{Status: "Success", StartedAt: start, FinishedAt: start.Add(42 * time.Second), Bytes: 4096})
	m.JobFinished(Job{Status: "LimitReached"})

	h := New(Options{Jobs: newFakeJobs(), Metrics: MetricsHandler(reg), Logger: slog.New(slog.DiscardHandler)})
	w := do(h, reqSpec{method: "GET", target: "/metrics"})
	if w.Code != http.StatusOK {
		t.Fatalf("code %d: %s", w.Code, w.Body)
	}
	body := w.Body.String()
	for _, want := range []string{
		`hubble_backup_jobs_total{status="Success"} 1`,
		`hubble_backup_jobs_total{status="LimitReached"} 1`,
		`hubble_backup_jobs_total{status="Error"} 0`,
		`hubble_backup_jobs_total{status="Canceled"} 0`,
		`hubble_backup_job_duration_seconds_bucket{status="Success",le="64"} 1`,
		`hubble_backup_job_duration_seconds_sum{status="Success"} 42`,
		`hubble_backup_archive_bytes_total 4096`,
		`hubble_backup_last_archive_bytes 4096`,
		`hubble_backup_last_success_timestamp_seconds 1.700000042e+09`,
		`hubble_backup_queue_depth 1`,
		`hubble_backup_executing_jobs 1`,
		`hubble_backup_dir_free_bytes{dir="backup_dir"} 5.36870912e+09`,
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("exposition lacks %q", want)
		}
	}
	if strings.Contains(body, `dir="temp_dir"`) {
		t.Errorf("unreadable temp_dir is exposed: %s", body)
	}
	if _, err := NewMetrics(reg, MetricsOptions{}); err == nil {
		t.Error("registering twice succeeded")
	}
}
