package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkStatusDuringBackup measures Status throughput and p99 latency
// with 64 concurrent clients while backups of the bulk schema run back to
// back (the service's CPU is shared with COPY and gzip, as in production):
//
//	go test -run '^$' -bench StatusDuringBackup ./e2e/
func BenchmarkStatusDuringBackup(b *testing.B) {
	e := newEnv(b, options{schema: schemaBulk})
	s := e.start(b)
	const clients = 64
	tr := &http.Transport{MaxIdleConnsPerHost: clients}
	b.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}

	// Keep a backup executing for the whole measurement.
	ctx, stop := context.WithCancel(context.Background())
	var current atomic.Value
	first := s.execute(b)
	current.Store(first.ID)
	s.waitStatus(b, first.ID, "Executing", 30*time.Second)
	feederDone := make(chan struct{})
	go func() {
		defer close(feederDone)
		keepBackingUp(ctx, client, s.base, &current)
	}()
	b.Cleanup(func() {
		stop()
		<-feederDone
		s.cancel(b, current.Load().(string))
	})

	var (
		mu        sync.Mutex
		latencies []time.Duration
		failures  atomic.Int64
		executing atomic.Int64
	)
	procs := runtime.GOMAXPROCS(0)
	b.SetParallelism((clients + procs - 1) / procs) // RunParallel starts parallelism × GOMAXPROCS clients
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for pb.Next() {
			id := current.Load().(string)
			t0 := time.Now()
			st, err := getStatus(ctx, client, s.base, id)
			mine = append(mine, time.Since(t0))
			if err != nil {
				failures.Add(1)
				continue
			}
			if st.Status == "Executing" {
				executing.Add(1)
			}
		}
		mu.Lock()
		latencies = append(latencies, mine...)
		mu.Unlock()
	})
	elapsed := time.Since(start)
	b.StopTimer()
	if n := failures.Load(); n > 0 {
		b.Fatalf("%d of %d Status calls failed", n, len(latencies))
	}
	slices.Sort(latencies)
	p99 := latencies[(len(latencies)*99)/100]
	if len(latencies) < 100 {
		p99 = latencies[len(latencies)-1]
	}
	b.ReportMetric(float64(len(latencies))/elapsed.Seconds(), "req/s")
	b.ReportMetric(float64(latencies[len(latencies)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(executing.Load())/float64(len(latencies)), "frac-executing")
}

// keepBackingUp starts a new backup whenever the current one has finished,
// until ctx ends.
func keepBackingUp(ctx context.Context, client *http.Client, base string, current *atomic.Value) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		st, err := getStatus(ctx, client, base, current.Load().(string))
		if err != nil || st.Status == "Queued" || st.Status == "Executing" {
			continue
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/Backup/Execute", nil)
		if err != nil {
			continue
		}
		resp, err := client.Do(req)
		if err != nil {
			continue
		}
		var next status
		err = json.NewDecoder(resp.Body).Decode(&next)
		resp.Body.Close()
		if err == nil && next.Status == "Queued" {
			current.Store(next.ID)
		}
	}
}

func getStatus(ctx context.Context, client *http.Client, base, id string) (status, error) {
	var st status
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/Backup/Status?id="+id, nil)
	if err != nil {
		return st, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, &httpError{resp.StatusCode}
	}
	err = json.NewDecoder(resp.Body).Decode(&st)
	return st, err
}

type httpError struct{ code int }

func (e *httpError) Error() string { return http.StatusText(e.code) }
