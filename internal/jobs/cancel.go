package jobs

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// Cancel cancels the job with id and returns its record afterwards:
//   - queued: removed from the queue, Canceled;
//   - executing: its work's context is canceled and Cancel waits up to
//     Options.CancelWait for the work to return, answering the final record
//     (Canceled) once it has; if not, the record is still Executing with
//     MsgCancelRequested and becomes Canceled when the work returns;
//   - finished: unchanged.
//
// An unknown id gives an error wrapping ErrNotFound. If ctx ends while
// waiting, the current record is returned with ctx's error.
func (m *Manager) Cancel(ctx context.Context, id string) (Job, error) {
	m.mu.Lock()
	e := m.active[id]
	if e == nil {
		m.mu.Unlock()
		return m.store.Get(ctx, id)
	}
	switch e.state {
	case stateQueued:
		m.queue = slices.DeleteFunc(m.queue, func(q *entry) bool { return q == e })
		e.state, e.cause = stateDone, ErrCanceled
		m.mu.Unlock()
		return m.finalizeQueued(context.WithoutCancel(ctx), e, MsgCanceled, Actor(ctx))
	case stateRunning:
		first := e.cause == nil
		if first {
			e.cause, e.canceledBy = ErrCanceled, Actor(ctx)
			e.cancel(ErrCanceled)
		}
		m.mu.Unlock()
		if first {
			m.log.Info("job cancellation requested", "job", id)
			_, err := e.change(context.WithoutCancel(ctx), m.store, m.opts.ProgressInterval, func(j *Job) bool {
				e.cancelRequested = true
				j.Message, j.CanceledBy = MsgCancelRequested, Actor(ctx)
				return true
			})
			if err != nil {
				m.log.Warn("record job cancellation request", "job", id, "error", err)
			}
		}
	default:
		m.mu.Unlock()
	}

	t := time.NewTimer(m.opts.CancelWait)
	defer t.Stop()
	select {
	case <-e.done:
	case <-t.C:
	case <-ctx.Done():
		return e.snapshot(), fmt.Errorf("cancel job %s: %w", id, ctx.Err())
	}
	return e.snapshot(), nil
}

// finalizeQueued records a job taken off the queue as Canceled with msg, by
// actor ("" for the service's own stop). The caller has set e.state to
// stateDone.
func (m *Manager) finalizeQueued(ctx context.Context, e *entry, msg, actor string) (Job, error) {
	job, err := e.finalize(ctx, m.store, func(j *Job) {
		j.Status, j.Message, j.FinishedAt, j.Phase, j.CanceledBy = StatusCanceled, msg, time.Now().UTC(), PhaseDone, actor
	})
	if err != nil {
		m.log.Error("record final job state", "job", e.id, "status", string(job.Status), "error", err)
	} else {
		m.mu.Lock()
		delete(m.active, e.id)
		m.mu.Unlock()
	}
	e.cancel(ErrCanceled)
	m.finished(job)
	close(e.done)
	if err != nil {
		return job, fmt.Errorf("cancel job %s: %w", e.id, err)
	}
	return job, nil
}

// Stop stops the Manager gracefully: Submit answers ErrStopped from now on,
// queued jobs and executing jobs are canceled and end Canceled with
// MsgStopped once their work has returned. Stop returns when all work and
// hooks (those of jobs finished before it, refusals included) are done, or with ctx's error if ctx ends first (the stop goes on).
// It is idempotent; later calls wait for the same completion.
func (m *Manager) Stop(ctx context.Context) error {
	m.mu.Lock()
	if m.stopDone == nil {
		m.stopDone = make(chan struct{})
		m.stopped = true
		queued := m.queue
		m.queue = nil
		for _, e := range queued {
			e.state, e.cause = stateDone, ErrStopped
		}
		for _, e := range m.active {
			if e.state == stateRunning && e.cause == nil {
				e.cause = ErrStopped
				e.cancel(ErrStopped)
			}
		}
		m.mu.Unlock()
		close(m.quit)
		m.log.Info("job manager stopping", "queued", len(queued))
		go func() {
			m.inflight.Wait() // Submits in flight see stopped and cancel themselves
			for _, e := range queued {
				_, _ = m.finalizeQueued(context.Background(), e, MsgStopped, "")
			}
			m.workers.Wait()
			m.bg.Wait()
			m.persistPending(context.Background())
			m.waitHooks()
			close(m.stopDone)
		}()
	} else {
		m.mu.Unlock()
	}
	select {
	case <-m.stopDone:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stop job manager: %w", ctx.Err())
	}
}
