package jobs

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// entryState is where an active job is in the Manager; guarded by Manager.mu.
type entryState int

const (
	stateQueued  entryState = iota // in Manager.queue
	stateRunning                   // a worker goroutine owns it
	stateDone                      // being finalized or final; waiters wait on done
)

// entry is a job the Manager holds in memory while it is queued or executing.
// Readers take the published snapshot without locks; writers serialize on wmu
// and persist before they publish, so nothing unpersisted is ever visible
// (except throttled progress counters).
type entry struct {
	id     string
	ctx    context.Context
	cancel context.CancelCauseFunc
	done   chan struct{} // closed once the final record is published

	// Guarded by Manager.mu.
	state entryState
	cause error // why the Manager canceled the job: ErrCanceled or ErrStopped
	// canceledBy is who canceled it, set with cause: the work may return
	// and the job end before Cancel has recorded it.
	canceledBy string

	wmu             sync.Mutex
	rec             Job // latest record, guarded by wmu
	final           bool
	cancelRequested bool // keeps MsgCancelRequested visible until the job ends
	lastSave        time.Time

	snap atomic.Pointer[Job]
}

func newEntry(job Job) *entry {
	ctx, cancel := context.WithCancelCause(context.Background())
	e := &entry{id: job.ID, ctx: ctx, cancel: cancel, done: make(chan struct{}), rec: job, lastSave: time.Now()}
	e.snap.Store(&job)
	return e
}

// snapshot returns what callers may see of the job.
func (e *entry) snapshot() Job { return *e.snap.Load() }

// change applies fn to the record, persists it when fn says the change is
// significant or the last write is older than interval, and publishes it. It
// does nothing once the job is final.
func (e *entry) change(ctx context.Context, store Store, interval time.Duration, fn func(*Job) (persist bool)) (Job, error) {
	e.wmu.Lock()
	defer e.wmu.Unlock()
	if e.final {
		return e.rec, nil
	}
	next := e.rec
	if fn(&next) || time.Since(e.lastSave) >= interval {
		if err := store.Put(ctx, next); err != nil {
			return e.rec, err
		}
		e.lastSave = time.Now()
	}
	e.rec = next
	e.snap.Store(&next)
	return next, nil
}

// finalize applies fn, persists and publishes the final record. When the store
// fails, the record is still published (this process answers the truth) and the
// error returned, so the caller keeps the entry in memory.
func (e *entry) finalize(ctx context.Context, store Store, fn func(*Job)) (Job, error) {
	e.wmu.Lock()
	defer e.wmu.Unlock()
	if e.final {
		return e.rec, nil
	}
	next := e.rec
	fn(&next)
	err := store.Put(ctx, next)
	e.rec, e.final = next, true
	e.snap.Store(&next)
	return next, err
}
