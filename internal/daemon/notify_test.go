package daemon_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// event is the webhook body as a receiver sees it.
type event struct {
	Event      string     `json:"event"`
	ID         string     `json:"id"`
	Status     string     `json:"status"`
	Message    string     `json:"message"`
	Trigger    string     `json:"trigger"`
	StartedAt  *time.Time `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at"`
	Archive    string     `json:"archive"`
	Bytes      int64      `json:"bytes"`
	Host       string     `json:"host"`
}

// receiver is a local webhook that records every event it gets.
type receiver struct {
	srv    *httptest.Server
	events chan event
	mu     sync.Mutex
	header http.Header
}

func newReceiver(t *testing.T) *receiver {
	t.Helper()
	rc := &receiver{events: make(chan event, 100)}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, err := io.ReadAll(req.Body)
		var ev event
		if err == nil {
			err = json.Unmarshal(b, &ev)
		}
		if err != nil {
			t.Errorf("receiver: bad body %q: %v", b, err)
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		rc.mu.Lock()
		rc.header = req.Header.Clone()
		rc.mu.Unlock()
		rc.events <- ev
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

// next waits for the next event.
func (rc *receiver) next(t *testing.T, limit time.Duration) event {
	t.Helper()
	select {
	case ev := <-rc.events:
		return ev
	case <-time.After(limit):
		t.Fatalf("no webhook event within %s", limit)
		return event{}
	}
}

// TestDaemon_WebhookOnFailure: a job that fails sends exactly one job.failed
// event with the job's id, status and message, and the configured headers,
// which never appear in the log.
func TestDaemon_WebhookOnFailure(t *testing.T) {
	e := newEnv(t)
	rc := newReceiver(t)
	cfg := e.config(t, fmt.Sprintf(`notify:
  webhook_url: %s/hooks/backup
  headers: {X-Hook-Token: "s3cr3t-hook-token"}
  timeout: 2s
  retries: 2
`, rc.srv.URL))
	logBuf := &syncBuffer{}
	r := serve(t, cfg, logBuf)

	// The backup share disappears after the service started.
	if err := os.RemoveAll(e.BackupDir); err != nil {
		t.Fatal(err)
	}
	job := r.execute(t)
	wantMsg := fmt.Sprintf("Directory '%s' does not exist.", e.BackupDir)
	if diff := cmp.Diff(status{Id: job.Id, Status: "Error", Message: wantMsg}, job); diff != "" {
		t.Errorf("Execute (-want +got):\n%s", diff)
	}

	ev := rc.next(t, 10*time.Second)
	host, _ := os.Hostname()
	if ev.FinishedAt == nil {
		t.Error("event has no finished_at")
	}
	ev.FinishedAt, ev.StartedAt = nil, nil
	want := event{Event: "job.failed", ID: job.Id, Status: "Error", Message: wantMsg, Trigger: "api", Host: host}
	if diff := cmp.Diff(want, ev); diff != "" {
		t.Errorf("webhook event (-want +got):\n%s", diff)
	}
	rc.mu.Lock()
	if got := rc.header.Get("X-Hook-Token"); got != "s3cr3t-hook-token" {
		t.Errorf("header X-Hook-Token = %q, want the configured value", got)
	}
	if ct := rc.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	rc.mu.Unlock()

	// Stopping waits for notifications in flight: afterwards nothing more
	// can arrive, so the count is final.
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	if n := len(rc.events); n != 0 {
		t.Errorf("%d more events after the first, want exactly one", n)
	}
	if strings.Contains(logBuf.String(), "s3cr3t-hook-token") || strings.Contains(logBuf.String(), "/hooks/backup") {
		t.Error("the log shows the webhook's header value or path")
	}
}

// TestDaemon_WebhookReceiverDoesNotDelayJobs: a receiver that is down, slow
// or failing changes neither a job's outcome nor when the next job starts.
func TestDaemon_WebhookReceiverDoesNotDelayJobs(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc // nil: nothing listens
	}{
		{name: "down"},
		{name: "slow", handler: func(w http.ResponseWriter, req *http.Request) {
			// Answers only when the client gives up. The body must be read
			// first: only then does the server notice the client leaving.
			io.Copy(io.Discard, req.Body)
			select {
			case <-req.Context().Done():
			case <-time.After(30 * time.Second):
			}
		}},
		{name: "failing", handler: func(w http.ResponseWriter, req *http.Request) {
			http.Error(w, "receiver broken", http.StatusInternalServerError)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			var url string
			var count int
			var mu sync.Mutex
			if tt.handler == nil {
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				url = "http://" + ln.Addr().String() + "/hook"
				ln.Close() // connection refused from now on
			} else {
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
					mu.Lock()
					count++
					mu.Unlock()
					tt.handler(w, req)
				}))
				t.Cleanup(srv.Close)
				url = srv.URL + "/hook"
			}
			cfg := e.config(t, fmt.Sprintf(`max_queued_jobs: 1
notify:
  webhook_url: %s
  timeout: 1s
  retries: 2
  on_success: true
`, url))
			logBuf := &syncBuffer{}
			r := serve(t, cfg, logBuf)

			// Two backups back to back: the second is queued behind the
			// first and must start as soon as the first ends, while the
			// first one's notification is still being tried (3 attempts of
			// up to 1 s each, with 1 s and 2 s backoff).
			first, second := r.execute(t), r.execute(t)
			if first.Status != "Queued" || second.Status != "Queued" {
				t.Fatalf("Execute: %+v, %+v; want both Queued", first, second)
			}
			for _, id := range []string{first.Id, second.Id} {
				if s := r.waitFinal(t, id, time.Minute); s.Status != "Success" {
					t.Fatalf("job %s: %+v, want Success", id, s)
				}
			}
			recs := map[string]jobRecord{}
			for _, j := range r.jobs(t) {
				recs[j.ID] = j
			}
			f, s := recs[first.Id], recs[second.Id]
			// Waiting for even one attempt would take the 1 s timeout
			// ("slow") and the whole chain 3 s or more; below that is
			// scheduling, which a busy machine stretches.
			if gap := s.StartedAt.Sub(*f.FinishedAt); gap > 900*time.Millisecond {
				t.Errorf("second job started %s after the first finished, want at once", gap)
			}

			// A failure is answered at once, whatever the receiver does.
			if err := os.RemoveAll(e.BackupDir); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			failed := r.execute(t)
			if took := time.Since(start); took > 900*time.Millisecond {
				t.Errorf("Execute took %s with a %s receiver", took, tt.name)
			}
			if failed.Status != "Error" {
				t.Errorf("Execute: %+v, want Error", failed)
			}

			if err := r.stop(); err != nil {
				t.Fatal(err)
			}
			// The outcomes are recorded unchanged: read them from the store
			// through a new daemon.
			r2 := serve(t, e.config(t, ""), nil)
			for id, want := range map[string]string{first.Id: "Success", second.Id: "Success", failed.Id: "Error"} {
				if got := r2.status(t, id); got.Status != want {
					t.Errorf("job %s after the notifications: %+v, want %s", id, got, want)
				}
			}
			if !strings.Contains(logBuf.String(), "notify: webhook not notified") {
				t.Errorf("the log does not report the failed notification")
			}
			if tt.handler != nil {
				mu.Lock()
				defer mu.Unlock()
				if count < 3 {
					t.Errorf("receiver got %d attempts, want the retries too", count)
				}
			}
		})
	}
}

