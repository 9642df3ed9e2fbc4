package jobs

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// waitTimeout bounds every wait in these tests; nothing should take this long.
const waitTimeout = 10 * time.Second

func openTestStore(t *testing.T) (*BoltStore, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "state", "jobs.db")
	s, err := OpenStore(path)
	if err != nil {
		t.Fatalf("OpenStore: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, path
}

// outcome is what a fakeWork run returns when released.
type outcome struct {
	res Result
	err error
}

// fakeWork is a Work whose runs block until the test releases them, so the
// tests decide every interleaving.
type fakeWork struct {
	started chan string  // job id, sent when a run starts
	finish  chan outcome // one value ends the oldest waiting run
	// ignoreCancel makes a run keep going after its context is canceled
	// until a value arrives on finish.
	ignoreCancel bool
	// before, if set, runs first with the report function.
	before func(report func(Update))
}

func newFakeWork() *fakeWork {
	return &fakeWork{started: make(chan string, 100), finish: make(chan outcome)}
}

func (f *fakeWork) Work(ctx context.Context, job Job, report func(Update)) (Result, error) {
	f.started <- job.ID
	if f.before != nil {
		f.before(report)
	}
	if f.ignoreCancel {
		o := <-f.finish
		return o.res, o.err
	}
	select {
	case o := <-f.finish:
		return o.res, o.err
	case <-ctx.Done():
		return Result{}, context.Cause(ctx)
	}
}

// release ends the oldest waiting run with o.
func (f *fakeWork) release(t *testing.T, o outcome) {
	t.Helper()
	select {
	case f.finish <- o:
	case <-time.After(waitTimeout):
		t.Fatal("no run waiting to be released")
	}
}

// nextStarted returns the id of the next run to start.
func (f *fakeWork) nextStarted(t *testing.T) string {
	t.Helper()
	select {
	case id := <-f.started:
		return id
	case <-time.After(waitTimeout):
		t.Fatal("no run started")
		return ""
	}
}

// recorder collects hook calls.
type recorder struct {
	mu   sync.Mutex
	jobs []Job
}

func (r *recorder) add(j Job) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.jobs = append(r.jobs, j)
}

func (r *recorder) list() []Job {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Job(nil), r.jobs...)
}

// waitN polls (bounded) until the hook has been called n times: hooks run
// on their own goroutine, after the answers.
func (r *recorder) waitN(t *testing.T, n int) []Job {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		if l := r.list(); len(l) >= n {
			return l
		}
		if time.Now().After(deadline) {
			t.Fatalf("OnFinished called %d times, want %d", len(r.list()), n)
		}
		time.Sleep(time.Millisecond) // polling the hook's goroutine
	}
}

// startManager builds and starts a Manager on store, stopping it at cleanup.
func startManager(t *testing.T, store Store, work Work, opts Options) *Manager {
	t.Helper()
	m := NewManager(store, work, opts)
	if err := m.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		if err := m.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return m
}

// waitFor polls Get until cond holds or the deadline passes.
func waitFor(t *testing.T, m *Manager, id string, what string, cond func(Job) bool) Job {
	t.Helper()
	deadline := time.After(waitTimeout)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		j, err := m.Get(id)
		if err == nil && cond(j) {
			return j
		}
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("job %s: waiting for %s: last %+v, %v", id, what, j, err)
		}
	}
}

func waitStatus(t *testing.T, m *Manager, id string, s Status) Job {
	t.Helper()
	return waitFor(t, m, id, string(s), func(j Job) bool { return j.Status == s })
}

func mustSubmit(t *testing.T, m *Manager) Job {
	t.Helper()
	j, err := m.Submit(context.Background(), "api")
	if err != nil {
		t.Fatalf("Submit: %v", err)
	}
	return j
}
