package jobs

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestManager_SubmitLimit(t *testing.T) {
	tests := []struct {
		name                     string
		maxConcurrent, maxQueued int
		want                     []Status
	}{
		{"one and one", 1, 1, []Status{StatusQueued, StatusQueued, StatusLimitReached}},
		{"no queue", 1, 0, []Status{StatusQueued, StatusLimitReached}},
		{"two workers no queue", 2, 0, []Status{StatusQueued, StatusQueued, StatusLimitReached}},
		{"two and two", 2, 2, []Status{StatusQueued, StatusQueued, StatusQueued, StatusQueued, StatusLimitReached, StatusLimitReached}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store, _ := openTestStore(t)
			w := newFakeWork()
			var fin recorder
			m := startManager(t, store, w.Work, Options{MaxConcurrent: tt.maxConcurrent, MaxQueued: tt.maxQueued, OnFinished: fin.add})

			var got []Status
			var jobs []Job
			for range tt.want {
				j := mustSubmit(t, m)
				got, jobs = append(got, j.Status), append(jobs, j)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Fatalf("statuses (-want +got):\n%s", diff)
			}
			for i, j := range jobs {
				if !ValidID(j.ID) {
					t.Errorf("job %d id %q not 32 lower-case hex", i, j.ID)
				}
				if j.Status == StatusLimitReached && (j.Message != MsgLimitReached || j.FinishedAt.IsZero()) {
					t.Errorf("refused job = %+v, want message %q and a finish time", j, MsgLimitReached)
				}
			}
			// Let every accepted job finish; refused ones keep answering LimitReached.
			for _, j := range jobs {
				if j.Status == StatusQueued {
					w.release(t, outcome{})
				}
			}
			for i, j := range jobs {
				want := StatusSuccess
				if tt.want[i] == StatusLimitReached {
					want = StatusLimitReached
				}
				waitStatus(t, m, j.ID, want)
			}
			if err := m.Stop(context.Background()); err != nil { // waits for the hooks
				t.Fatal(err)
			}
			if n := len(fin.list()); n != len(jobs) {
				t.Errorf("OnFinished called %d times, want %d", n, len(jobs))
			}
		})
	}
}

func TestManager_SubmitSkipMessage(t *testing.T) {
	store, _ := openTestStore(t)
	w := newFakeWork()
	m := startManager(t, store, w.Work, Options{MaxConcurrent: 1, MaxQueued: 0})
	running := mustSubmit(t, m)
	ctx := context.Background()
	j, err := m.SubmitWithSkipMessage(ctx, "schedule", MsgSkipped)
	if err != nil {
		t.Fatal(err)
	}
	if j.Status != StatusLimitReached || j.Message != MsgSkipped || j.Trigger != "schedule" {
		t.Errorf("skipped job = %+v", j)
	}
	stored, err := store.Get(ctx, j.ID)
	if err != nil || stored.Message != MsgSkipped {
		t.Errorf("stored skipped job = %+v, %v", stored, err)
	}
	w.release(t, outcome{})
	waitStatus(t, m, running.ID, StatusSuccess)
}

func TestManager_SubmitBeforeStartAndAfterStop(t *testing.T) {
	store, _ := openTestStore(t)
	m := NewManager(store, newFakeWork().Work, Options{})
	ctx := context.Background()
	if _, err := m.Submit(ctx, "api"); !errors.Is(err, ErrNotStarted) {
		t.Errorf("Submit before Start: err = %v, want ErrNotStarted", err)
	}
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := m.Start(ctx); err == nil {
		t.Error("second Start succeeded")
	}
	if err := m.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Submit(ctx, "api"); !errors.Is(err, ErrStopped) {
		t.Errorf("Submit after Stop: err = %v, want ErrStopped", err)
	}
	if err := m.Start(ctx); !errors.Is(err, ErrStopped) {
		t.Errorf("Start after Stop: err = %v, want ErrStopped", err)
	}
}

