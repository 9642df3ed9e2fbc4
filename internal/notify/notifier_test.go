package notify

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hubble/hubble-applianceapi/internal/testlog"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// received is one request as the receiver saw it.
type received struct {
	header http.Header
	raw    map[string]any
	event  Event
}

// receiver is an httptest webhook that forwards every request to a channel
// and answers with status(hit) (1-based hit number).
type receiver struct {
	srv  *httptest.Server
	hits atomic.Int32
	got  chan received
}

func newReceiver(t *testing.T, status func(hit int32, r *http.Request) int) *receiver {
	t.Helper()
	rc := &receiver{got: make(chan received, 100)}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hit := rc.hits.Add(1)
		body, _ := io.ReadAll(r.Body)
		var raw map[string]any
		var ev Event
		if err := json.Unmarshal(body, &raw); err != nil {
			t.Errorf("receiver: body %q: %v", body, err)
		}
		if err := json.Unmarshal(body, &ev); err != nil {
			t.Errorf("receiver: body %q: %v", body, err)
		}
		rc.got <- received{header: r.Header.Clone(), raw: raw, event: ev}
		w.WriteHeader(status(hit, r))
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func ok(int32, *http.Request) int { return http.StatusNoContent }

// wait returns the next request or fails after a bounded wait.
func (rc *receiver) wait(t *testing.T) received {
	t.Helper()
	select {
	case r := <-rc.got:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("receiver got no request within 10s")
		return received{}
	}
}

func newNotifier(t *testing.T, cfg Config, opts ...Option) (*Notifier, *testlog.Buffer) {
	t.Helper()
	var buf testlog.Buffer
	opts = append([]Option{WithBackoff(time.Millisecond, 5*time.Millisecond)}, opts...)
	n, err := New(cfg, slog.New(slog.NewTextHandler(&buf, nil)), opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return n, &buf
}

func closeNotifier(t *testing.T, n *Notifier) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

var failed = Event{
	Event:      EventJobFailed,
	ID:         "b61a96c2134f4a59b91188c94e24aa57",
	Status:     "Error",
	Message:    "Directory '/import/dbbackup' does not exist.",
	Trigger:    "schedule",
	StartedAt:  time.Date(2024, 6, 15, 2, 0, 0, 0, time.UTC),
	FinishedAt: time.Date(2024, 6, 15, 2, 0, 1, 0, time.UTC),
	Host:       "appliance1",
}

func TestNotifier_Notify_failureEvent(t *testing.T) {
	rc := newReceiver(t, ok)
	n, _ := newNotifier(t, Config{URL: rc.srv.URL + "/hook", Headers: map[string]string{"Authorization": "Bearer s3cret"}})
	n.Notify(context.Background(), failed)
	got := rc.wait(t)
	closeNotifier(t, n)

	if diff := cmp.Diff(failed, got.event); diff != "" {
		t.Errorf("event (-want +got):\n%s", diff)
	}
	var keys []string
	for k := range got.raw {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	want := []string{"archive", "bytes", "event", "finished_at", "host", "id", "message", "started_at", "status", "trigger"}
	if diff := cmp.Diff(want, keys); diff != "" {
		t.Errorf("JSON members (-want +got):\n%s", diff)
	}
	if got.raw["started_at"] != "2024-06-15T02:00:00Z" {
		t.Errorf("started_at = %v", got.raw["started_at"])
	}
	if h := got.header.Get("Authorization"); h != "Bearer s3cret" {
		t.Errorf("Authorization header = %q", h)
	}
	if h := got.header.Get("Content-Type"); h != "application/json" {
		t.Errorf("Content-Type = %q", h)
	}
	if n := rc.hits.Load(); n != 1 {
		t.Errorf("receiver hit %d times, want 1", n)
	}
}

func TestNotifier_Notify_filter(t *testing.T) {
	succeeded := Event{Event: EventJobSucceeded, ID: "x", Status: "Success"}
	tests := []struct {
		name      string
		onSuccess bool
		events    []Event
		want      []string // event kinds received, in order
	}{
		{name: "success not sent by default", events: []Event{succeeded}},
		{name: "success sent with on_success", onSuccess: true, events: []Event{succeeded}, want: []string{EventJobSucceeded}},
		{name: "failure always sent", events: []Event{succeeded, failed}, want: []string{EventJobFailed}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := newReceiver(t, ok)
			n, _ := newNotifier(t, Config{URL: rc.srv.URL, OnSuccess: tt.onSuccess})
			for _, ev := range tt.events {
				n.Notify(context.Background(), ev)
			}
			closeNotifier(t, n) // waits for every send
			close(rc.got)
			var got []string
			for r := range rc.got {
				got = append(got, r.event.Event)
				if r.event.Host == "" {
					t.Errorf("event %s without host", r.event.Event)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("received (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNotifier_Notify_retries(t *testing.T) {
	tests := []struct {
		name     string
		retries  int
		failures int32 // the first N attempts answer 500
		wantHits int32
		gaveUp   bool
	}{
		{name: "first attempt succeeds", retries: 3, failures: 0, wantHits: 1},
		{name: "third attempt succeeds", retries: 3, failures: 2, wantHits: 3},
		{name: "all attempts fail", retries: 2, failures: 100, wantHits: 3, gaveUp: true},
		{name: "no retries", retries: 0, failures: 100, wantHits: 1, gaveUp: true},
		{name: "negative retries mean none", retries: -1, failures: 100, wantHits: 1, gaveUp: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := newReceiver(t, func(hit int32, _ *http.Request) int {
				if hit <= tt.failures {
					return http.StatusInternalServerError
				}
				return http.StatusOK
			})
			n, logs := newNotifier(t, Config{URL: rc.srv.URL, Retries: tt.retries})
			n.Notify(context.Background(), failed)
			closeNotifier(t, n)
			if got := rc.hits.Load(); got != tt.wantHits {
				t.Errorf("receiver hit %d times, want %d", got, tt.wantHits)
			}
			if gaveUp := strings.Contains(logs.String(), "webhook not notified"); gaveUp != tt.gaveUp {
				t.Errorf("gave up logged = %v, want %v; log:\n%s", gaveUp, tt.gaveUp, logs)
			}
			wantFailed := min(tt.failures, tt.wantHits)
			if got := strings.Count(logs.String(), "webhook attempt failed"); got != int(wantFailed) {
				t.Errorf("%d failed attempts logged, want %d; log:\n%s", got, wantFailed, logs)
			}
		})
	}
}

// notifyReturns calls Notify and fails unless it returns within a bound far
// below the receiver's delay.
func notifyReturns(t *testing.T, n *Notifier, ev Event) {
	t.Helper()
	done := make(chan time.Duration, 1)
	go func() {
		start := time.Now()
		n.Notify(context.Background(), ev)
		done <- time.Since(start)
	}()
	select {
	case d := <-done:
		t.Logf("Notify returned after %v", d)
	case <-time.After(2 * time.Second):
		t.Fatal("Notify blocked the caller")
	}
}

func TestNotifier_Notify_receiverDown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there any more
	n, logs := newNotifier(t, Config{
		URL:     "http://" + addr + "/hooks/T0KEN-PATH?key=T0KEN-QUERY",
		Headers: map[string]string{"Authorization": "Bearer T0KEN-HEADER"},
		Retries: 2,
	})
	notifyReturns(t, n, failed)
	closeNotifier(t, n)
	log := logs.String()
	if got := strings.Count(log, "webhook attempt failed"); got != 3 {
		t.Errorf("%d failed attempts logged, want 3; log:\n%s", got, log)
	}
	if !strings.Contains(log, "webhook not notified") {
		t.Errorf("giving up not logged; log:\n%s", log)
	}
	if strings.Contains(log, "T0KEN") {
		t.Errorf("log shows a secret of the webhook:\n%s", log)
	}
}

func TestNotifier_Notify_slowReceiver(t *testing.T) {
	entered := make(chan struct{}, 10)
	release := make(chan struct{})
	rc := newReceiver(t, func(int32, *http.Request) int {
		entered <- struct{}{}
		<-release
		return http.StatusOK
	})
	// A generous timeout: a synchronous Notify would block for a minute.
	n, _ := newNotifier(t, Config{URL: rc.srv.URL, Timeout: time.Minute})
	notifyReturns(t, n, failed)
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("receiver not reached")
	}
	close(release)
	closeNotifier(t, n)
	if got := rc.hits.Load(); got != 1 {
		t.Errorf("receiver hit %d times, want 1", got)
	}
}

func TestNotifier_Notify_timeout(t *testing.T) {
	// The receiver never answers; each attempt ends at the timeout.
	rc := newReceiver(t, func(_ int32, r *http.Request) int {
		<-r.Context().Done()
		return http.StatusOK
	})
	n, logs := newNotifier(t, Config{URL: rc.srv.URL, Timeout: 20 * time.Millisecond, Retries: 2})
	notifyReturns(t, n, failed)
	closeNotifier(t, n)
	// The attempts are counted in the log: an attempt that gives up after
	// 20 ms on a loaded machine may do so before the receiver's handler runs,
	// so the receiver can see fewer than three.
	if got := rc.hits.Load(); got < 1 || got > 3 {
		t.Errorf("receiver hit %d times, want 1 to 3", got)
	}
	if got := strings.Count(logs.String(), "deadline exceeded"); got != 3 {
		t.Errorf("%d timeouts logged, want 3; log:\n%s", got, logs)
	}
}

func TestNotifier_Close(t *testing.T) {
	entered := make(chan struct{}, 10)
	rc := newReceiver(t, func(_ int32, r *http.Request) int {
		entered <- struct{}{}
		<-r.Context().Done() // hangs until the client gives up
		return http.StatusOK
	})
	n, _ := newNotifier(t, Config{URL: rc.srv.URL, Timeout: time.Hour, Retries: 5})
	n.Notify(context.Background(), failed)
	<-entered

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := n.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close = %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Close took %v, not bounded by its context", d)
	}
	// After Close nothing more is sent.
	n.Notify(context.Background(), failed)
	if got := rc.hits.Load(); got != 1 {
		t.Errorf("receiver hit %d times, want 1 (aborted, not retried)", got)
	}
}

func TestNotifier_Notify_noURL(t *testing.T) {
	n, logs := newNotifier(t, Config{})
	n.Notify(context.Background(), failed)
	closeNotifier(t, n)
	if logs.String() != "" {
		t.Errorf("log without a webhook:\n%s", logs)
	}
}

func TestNew_badURL(t *testing.T) {
	for _, u := range []string{"ftp://host/x", "/relative", "http://", "http://host/%zz?token=S3CRET"} {
		_, err := New(Config{URL: u}, nil)
		if err == nil {
			t.Errorf("New(%q) accepted", u)
			continue
		}
		if !strings.Contains(err.Error(), "notify.webhook_url") || strings.Contains(err.Error(), "S3CRET") {
			t.Errorf("New(%q) = %v: want the key named and no secret", u, err)
		}
	}
}
