package jobs

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// Refusals cost one record each and come from an unauthenticated endpoint:
// only the newest MaxRefused are kept, the evicted ids answer ErrNotFound,
// and jobs that ran are never evicted.
func TestManager_RefusedBounded(t *testing.T) {
	store, path := openTestStore(t)
	w := newFakeWork()
	var evicted atomic.Int64
	m := startManager(t, store, w.Work, Options{MaxConcurrent: 1, MaxQueued: 0, MaxRefused: 3,
		OnEvicted: func(n int) { evicted.Add(int64(n)) }})
	ran := mustSubmit(t, m)
	w.nextStarted(t)
	var refused []Job
	for range 5 {
		j := mustSubmit(t, m)
		if j.Status != StatusLimitReached || j.Phase != PhaseDone {
			t.Fatalf("Submit beyond the limit = %s in phase %q", j.Status, j.Phase)
		}
		refused = append(refused, j)
	}
	failed, err := m.Fail(context.Background(), "api", "Directory '/x' does not exist.")
	if err != nil {
		t.Fatal(err)
	}
	refused = append(refused, failed)
	// 6 jobs that never ran, 3 kept: the newest.
	for i, j := range refused {
		_, err := m.Get(j.ID)
		if kept := i >= 3; kept != (err == nil) || (!kept && !errors.Is(err, ErrNotFound)) {
			t.Errorf("refused job %d: Get error = %v, want kept=%v", i, err, kept)
		}
	}
	if n := evicted.Load(); n != 3 {
		t.Errorf("OnEvicted counted %d, want 3", n)
	}
	w.release(t, outcome{})
	if got := waitStatus(t, m, ran.ID, StatusSuccess); got.Phase != PhaseDone {
		t.Errorf("finished job in phase %q, want %q", got.Phase, PhaseDone)
	}
	if _, err := store.Get(context.Background(), ran.ID); err != nil {
		t.Errorf("the job that ran was evicted: %v", err)
	}

	// The count survives a restart, and a store without the index (written
	// before it existed) gets one.
	if err := m.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := OpenStore(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	n, err := s2.PutRefused(context.Background(), Job{ID: NewID(), Status: StatusLimitReached, CreatedAt: time.Now().UTC()}, 3)
	if err != nil || n != 1 {
		t.Errorf("PutRefused after reopening = %d evicted, %v; want 1", n, err)
	}
}

func TestBoltStore_ListQuery(t *testing.T) {
	ctx := context.Background()
	s, _ := openTestStore(t)
	base := time.Now().UTC()
	var ids []string // oldest first
	for i := range 7 {
		j := Job{ID: NewID(), Status: StatusSuccess, Trigger: "api", CreatedAt: base.Add(time.Duration(i) * time.Second)}
		if i%2 == 1 {
			j.Status, j.Trigger = StatusError, "schedule"
		}
		if err := s.Put(ctx, j); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, j.ID)
	}
	page := func(q Query) []string {
		t.Helper()
		js, err := s.List(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		out := make([]string, len(js))
		for i, j := range js {
			out[i] = j.ID
		}
		return out
	}
	eq := func(got []string, want ...string) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("got %v, want %v", got, want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("got %v, want %v", got, want)
			}
		}
	}
	eq(page(Query{Limit: 3}), ids[6], ids[5], ids[4])
	eq(page(Query{Limit: 3, Before: ids[4]}), ids[3], ids[2], ids[1])
	eq(page(Query{Limit: 3, Before: ids[1]}), ids[0])
	eq(page(Query{Before: ids[0]}))
	errs := func(j Job) bool { return j.Status == StatusError }
	eq(page(Query{Limit: 2, Match: errs}), ids[5], ids[3])
	eq(page(Query{Limit: 2, Match: errs, Before: ids[3]}), ids[1])
	if _, err := s.List(ctx, Query{Before: NewID()}); !errors.Is(err, ErrNotFound) {
		t.Errorf("List before an unknown id = %v, want ErrNotFound", err)
	}
}