func TestManager_FIFO(t *testing.T) {
	store, _ := openTestStore(t)
	w := newFakeWork()
	m := startManager(t, store, w.Work, Options{MaxConcurrent: 1, MaxQueued: 10})
	var want []string
	for range 6 {
		want = append(want, mustSubmit(t, m).ID)
	}
	var got []string
	for range want {
		got = append(got, w.nextStarted(t))
		w.release(t, outcome{})
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("start order (-submitted +started):\n%s", diff)
	}
	for _, id := range want {
		waitStatus(t, m, id, StatusSuccess)
	}
}

func TestManager_Outcome(t *testing.T) {
	tests := []struct {
		name        string
		work        Work
		wantStatus  Status
		wantMessage string
		wantResult  Result
	}{
		{
			name: "success with message",
			work: func(ctx context.Context, j Job, report func(Update)) (Result, error) {
				return Result{Artifact: "/b/x.tar.gz", Bytes: 42, SHA256: "ab", Message: "Backup written to /b/x.tar.gz."}, nil
			},
			wantStatus: StatusSuccess, wantMessage: "Backup written to /b/x.tar.gz.",
			wantResult: Result{Artifact: "/b/x.tar.gz", Bytes: 42, SHA256: "ab"},
		},
		{
			name:       "success default message",
			work:       func(context.Context, Job, func(Update)) (Result, error) { return Result{}, nil },
			wantStatus: StatusSuccess, wantMessage: MsgSuccess,
		},
		{
			name: "error",
			work: func(context.Context, Job, func(Update)) (Result, error) {
				return Result{}, fmt.Errorf("Directory '/import/dbbackup' does not exist.")
			},
			wantStatus: StatusError, wantMessage: "Directory '/import/dbbackup' does not exist.",
		},
		{
			name:       "panic",
			work:       func(context.Context, Job, func(Update)) (Result, error) { panic("kaputt") },
			wantStatus: StatusError, wantMessage: "internal error: job work panicked: kaputt",
		},
		{
			name: "context canceled by the work itself is an error",
			work: func(context.Context, Job, func(Update)) (Result, error) {
				return Result{}, context.Canceled
			},
			wantStatus: StatusError, wantMessage: context.Canceled.Error(),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store, _ := openTestStore(t)
			var fin recorder
			m := startManager(t, store, tt.work, Options{OnFinished: fin.add})
			j := mustSubmit(t, m)
			got := waitFor(t, m, j.ID, "final", func(j Job) bool { return j.Status.Terminal() })
			if got.Status != tt.wantStatus || got.Message != tt.wantMessage {
				t.Errorf("final = %s %q, want %s %q", got.Status, got.Message, tt.wantStatus, tt.wantMessage)
			}
			if diff := cmp.Diff(tt.wantResult, got.Result); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
			if got.StartedAt.IsZero() || got.FinishedAt.Before(got.StartedAt) {
				t.Errorf("times: started %v finished %v", got.StartedAt, got.FinishedAt)
			}
			stored, err := store.Get(context.Background(), j.ID)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(got, stored); diff != "" {
				t.Errorf("stored differs from reported (-reported +stored):\n%s", diff)
			}
			// Get shows the final record before the hook has run; Stop waits for hooks.
			if err := m.Stop(context.Background()); err != nil {
				t.Fatal(err)
			}
			if f := fin.list(); len(f) != 1 || f[0].Status != tt.wantStatus {
				t.Errorf("OnFinished calls = %+v", f)
			}
		})
	}
}

