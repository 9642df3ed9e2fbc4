package jobs

import (
	"context"
	"errors"
	"testing"
	"time"
)

// slowHook is an OnFinished hook that blocks (retention on a slow share)
// until released.
type slowHook struct {
	entered chan Job
	release chan struct{}
}

func newSlowHook() *slowHook {
	return &slowHook{entered: make(chan Job, 100), release: make(chan struct{})}
}

func (h *slowHook) hook(j Job) {
	h.entered <- j
	<-h.release
}

// A slow finish hook delays neither the Cancel answer of an executing job
// (it waited for the hook before), nor the refusal of a job over the limit
// (the hook ran on the HTTP request's goroutine).
func TestManager_SlowHookDelaysNoAnswer(t *testing.T) {
	ctx := context.Background()
	store, _ := openTestStore(t)
	w := newFakeWork()
	h := newSlowHook()
	m := startManager(t, store, w.Work, Options{MaxConcurrent: 1, MaxQueued: 0, CancelWait: 5 * time.Second, OnFinished: h.hook})
	t.Cleanup(func() { close(h.release) }) // before the manager's Stop

	running := mustSubmit(t, m)
	w.nextStarted(t)
	refused, err := within(t, "a refusal", func() (Job, error) { return m.Submit(ctx, "api") })
	if err != nil || refused.Status != StatusLimitReached {
		t.Fatalf("Submit over the limit = %+v, %v", refused, err)
	}
	<-h.entered // the refusal's hook runs, and blocks

	got, err := within(t, "Cancel", func() (Job, error) { return m.Cancel(ctx, running.ID) })
	if err != nil || got.Status != StatusCanceled {
		t.Errorf("Cancel = %s %q, %v; want Canceled", got.Status, got.Message, err)
	}
	if s, err := m.Get(running.ID); err != nil || s.Status != StatusCanceled {
		t.Errorf("Status = %+v, %v", s, err)
	}
}

// within runs an answer's call and fails the test when it takes more than a
// second (the hook blocks for as long as the test runs).
func within(t *testing.T, what string, call func() (Job, error)) (Job, error) {
	t.Helper()
	type answer struct {
		j   Job
		err error
	}
	c := make(chan answer, 1)
	go func() {
		j, err := call()
		c <- answer{j, err}
	}()
	select {
	case a := <-c:
		return a.j, a.err
	case <-time.After(time.Second):
		t.Fatalf("%s waits for the finish hook", what)
		return Job{}, nil
	}
}

// Stop waits for the hooks of every job finished before it, a pre-flight
// failure's included (it was not awaited: it ran on the request's goroutine).
func TestManager_StopWaitsForHooks(t *testing.T) {
	store, _ := openTestStore(t)
	h := newSlowHook()
	m := NewManager(store, newFakeWork().Work, Options{OnFinished: h.hook})
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	failed := make(chan error, 1)
	go func() { // an Execute whose pre-flight failed
		_, err := m.Fail(context.Background(), "api", "Directory '/import/dbbackup' does not exist.")
		failed <- err
	}()
	<-h.entered
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err := m.Stop(ctx)
	close(h.release)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Stop with a hook running = %v, want it to wait (deadline exceeded)", err)
	}
	if err := <-failed; err != nil {
		t.Fatal(err)
	}
	if err := m.Stop(context.Background()); err != nil {
		t.Fatalf("Stop after the hook = %v", err)
	}
}