// flakyStore fails Put while failing is set: a full or failing state_dir.
type flakyStore struct {
	Store
	failing atomic.Bool
}

var errNoSpace = errors.New("write jobs.db: no space left on device")

func (f *flakyStore) Put(ctx context.Context, j Job) error {
	if f.failing.Load() {
		return errNoSpace
	}
	return f.Store.Put(ctx, j)
}

func (f *flakyStore) PutRefused(ctx context.Context, j Job, keep int) (int, error) {
	if f.failing.Load() {
		return 0, errNoSpace
	}
	return f.Store.PutRefused(ctx, j, keep)
}

// A job that finished while the store could not record it answers its true
// status from memory, and is written as soon as the store works again; a new
// job is refused meanwhile (the API answers 503).
func TestManager_FinalRecordRetried(t *testing.T) {
	store, _ := openTestStore(t)
	flaky := &flakyStore{Store: store}
	w := newFakeWork()
	m := startManager(t, flaky, w.Work, Options{})
	j := mustSubmit(t, m)
	w.nextStarted(t)
	flaky.failing.Store(true)
	w.release(t, outcome{res: Result{Artifact: "/b/a.tar.gz"}})
	waitStatus(t, m, j.ID, StatusSuccess)
	if stored, _ := store.Get(context.Background(), j.ID); stored.Status != StatusExecuting {
		t.Fatalf("stored status = %s, want Executing (the final write failed)", stored.Status)
	}
	if _, err := m.Submit(context.Background(), "api"); !errors.Is(err, errNoSpace) {
		t.Errorf("Submit with a failing store = %v, want its error", err)
	}
	flaky.failing.Store(false)
	mustSubmit(t, m)
	if stored, _ := store.Get(context.Background(), j.ID); stored.Status != StatusSuccess || stored.Result.Artifact != "/b/a.tar.gz" {
		t.Errorf("stored after the store recovered = %+v, want Success with its artifact", stored)
	}
}

// A job whose work completed but whose final record was lost is found by
// Resolve at start-up and recorded Success, never interrupted.
func TestManager_StartResolvesCompletedWork(t *testing.T) {
	ctx := context.Background()
	store, _ := openTestStore(t)
	now := time.Now().UTC()
	done := Job{ID: NewID(), Status: StatusExecuting, Trigger: "api", Phase: "publish", CreatedAt: now.Add(-time.Minute), StartedAt: now.Add(-time.Minute)}
	lost := Job{ID: NewID(), Status: StatusExecuting, Trigger: "api", Phase: "data", CreatedAt: now, StartedAt: now}
	for _, j := range []Job{done, lost} {
		if err := store.Put(ctx, j); err != nil {
			t.Fatal(err)
		}
	}
	var asked, cleaned recorder
	m := startManager(t, store, newFakeWork().Work, Options{
		Resolve: func(_ context.Context, j Job) (Result, bool, error) {
			asked.add(j)
			if j.ID == done.ID {
				return Result{Artifact: "/b/x.tar.gz", Bytes: 9, SHA256: "ab", Message: "Backup completed: /b/x.tar.gz."}, true, nil
			}
			return Result{}, false, nil
		},
		OnInterrupted: cleaned.add,
	})
	got, _ := m.Get(done.ID)
	if got.Status != StatusSuccess || got.Message != "Backup completed: /b/x.tar.gz." || got.Result.Artifact != "/b/x.tar.gz" || got.Phase != PhaseDone {
		t.Errorf("completed job after restart = %+v", got)
	}
	if got, _ := m.Get(lost.ID); got.Status != StatusError || got.Message != MsgInterrupted {
		t.Errorf("interrupted job after restart = %s %q", got.Status, got.Message)
	}
	if len(asked.list()) != 2 || len(cleaned.list()) != 2 {
		t.Errorf("Resolve asked %d, leftovers removed for %d; want 2 and 2", len(asked.list()), len(cleaned.list()))
	}
}
