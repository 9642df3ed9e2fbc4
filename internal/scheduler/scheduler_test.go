package scheduler

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/hubble/hubble-applianceapi/internal/testlog"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func stop(t *testing.T, s *Scheduler) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
}

// TestScheduler_Start runs on the real clock: every run must start within 1 s
// of its scheduled second, and no scheduled second may be skipped.
func TestScheduler_Start(t *testing.T) {
	tests := []struct {
		name  string
		cfg   Config
		fires int
	}{
		{name: "every second", cfg: Config{Cron: "* * * * * *"}, fires: 3},
		{name: "every second, time zone", cfg: Config{Cron: "* * * * * *", Timezone: "Asia/Kolkata"}, fires: 2},
		{name: "every other second", cfg: Config{Cron: "*/2 * * * * *", Timezone: "UTC"}, fires: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fired := make(chan time.Time, 100)
			s, err := New([]Config{tt.cfg}, func(ctx context.Context) error {
				if err := ctx.Err(); err != nil {
					t.Errorf("enqueue called with an ended context: %v", err)
				}
				fired <- time.Now()
				return nil
			}, nil)
			if err != nil {
				t.Fatal(err)
			}
			sched, err := parse(0, tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			s.Start()
			defer stop(t, s)

			var prev time.Time
			for k := range tt.fires {
				var f time.Time
				select {
				case f = <-fired:
				case <-time.After(10 * time.Second):
					t.Fatalf("run %d did not start within 10s", k+1)
				}
				// The scheduled time of this run: the latest one not after f.
				due := sched.Next(f.Add(-5 * time.Second))
				for n := sched.Next(due); !n.After(f); n = sched.Next(n) {
					due = n
				}
				if late := f.Sub(due); late < 0 || late >= time.Second {
					t.Errorf("run %d started at %s, %v after its scheduled %s", k+1, f.Format(time.StampMicro), late, due.Format(time.StampMicro))
				}
				if k == 0 && due.After(sched.Next(start).Add(time.Second)) {
					t.Errorf("first run due %s, but the first scheduled time after Start was %s", due, sched.Next(start))
				}
				if k > 0 && !due.Equal(sched.Next(prev)) {
					t.Errorf("run %d due %s, want %s (a scheduled time was skipped)", k+1, due, sched.Next(prev))
				}
				prev = due
			}
		})
	}
}

func TestNew_errors(t *testing.T) {
	tests := []struct {
		name    string
		entries []Config
		want    []string // substrings of the error
	}{
		{name: "4 fields", entries: []Config{{Cron: "* * * *"}}, want: []string{"schedule[0].cron", `"* * * *"`}},
		{name: "7 fields", entries: []Config{{Cron: "0 0 0 * * * *"}}, want: []string{"schedule[0].cron"}},
		{name: "minute out of range", entries: []Config{{Cron: "61 * * * *"}}, want: []string{"schedule[0].cron"}},
		{name: "words", entries: []Config{{Cron: "at two every night"}}, want: []string{"schedule[0].cron"}},
		{name: "empty", entries: []Config{{Cron: "  "}}, want: []string{"schedule[0].cron", "empty"}},
		{name: "time zone inside the expression", entries: []Config{{Cron: "CRON_TZ=UTC 0 2 * * *"}}, want: []string{"schedule[0].timezone"}},
		{name: "unknown time zone", entries: []Config{{Cron: "0 2 * * *", Timezone: "Mars/Olympus_Mons"}}, want: []string{"schedule[0].timezone", "Mars/Olympus_Mons"}},
		{
			name:    "every bad entry named",
			entries: []Config{{Cron: "0 2 * * *"}, {Cron: "0 25 * * *"}, {Cron: "0 3 * * *", Timezone: "Nowhere/City"}},
			want:    []string{"schedule[1].cron", "schedule[2].timezone"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(tt.entries, func(context.Context) error { return nil }, nil)
			if err == nil {
				stop(t, s)
				t.Fatal("New accepted the entries")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestScheduler_Next(t *testing.T) {
	now := time.Date(2024, 6, 15, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		entries []Config
		want    time.Time
	}{
		{name: "no entries"},
		{name: "daily UTC", entries: []Config{{Cron: "0 2 * * *", Timezone: "UTC"}}, want: time.Date(2024, 6, 16, 2, 0, 0, 0, time.UTC)},
		{name: "empty time zone is UTC", entries: []Config{{Cron: "0 2 * * *"}}, want: time.Date(2024, 6, 16, 2, 0, 0, 0, time.UTC)},
		{name: "daily Berlin summer time", entries: []Config{{Cron: "0 2 * * *", Timezone: "Europe/Berlin"}}, want: time.Date(2024, 6, 16, 0, 0, 0, 0, time.UTC)},
		{name: "daily New York", entries: []Config{{Cron: "0 2 * * *", Timezone: "America/New_York"}}, want: time.Date(2024, 6, 16, 6, 0, 0, 0, time.UTC)},
		{name: "6 fields with seconds", entries: []Config{{Cron: "30 0 2 * * *"}}, want: time.Date(2024, 6, 16, 2, 0, 30, 0, time.UTC)},
		{name: "descriptor", entries: []Config{{Cron: "@hourly"}}, want: time.Date(2024, 6, 15, 13, 0, 0, 0, time.UTC)},
		{name: "weekdays only", entries: []Config{{Cron: "0 2 * * 1-5"}}, want: time.Date(2024, 6, 17, 2, 0, 0, 0, time.UTC)}, // the 15th is a Saturday
		{
			name:    "soonest of several",
			entries: []Config{{Cron: "0 2 * * *"}, {Cron: "0 14 * * *"}, {Cron: "30 13 * * *", Timezone: "Europe/London"}, {Cron: "0 13 * * *", Timezone: "Europe/London"}},
			want:    time.Date(2024, 6, 15, 12, 30, 0, 0, time.UTC), // 13:30 BST; 13:00 BST is now, not after it
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(tt.entries, func(context.Context) error { return nil }, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer stop(t, s)
			s.now = func() time.Time { return now }
			got := s.Next()
			if !got.Equal(tt.want) {
				t.Errorf("Next() = %s, want %s", got.UTC(), tt.want)
			}
		})
	}
}

func TestScheduler_lifecycle(t *testing.T) {
	var logs testlog.Buffer
	calls := make(chan context.Context, 100)
	s, err := New([]Config{{Cron: "* * * * * *"}}, func(ctx context.Context) error {
		calls <- ctx
		return errors.New("queue closed")
	}, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	s.Start() // idempotent
	var ctx context.Context
	select {
	case ctx = <-calls:
	case <-time.After(10 * time.Second):
		t.Fatal("no run within 10s")
	}
	stop(t, s)
	if ctx.Err() == nil {
		t.Error("enqueue context not canceled by Stop")
	}
	if !strings.Contains(logs.String(), "queue closed") {
		t.Errorf("enqueue error not logged:\n%s", logs.String())
	}
	s.Start() // after Stop: does not restart
	stop(t, s)
}

func TestScheduler_Stop_withoutStart(t *testing.T) {
	s, err := New(nil, func(context.Context) error { return nil }, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !s.Next().IsZero() {
		t.Error("Next() without entries is not zero")
	}
	stop(t, s)
}
