package notify

import (
	"context"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable clock for the watchdog.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// lastSuccess is the store's view of the newest success, settable by the test.
type lastSuccess struct {
	mu sync.Mutex
	t  time.Time
}

func (l *lastSuccess) Get() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.t
}

func (l *lastSuccess) Set(t time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.t = t
}

// waitFor polls cond with a deadline (the watchdog's state has no signal of
// its own besides the event it sends).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond) // poll interval, not a wait for a state
	}
}

func TestNotifier_Watch(t *testing.T) {
	rc := newReceiver(t, ok)
	t0 := time.Date(2024, 6, 15, 2, 0, 0, 0, time.UTC)
	clock := &fakeClock{t: t0}
	last := &lastSuccess{t: t0}
	n, _ := newNotifier(t, Config{URL: rc.srv.URL, StaleAfter: 36 * time.Hour},
		WithClock(clock.Now), WithCheckInterval(time.Millisecond))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		n.Watch(ctx, last.Get)
	}()

	// Stale: exactly one event, however many checks follow.
	clock.Set(t0.Add(37 * time.Hour))
	ev := rc.wait(t).event
	if ev.Event != EventBackupStale || ev.Message == "" || ev.Host == "" {
		t.Errorf("stale event = %+v", ev)
	}
	if !n.Stale() {
		t.Error("Stale() = false after the alarm")
	}
	// A success re-arms the switch.
	last.Set(t0.Add(37 * time.Hour))
	waitFor(t, "re-arm after a success", func() bool { return !n.Stale() })
	// And a second silence raises a second event.
	clock.Set(t0.Add(80 * time.Hour))
	if ev := rc.wait(t).event; ev.Event != EventBackupStale {
		t.Errorf("second event = %+v", ev)
	}

	cancel()
	<-done
	closeNotifier(t, n)
	if got := rc.hits.Load(); got != 2 {
		t.Errorf("receiver got %d stale events, want 2", got)
	}
}

func TestNotifier_check(t *testing.T) {
	started := time.Date(2024, 6, 15, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		last      time.Time
		now       time.Time
		wantStale bool
	}{
		{name: "recent success", last: started, now: started.Add(time.Hour)},
		{name: "old success", last: started, now: started.Add(36 * time.Hour), wantStale: true},
		{name: "success before start counts", last: started.Add(-30 * time.Hour), now: started.Add(7 * time.Hour), wantStale: true},
		{name: "no success, fresh start", now: started.Add(35 * time.Hour)},
		{name: "no success for too long", now: started.Add(36 * time.Hour), wantStale: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := &fakeClock{t: tt.now}
			// No URL: the state and the metric work without a webhook.
			n, logs := newNotifier(t, Config{StaleAfter: 36 * time.Hour}, WithClock(clock.Now))
			n.check(context.Background(), started, tt.last)
			if got := n.Stale(); got != tt.wantStale {
				t.Errorf("Stale() = %v, want %v", got, tt.wantStale)
			}
			if tt.wantStale && logs.String() == "" {
				t.Error("stale state not logged")
			}
			closeNotifier(t, n)
		})
	}
}

func TestNotifier_Watch_disabled(t *testing.T) {
	n, _ := newNotifier(t, Config{})
	n.Watch(context.Background(), func() time.Time { return time.Time{} }) // returns at once
	closeNotifier(t, n)
}
