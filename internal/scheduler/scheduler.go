package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // appliance images may lack /usr/share/zoneinfo; time zones must still load

	"github.com/robfig/cron/v3"
)

// Config is one entry of the `schedule:` list.
type Config struct {
	Cron     string // 5 fields (minute first) or 6 fields (seconds first); descriptors such as @daily too
	Timezone string // IANA name, e.g. "Europe/Berlin"; "" means UTC
}

// parser accepts the standard 5 fields and, with a leading seconds field, 6.
var parser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// parse checks one entry and returns its schedule. The error names the entry
// by its position in the list (schedule[i]), like the configuration key.
func parse(i int, c Config) (cron.Schedule, error) {
	expr := strings.TrimSpace(c.Cron)
	if strings.HasPrefix(expr, "TZ=") || strings.HasPrefix(expr, "CRON_TZ=") {
		return nil, fmt.Errorf("parse schedule[%d].cron %q: set the time zone with schedule[%d].timezone", i, c.Cron, i)
	}
	if expr == "" {
		return nil, fmt.Errorf("parse schedule[%d].cron: empty expression", i)
	}
	loc := time.UTC
	if c.Timezone != "" {
		l, err := time.LoadLocation(c.Timezone)
		if err != nil {
			return nil, fmt.Errorf("load schedule[%d].timezone %q: %w", i, c.Timezone, err)
		}
		loc = l
	}
	s, err := parser.Parse(expr)
	if err != nil {
		return nil, fmt.Errorf("parse schedule[%d].cron %q: %w", i, c.Cron, err)
	}
	if spec, ok := s.(*cron.SpecSchedule); ok {
		spec.Location = loc // @every (a constant delay) has no time zone
	}
	return s, nil
}

// Scheduler calls enqueue at the times of its entries.
type Scheduler struct {
	cron      *cron.Cron
	schedules []cron.Schedule
	enqueue   func(ctx context.Context) error
	log       *slog.Logger
	now       func() time.Time

	ctx    context.Context // passed to enqueue; canceled by Stop
	cancel context.CancelFunc

	mu      sync.Mutex
	started bool
}

// New checks every entry and returns a Scheduler that is not yet running.
// All invalid entries are reported, joined. No entries is valid: such a
// Scheduler never calls enqueue.
func New(entries []Config, enqueue func(ctx context.Context) error, log *slog.Logger) (*Scheduler, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Scheduler{enqueue: enqueue, log: log, now: time.Now}
	// The cron runner's own location only matters for schedules without one.
	s.cron = cron.New(cron.WithParser(parser), cron.WithLocation(time.UTC))
	var errs []error
	for i, c := range entries {
		sched, err := parse(i, c)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		s.schedules = append(s.schedules, sched)
		s.cron.Schedule(sched, cron.FuncJob(func() { s.run(i, c) }))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// run is one scheduled run: it hands over to enqueue, which submits the job.
func (s *Scheduler) run(i int, c Config) {
	attrs := []any{slog.Int("entry", i), slog.String("cron", c.Cron), slog.String("timezone", c.Timezone)}
	s.log.Info("scheduler: scheduled run", attrs...)
	if err := s.enqueue(s.ctx); err != nil {
		s.log.Error("scheduler: scheduled run not submitted", append(attrs, slog.Any("error", err))...)
	}
}

// Start begins calling enqueue at the scheduled times. It returns at once;
// calling it again, or after Stop, does nothing.
func (s *Scheduler) Start() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started || s.ctx.Err() != nil {
		return
	}
	s.started = true
	s.cron.Start()
	if next := s.Next(); !next.IsZero() {
		s.log.Info("scheduler: started", slog.Int("entries", len(s.schedules)), slog.Time("next_run", next))
	}
}

// Stop ends scheduling and waits, until ctx ends, for enqueue calls in
// progress; then it cancels their context and returns ctx.Err().
func (s *Scheduler) Stop(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	running := s.cron.Stop()
	defer s.cancel()
	select {
	case <-running.Done():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Next returns the soonest next run across all entries, or the zero time when
// there are no entries.
func (s *Scheduler) Next() time.Time {
	now := s.now()
	var next time.Time
	for _, sched := range s.schedules {
		if t := sched.Next(now); !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	return next
}