// TestDaemon_StaleAlarm: with notify.stale_after and no successful backup,
// the dead man's switch sends one backup.stale event and sets the
// hubble_backup_stale metric.
func TestDaemon_StaleAlarm(t *testing.T) {
	e := newEnv(t)
	rc := newReceiver(t)
	cfg := e.config(t, fmt.Sprintf(`notify:
  webhook_url: %s
  stale_after: 1s
`, rc.srv.URL))
	r := serve(t, cfg, nil)
	if got := r.metric(t, "hubble_backup_stale"); got != "0" {
		t.Errorf("hubble_backup_stale at start = %s, want 0", got)
	}

	// The check interval is stale_after/60, at least 1 s: the alarm comes
	// about 1-2 s after the start.
	ev := rc.next(t, 10*time.Second)
	if ev.Event != "backup.stale" || ev.Status != "Stale" || ev.ID != "" ||
		!strings.HasPrefix(ev.Message, "No backup has succeeded for 1s: nothing since the service started at ") {
		t.Errorf("stale event = %+v", ev)
	}
	if got := r.metric(t, "hubble_backup_stale"); got != "1" {
		t.Errorf("hubble_backup_stale after the alarm = %s, want 1", got)
	}
	// Raised once, not at every check: nothing more over the next checks.
	select {
	case ev := <-rc.events:
		t.Errorf("second event %+v, want the alarm only once until a backup succeeds", ev)
	case <-time.After(2500 * time.Millisecond):
	}
}
