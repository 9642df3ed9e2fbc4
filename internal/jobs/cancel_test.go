package jobs

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestManager_Cancel(t *testing.T) {
	tests := []struct {
		name string
		// setup submits jobs and returns the id to cancel; w runs one job at a time.
		setup       func(t *testing.T, m *Manager, w *fakeWork) string
		wantStatus  Status
		wantMessage string
		wantErr     error
	}{
		{
			name: "queued",
			setup: func(t *testing.T, m *Manager, w *fakeWork) string {
				mustSubmit(t, m)
				w.nextStarted(t)
				return mustSubmit(t, m).ID
			},
			wantStatus: StatusCanceled, wantMessage: MsgCanceled,
		},
		{
			name: "executing",
			setup: func(t *testing.T, m *Manager, w *fakeWork) string {
				id := mustSubmit(t, m).ID
				w.nextStarted(t)
				return id
			},
			wantStatus: StatusCanceled, wantMessage: MsgCanceled,
		},
		{
			name: "finished",
			setup: func(t *testing.T, m *Manager, w *fakeWork) string {
				id := mustSubmit(t, m).ID
				w.release(t, outcome{})
				waitStatus(t, m, id, StatusSuccess)
				return id
			},
			wantStatus: StatusSuccess, wantMessage: MsgSuccess,
		},
		{
			name: "limit reached",
			setup: func(t *testing.T, m *Manager, w *fakeWork) string {
				mustSubmit(t, m)
				mustSubmit(t, m)
				return mustSubmit(t, m).ID
			},
			wantStatus: StatusLimitReached, wantMessage: MsgLimitReached,
		},
		{
			name:    "unknown",
			setup:   func(*testing.T, *Manager, *fakeWork) string { return NewID() },
			wantErr: ErrNotFound,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			store, _ := openTestStore(t)
			w := newFakeWork()
			var fin recorder
			m := startManager(t, store, w.Work, Options{MaxConcurrent: 1, MaxQueued: 1, OnFinished: fin.add})
			id := tt.setup(t, m, w)
			before := len(fin.list())

			got, err := m.Cancel(ctx, id)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Cancel err = %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr != nil {
				return
			}
			if got.Status != tt.wantStatus || got.Message != tt.wantMessage {
				t.Errorf("Cancel = %s %q, want %s %q", got.Status, got.Message, tt.wantStatus, tt.wantMessage)
			}
			stored, err := store.Get(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(got, stored); diff != "" {
				t.Errorf("Cancel answer differs from store (-answer +stored):\n%s", diff)
			}
			again, err := m.Cancel(ctx, id)
			if err != nil || again.Status != tt.wantStatus {
				t.Errorf("second Cancel = %+v, %v", again, err)
			}
			if tt.wantStatus == StatusCanceled {
				if n := len(fin.waitN(t, before+1)) - before; n != 1 {
					t.Errorf("OnFinished called %d times by Cancel, want 1", n)
				}
			}
			// Free whatever still runs so cleanup's Stop has nothing to cancel.
			if q, e := m.Counts(); q+e > 0 {
				for range q + e {
					w.release(t, outcome{})
				}
			}
		})
	}
}