func TestManager_PersistedBeforeReported(t *testing.T) {
	ctx := context.Background()
	store, _ := openTestStore(t)
	w := newFakeWork()
	phaseSet := make(chan struct{})
	var runs atomic.Int32
	w.before = func(report func(Update)) {
		if runs.Add(1) == 1 {
			return // the blocker
		}
		report(PhaseUpdate("dump"))
		report(Update{Progress: &Progress{Done: 1, Total: 3, Bytes: 10}})
		close(phaseSet)
	}
	m := startManager(t, store, w.Work, Options{MaxQueued: 1})

	// A job holding the only slot keeps j queued while its record is read:
	// otherwise it may already be executing.
	mustSubmit(t, m)
	w.nextStarted(t)
	j := mustSubmit(t, m)
	stored, err := store.Get(ctx, j.ID)
	if err != nil {
		t.Fatalf("store.Get right after Submit: %v", err)
	}
	if diff := cmp.Diff(j, stored); diff != "" {
		t.Errorf("after Submit (-returned +stored):\n%s", diff)
	}

	w.release(t, outcome{res: Result{Artifact: "blocker", Bytes: 1}})
	w.nextStarted(t)
	<-phaseSet
	got, err := m.Get(j.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != StatusExecuting || got.Phase != "dump" {
		t.Errorf("Get during work = %+v", got)
	}
	stored, err = store.Get(ctx, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.Status != StatusExecuting || stored.Phase != "dump" || stored.StartedAt.IsZero() {
		t.Errorf("stored during work = %+v, want Executing in phase dump", stored)
	}

	w.release(t, outcome{res: Result{Artifact: "a", Bytes: 1}})
	final := waitStatus(t, m, j.ID, StatusSuccess)
	stored, err = store.Get(ctx, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(final, stored); diff != "" {
		t.Errorf("final (-reported +stored):\n%s", diff)
	}
	if final.Progress != (Progress{Done: 1, Total: 3, Bytes: 10}) {
		t.Errorf("final progress = %+v", final.Progress)
	}
}

func TestManager_ConcurrentReads(t *testing.T) {
	store, _ := openTestStore(t)
	w := newFakeWork()
	stopReporting := make(chan struct{})
	reporting := make(chan struct{})
	w.before = func(report func(Update)) {
		// Report from several goroutines, as parallel table workers do.
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Go(func() {
				for i := 0; ; i++ {
					select {
					case <-stopReporting:
						return
					default:
					}
					report(Update{Progress: &Progress{Done: i, Total: 1000, Bytes: int64(g)}})
					if i == 10 && g == 0 {
						close(reporting)
					}
				}
			})
		}
		wg.Wait()
	}
	m := startManager(t, store, w.Work, Options{MaxQueued: 5})
	j := mustSubmit(t, m)
	queued := mustSubmit(t, m)
	<-reporting

	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for range 32 {
		wg.Go(func() {
			for range 200 {
				got, err := m.Get(j.ID)
				if err != nil || got.Status != StatusExecuting {
					errs <- fmt.Errorf("Get = %+v, %v", got, err)
					return
				}
				if _, err := m.Get(queued.ID); err != nil {
					errs <- err
					return
				}
				if q, e := m.Counts(); q != 1 || e != 1 {
					errs <- fmt.Errorf("Counts = %d, %d", q, e)
					return
				}
			}
			if _, err := m.List(Query{Limit: 10}); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(stopReporting)
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	w.release(t, outcome{})
	w.release(t, outcome{})
	waitStatus(t, m, j.ID, StatusSuccess)
	waitStatus(t, m, queued.ID, StatusSuccess)
}

func TestManager_List(t *testing.T) {
	store, _ := openTestStore(t)
	w := newFakeWork()
	m := startManager(t, store, w.Work, Options{MaxQueued: 5})
	a, b := mustSubmit(t, m), mustSubmit(t, m)
	w.nextStarted(t)
	waitStatus(t, m, a.ID, StatusExecuting)
	got, err := m.List(Query{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != b.ID || got[1].ID != a.ID || got[1].Status != StatusExecuting {
		t.Errorf("List = %+v, want b (queued) then a (executing)", got)
	}
	w.release(t, outcome{})
	w.release(t, outcome{})
	waitStatus(t, m, b.ID, StatusSuccess)
}
