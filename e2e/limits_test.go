package e2e

import (
	"testing"
	"time"
)

// TestLimitReached: with max_concurrent_jobs 1 and max_queued_jobs 1, the
// third Execute while the first still runs is refused, and its id keeps
// answering LimitReached.
func TestLimitReached(t *testing.T) {
	e := newEnv(t, options{maxConcurrent: 1, maxQueued: 1, replEnv: map[string]string{"REPCTL_SLEEP": "30"}})
	// The stand-in replication tool sleeps, so the first job stays
	// Executing (phase replication) for as long as the test needs.
	s := e.start(t)

	first, second, third := s.execute(t), s.execute(t), s.execute(t)
	t.Cleanup(func() {
		for _, id := range []string{second.ID, first.ID} {
			s.cancel(t, id)
		}
	})
	if first.Status != "Queued" || second.Status != "Queued" {
		t.Fatalf("first two Executes answered %s, %s; want Queued, Queued", first.Status, second.Status)
	}
	want := status{ID: third.ID, Status: "LimitReached", Message: "Job was refused: the limit of active jobs was reached."}
	if third != want {
		t.Fatalf("third Execute answered %+v, want %+v", third, want)
	}
	s.waitStatus(t, first.ID, "Executing", 20*time.Second)
	for i := 0; i < 3; i++ {
		if got := s.status(t, third.ID); got != want {
			t.Fatalf("Status of the refused job: %+v, want %+v", got, want)
		}
	}
	if got := s.cancel(t, third.ID); got != want {
		t.Errorf("Cancel of the refused job: %+v, want %+v", got, want)
	}
	if got := s.status(t, second.ID); got.Status != "Queued" {
		t.Errorf("second job is %s, want still Queued", got.Status)
	}
}