func TestManager_CancelQueuedKeepsOrder(t *testing.T) {
	store, _ := openTestStore(t)
	w := newFakeWork()
	m := startManager(t, store, w.Work, Options{MaxConcurrent: 1, MaxQueued: 5})
	first := mustSubmit(t, m).ID
	w.nextStarted(t)
	a, b, c := mustSubmit(t, m).ID, mustSubmit(t, m).ID, mustSubmit(t, m).ID
	if _, err := m.Cancel(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	if q, _ := m.Counts(); q != 2 {
		t.Errorf("queued after cancel = %d, want 2", q)
	}
	w.release(t, outcome{})
	var started []string
	for range 2 {
		started = append(started, w.nextStarted(t))
		w.release(t, outcome{})
	}
	if diff := cmp.Diff([]string{a, c}, started); diff != "" {
		t.Errorf("started after cancel (-want +got):\n%s", diff)
	}
	for _, id := range []string{first, a, c} {
		waitStatus(t, m, id, StatusSuccess)
	}
	waitStatus(t, m, b, StatusCanceled)
}

func TestManager_CancelSeesCause(t *testing.T) {
	store, _ := openTestStore(t)
	causes := make(chan error, 1)
	started := make(chan struct{})
	work := func(ctx context.Context, _ Job, _ func(Update)) (Result, error) {
		close(started)
		<-ctx.Done()
		causes <- context.Cause(ctx)
		return Result{}, errors.New("signal: killed") // not a context error: still Canceled
	}
	m := startManager(t, store, work, Options{})
	j := mustSubmit(t, m)
	<-started
	got, err := m.Cancel(context.Background(), j.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != StatusCanceled || got.Message != MsgCanceled {
		t.Errorf("Cancel = %s %q", got.Status, got.Message)
	}
	if c := <-causes; !errors.Is(c, ErrCanceled) {
		t.Errorf("work saw cause %v, want ErrCanceled", c)
	}
}

func TestManager_CancelWaitTimeout(t *testing.T) {
	ctx := context.Background()
	store, _ := openTestStore(t)
	w := newFakeWork()
	w.ignoreCancel = true
	w.before = func(report func(Update)) { report(PhaseUpdate("dump")) }
	m := startManager(t, store, w.Work, Options{CancelWait: 20 * time.Millisecond})
	j := mustSubmit(t, m)
	w.nextStarted(t)

	got, err := m.Cancel(ctx, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != StatusExecuting || got.Message != MsgCancelRequested {
		t.Errorf("Cancel = %s %q, want Executing %q", got.Status, got.Message, MsgCancelRequested)
	}
	stored, err := store.Get(ctx, j.ID)
	if err != nil || stored.Message != MsgCancelRequested {
		t.Errorf("stored = %+v, %v; want the cancellation request persisted", stored, err)
	}
	// The work keeps reporting; the message stays until the job ends.
	if g, _ := m.Get(j.ID); g.Message != MsgCancelRequested {
		t.Errorf("Get = %q", g.Message)
	}

	w.release(t, outcome{err: context.Canceled})
	final := waitFor(t, m, j.ID, "final", func(j Job) bool { return j.Status.Terminal() })
	if final.Status != StatusCanceled || final.Message != MsgCanceled {
		t.Errorf("final = %s %q, want Canceled", final.Status, final.Message)
	}
}

func TestManager_CancelLateSuccess(t *testing.T) {
	// A work that completes despite the cancel keeps its Success: the archive exists.
	store, _ := openTestStore(t)
	w := newFakeWork()
	w.ignoreCancel = true
	m := startManager(t, store, w.Work, Options{CancelWait: time.Millisecond})
	j := mustSubmit(t, m)
	w.nextStarted(t)
	if _, err := m.Cancel(context.Background(), j.ID); err != nil {
		t.Fatal(err)
	}
	w.release(t, outcome{res: Result{Artifact: "x"}})
	final := waitFor(t, m, j.ID, "final", func(j Job) bool { return j.Status.Terminal() })
	if final.Status != StatusSuccess || final.Result.Artifact != "x" {
		t.Errorf("final = %+v, want Success", final)
	}
}

func TestManager_CancelContextEnds(t *testing.T) {
	store, _ := openTestStore(t)
	w := newFakeWork()
	w.ignoreCancel = true
	m := startManager(t, store, w.Work, Options{CancelWait: time.Hour})
	j := mustSubmit(t, m)
	w.nextStarted(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	got, err := m.Cancel(ctx, j.ID)
	if !errors.Is(err, context.Canceled) || got.Status != StatusExecuting {
		t.Errorf("Cancel with dead ctx = %s, %v", got.Status, err)
	}
	w.release(t, outcome{err: context.Canceled})
	waitStatus(t, m, j.ID, StatusCanceled)
}

func TestManager_Stop(t *testing.T) {
	ctx := context.Background()
	store, _ := openTestStore(t)
	w := newFakeWork()
	var fin recorder
	m := NewManager(store, w.Work, Options{MaxConcurrent: 1, MaxQueued: 2, OnFinished: fin.add})
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	executing := mustSubmit(t, m).ID
	w.nextStarted(t)
	queued := mustSubmit(t, m).ID

	if err := m.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	for _, id := range []string{executing, queued} {
		got, err := m.Get(id)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != StatusCanceled || got.Message != MsgStopped {
			t.Errorf("job %s after Stop = %s %q, want Canceled %q", id, got.Status, got.Message, MsgStopped)
		}
		stored, err := store.Get(ctx, id)
		if err != nil || stored.Status != StatusCanceled {
			t.Errorf("stored %s = %+v, %v", id, stored, err)
		}
	}
	if q, e := m.Counts(); q != 0 || e != 0 {
		t.Errorf("Counts after Stop = %d, %d", q, e)
	}
	ids := func() []string {
		var out []string
		for _, j := range fin.list() {
			out = append(out, j.ID)
		}
		slices.Sort(out)
		return out
	}
	want := []string{executing, queued}
	slices.Sort(want)
	if diff := cmp.Diff(want, ids()); diff != "" {
		t.Errorf("OnFinished (-want +got):\n%s", diff)
	}
	if _, err := m.Submit(ctx, "api"); !errors.Is(err, ErrStopped) {
		t.Errorf("Submit after Stop: %v", err)
	}
	if err := m.Stop(ctx); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

func TestManager_StopWaitsForWork(t *testing.T) {
	store, _ := openTestStore(t)
	w := newFakeWork()
	w.ignoreCancel = true
	m := NewManager(store, w.Work, Options{})
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	j := mustSubmit(t, m)
	w.nextStarted(t)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := m.Stop(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Stop with dead ctx while work runs: %v", err)
	}
	if got, _ := m.Get(j.ID); got.Status != StatusExecuting {
		t.Errorf("job during stop = %s", got.Status)
	}
	w.release(t, outcome{err: context.Canceled})
	if err := m.Stop(context.Background()); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if got, _ := m.Get(j.ID); got.Status != StatusCanceled || got.Message != MsgStopped {
		t.Errorf("after Stop = %s %q", got.Status, got.Message)
	}
}
