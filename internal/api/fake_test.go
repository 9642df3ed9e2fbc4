package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"sync"
	"time"
)

// fakeJobs is an in-memory Jobs: the HTTP layer is the unit under test.
type fakeJobs struct {
	mu        sync.Mutex
	jobs      map[string]Job
	order     []string // submission order, oldest first
	store     bool     // Submit records the job (off for fuzzing)
	submitErr error
	getErr    error
	lastLimit int
	lastQuery ListQuery
	panicGet  bool
}

func newFakeJobs() *fakeJobs {
	return &fakeJobs{jobs: make(map[string]Job), store: true}
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// add stores a job with the given id and status and returns it.
func (f *fakeJobs) add(id, status, message string) Job {
	f.mu.Lock()
	defer f.mu.Unlock()
	j := Job{ID: id, Status: status, Message: message, Trigger: TriggerAPI, CreatedAt: time.Now()}
	f.jobs[id] = j
	f.order = append(f.order, id)
	return j
}

func (f *fakeJobs) Submit(ctx context.Context, trigger string) (Job, error) {
	if f.submitErr != nil {
		return Job{}, f.submitErr
	}
	j := Job{ID: newID(), Status: "Queued", Message: "Job was queued for execution.", Trigger: trigger, CreatedAt: time.Now(),
		StartedBy: Principal(ctx)}
	if f.store {
		f.mu.Lock()
		f.jobs[j.ID] = j
		f.order = append(f.order, j.ID)
		f.mu.Unlock()
	}
	return j, nil
}

func (f *fakeJobs) Get(_ context.Context, id string) (Job, error) {
	if f.panicGet {
		panic("fake Get panics")
	}
	if f.getErr != nil {
		return Job{}, f.getErr
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	j, ok := f.jobs[id]
	if !ok {
		return Job{}, fmt.Errorf("get job %s: %w", id, ErrNotFound)
	}
	return j, nil
}

func (f *fakeJobs) Cancel(ctx context.Context, id string) (Job, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	j, ok := f.jobs[id]
	if !ok {
		return Job{}, fmt.Errorf("cancel job %s: %w", id, ErrNotFound)
	}
	if j.Status == "Queued" || j.Status == "Executing" {
		j.Status, j.Message, j.FinishedAt, j.CanceledBy = "Canceled", "Job was canceled.", time.Now(), Principal(ctx)
		f.jobs[id] = j
	}
	return j, nil
}

func (f *fakeJobs) List(_ context.Context, q ListQuery) ([]Job, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastLimit, f.lastQuery = q.Limit, q
	start := len(f.order) - 1
	if q.Before != "" {
		start = slices.Index(f.order, q.Before) - 1
		if start < -1 {
			return nil, fmt.Errorf("job %s: %w", q.Before, ErrNotFound)
		}
	}
	var out []Job
	for i := start; i >= 0 && len(out) < q.Limit; i-- {
		j := f.jobs[f.order[i]]
		if (q.Status == "" || j.Status == q.Status) && (q.Trigger == "" || j.Trigger == q.Trigger) {
			out = append(out, j)
		}
	}
	return out, nil
}

type fakeReady struct{ err error }

func (r fakeReady) Ready(context.Context) error { return r.err }
