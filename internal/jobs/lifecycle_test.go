package jobs

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestManager_StartRecovery(t *testing.T) {
	ctx := context.Background()
	store, path := openTestStore(t)
	now := time.Now().UTC()
	executing := Job{ID: NewID(), Status: StatusExecuting, Message: MsgExecuting, Trigger: "api", Phase: "dump",
		CreatedAt: now.Add(-2 * time.Minute), StartedAt: now.Add(-time.Minute)}
	queued := Job{ID: NewID(), Status: StatusQueued, Message: MsgQueued, Trigger: "schedule", CreatedAt: now.Add(-time.Minute)}
	success := Job{ID: NewID(), Status: StatusSuccess, Message: MsgSuccess, Trigger: "api",
		CreatedAt: now.Add(-time.Hour), StartedAt: now.Add(-time.Hour), FinishedAt: now.Add(-50 * time.Minute),
		Result: Result{Artifact: "/b/a.tar.gz", Bytes: 7, SHA256: "cd"}}
	for _, j := range []Job{executing, queued, success} {
		if err := store.Put(ctx, j); err != nil {
			t.Fatal(err)
		}
	}
	// The "dead process" goes away; a new one opens the same file.
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	store2, err := OpenStore(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store2.Close() })

	var interrupted recorder
	w := newFakeWork()
	m := startManager(t, store2, w.Work, Options{OnInterrupted: interrupted.add})

	for _, j := range []Job{executing, queued} {
		got, err := m.Get(j.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != StatusError || got.Message != MsgInterrupted || got.FinishedAt.IsZero() {
			t.Errorf("recovered %s = %s %q finished %v", j.ID, got.Status, got.Message, got.FinishedAt)
		}
		if got.Phase != PhaseDone || got.Trigger != j.Trigger || !got.CreatedAt.Equal(j.CreatedAt) || !got.StartedAt.Equal(j.StartedAt) {
			t.Errorf("recovery lost fields: %+v", got)
		}
	}
	got, err := m.Get(success.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(success, got); diff != "" {
		t.Errorf("finished job changed by recovery (-want +got):\n%s", diff)
	}

	var ids []string
	for _, j := range interrupted.list() {
		if j.Status != StatusError || j.Message != MsgInterrupted {
			t.Errorf("OnInterrupted got %s %q, want it after recording", j.Status, j.Message)
		}
		ids = append(ids, j.ID)
	}
	slices.Sort(ids)
	want := []string{executing.ID, queued.ID}
	slices.Sort(want)
	if diff := cmp.Diff(want, ids); diff != "" {
		t.Errorf("OnInterrupted ids (-want +got):\n%s", diff)
	}

	// The recovered jobs do not count against the limit.
	j := mustSubmit(t, m)
	if j.Status != StatusQueued {
		t.Errorf("Submit after recovery = %s", j.Status)
	}
	w.release(t, outcome{})
	waitStatus(t, m, j.ID, StatusSuccess)
}

// failingStore fails List, to check Start reports a recovery failure.
type failingStore struct{ Store }

func (failingStore) List(context.Context, Query) ([]Job, error) {
	return nil, errors.New("disk on fire")
}

func TestManager_StartRecoveryFailure(t *testing.T) {
	store, _ := openTestStore(t)
	m := NewManager(failingStore{store}, newFakeWork().Work, Options{})
	err := m.Start(context.Background())
	if err == nil || err.Error() != "recover jobs: disk on fire" {
		t.Errorf("Start = %v", err)
	}
	if _, err := m.Submit(context.Background(), "api"); !errors.Is(err, ErrNotStarted) {
		t.Errorf("Submit after failed Start = %v", err)
	}
	if err := m.Stop(context.Background()); err != nil {
		t.Errorf("Stop: %v", err)
	}
}

func TestManager_StartPrunes(t *testing.T) {
	ctx := context.Background()
	store, _ := openTestStore(t)
	now := time.Now().UTC()
	day := 24 * time.Hour
	tests := []struct {
		name     string
		job      Job
		wantKept bool
	}{
		{"finished 31 days ago", Job{Status: StatusSuccess, CreatedAt: now.Add(-31 * day), FinishedAt: now.Add(-31 * day)}, false},
		{"error 40 days ago", Job{Status: StatusError, CreatedAt: now.Add(-40 * day), FinishedAt: now.Add(-40 * day)}, false},
		{"finished 29 days ago", Job{Status: StatusSuccess, CreatedAt: now.Add(-29 * day), FinishedAt: now.Add(-29 * day)}, true},
		// Left executing long ago: recovery finishes it now, so it is kept.
		{"interrupted, created 60 days ago", Job{Status: StatusExecuting, CreatedAt: now.Add(-60 * day)}, true},
	}
	for i := range tests {
		tests[i].job.ID = NewID()
		if err := store.Put(ctx, tests[i].job); err != nil {
			t.Fatal(err)
		}
	}
	m := startManager(t, store, newFakeWork().Work, Options{HistoryDays: 30})
	for _, tt := range tests {
		_, err := m.Get(tt.job.ID)
		if kept := err == nil; kept != tt.wantKept {
			t.Errorf("%s: kept = %v, want %v (%v)", tt.name, kept, tt.wantKept, err)
		}
		if err != nil && !errors.Is(err, ErrNotFound) {
			t.Errorf("%s: Get error %v, want ErrNotFound", tt.name, err)
		}
	}
}

func TestManager_GetUnknown(t *testing.T) {
	store, _ := openTestStore(t)
	m := startManager(t, store, newFakeWork().Work, Options{})
	if _, err := m.Get(NewID()); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get unknown = %v, want ErrNotFound", err)
	}
}

// gatedStore holds the first Put of a Queued record until gate is closed.
type gatedStore struct {
	Store
	held chan struct{} // closed when the Put is being held
	gate chan struct{}
	once bool
}

func (s *gatedStore) Put(ctx context.Context, j Job) error {
	if j.Status == StatusQueued && !s.once {
		s.once = true // only the test's single Submit gets here
		close(s.held)
		<-s.gate
	}
	return s.Store.Put(ctx, j)
}

func TestManager_StopDuringSubmit(t *testing.T) {
	ctx := context.Background()
	inner, _ := openTestStore(t)
	store := &gatedStore{Store: inner, held: make(chan struct{}), gate: make(chan struct{})}
	m := NewManager(store, newFakeWork().Work, Options{})
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	type submitted struct {
		job Job
		err error
	}
	subDone := make(chan submitted, 1)
	go func() {
		j, err := m.Submit(ctx, "api")
		subDone <- submitted{j, err}
	}()
	<-store.held
	stopDone := make(chan error, 1)
	go func() { stopDone <- m.Stop(ctx) }()
	// Stop has begun once Start reports ErrStopped.
	deadline := time.After(waitTimeout)
	for !errors.Is(m.Start(ctx), ErrStopped) {
		select {
		case <-deadline:
			t.Fatal("Stop did not begin")
		default:
			runtime.Gosched()
		}
	}
	close(store.gate)

	s := <-subDone
	if s.err != nil || s.job.Status != StatusCanceled || s.job.Message != MsgStopped {
		t.Errorf("Submit during Stop = %+v, %v; want Canceled %q", s.job, s.err, MsgStopped)
	}
	if err := <-stopDone; err != nil {
		t.Errorf("Stop: %v", err)
	}
	stored, err := inner.Get(ctx, s.job.ID)
	if err != nil || stored.Status != StatusCanceled {
		t.Errorf("stored = %+v, %v", stored, err)
	}
}
