package jobs

import (
	"context"
	"testing"
)

// TestManager_Actor: who started and who canceled a job are recorded and
// survive in the store, for a queued and an executing job, and for a job
// that failed before it was queued.
func TestManager_Actor(t *testing.T) {
	store, _ := openTestStore(t)
	w := newFakeWork()
	m := startManager(t, store, w.Work, Options{MaxConcurrent: 1, MaxQueued: 1})

	admin := WithActor(context.Background(), "admin")
	nightly := WithActor(context.Background(), "nightly")
	running, err := m.Submit(admin, "api")
	if err != nil {
		t.Fatal(err)
	}
	w.nextStarted(t)
	queued, err := m.Submit(nightly, "api")
	if err != nil {
		t.Fatal(err)
	}
	if running.StartedBy != "admin" || queued.StartedBy != "nightly" {
		t.Fatalf("StartedBy %q and %q, want admin and nightly", running.StartedBy, queued.StartedBy)
	}
	if _, err := m.Cancel(admin, queued.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Cancel(nightly, running.ID); err != nil {
		t.Fatal(err)
	}
	failed, err := m.Fail(nightly, "api", "Directory '/x' does not exist.")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][2]string{running.ID: {"admin", "nightly"}, queued.ID: {"nightly", "admin"}, failed.ID: {"nightly", ""}}
	for id, who := range want {
		j, err := store.Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if j.StartedBy != who[0] || j.CanceledBy != who[1] {
			t.Errorf("job %s (%s): started by %q, canceled by %q; want %q, %q", id, j.Status, j.StartedBy, j.CanceledBy, who[0], who[1])
		}
	}
	// A second cancel of a finished job changes nothing.
	if j, _ := m.Cancel(context.Background(), queued.ID); j.CanceledBy != "admin" {
		t.Errorf("a later anonymous cancel rewrote canceled_by to %q", j.CanceledBy)
	}
}
