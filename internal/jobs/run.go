package jobs

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"
)

// run executes one job on its own goroutine: Executing, the work, the final record.
func (m *Manager) run(e *entry) {
	defer m.workers.Done()
	bg := context.Background()

	job, err := e.change(bg, m.store, m.opts.ProgressInterval, func(j *Job) bool {
		j.Status, j.Message, j.StartedAt = StatusExecuting, MsgExecuting, time.Now().UTC()
		if e.cancelRequested {
			j.Message = MsgCancelRequested
		}
		return true
	})
	var (
		res  Result
		werr error
	)
	switch {
	case err != nil:
		werr = fmt.Errorf("record job start: %w", err)
	case e.ctx.Err() != nil:
		// Canceled between dequeue and start: the work never runs.
		werr = context.Cause(e.ctx)
	default:
		m.log.Info("job executing", "job", job.ID)
		res, werr = m.callWork(e, job)
	}
	m.mu.RLock()
	cause, canceledBy := e.cause, e.canceledBy
	m.mu.RUnlock()

	final, perr := e.finalize(bg, m.store, func(j *Job) {
		j.FinishedAt, j.Phase = time.Now().UTC(), PhaseDone
		switch {
		case werr == nil:
			// The work completed even if a cancel arrived late: its result exists.
			j.Status, j.Message = StatusSuccess, res.Message
			if j.Message == "" {
				j.Message = MsgSuccess
			}
			j.Result = res
			j.Result.Message = ""
		case cause != nil:
			// Whatever error the work returned after we canceled it (a killed
			// child, a canceled query) is a consequence of the cancel.
			j.Status, j.Message = StatusCanceled, cancelMessage(cause)
			if canceledBy != "" {
				j.CanceledBy = canceledBy
			}
		default:
			j.Status, j.Message = StatusError, werr.Error()
		}
	})
	if werr != nil && cause != nil {
		m.log.Debug("job work ended after cancel", "job", e.id, "error", werr)
	}
	if perr != nil {
		m.log.Error("record final job state", "job", e.id, "status", string(final.Status), "error", perr)
	}

	m.mu.Lock()
	m.executing--
	e.state = stateDone
	if perr == nil {
		delete(m.active, e.id)
	}
	m.dispatchLocked()
	m.mu.Unlock()

	e.cancel(nil)
	m.finished(final) // queued before done: Stop, which waits for the worker, then waits for the hook
	close(e.done)
}

// callWork runs the work, turning a panic into an error so one bad job cannot
// take the service down.
func (m *Manager) callWork(e *entry, job Job) (res Result, err error) {
	defer func() {
		if r := recover(); r != nil {
			m.log.Error("job work panicked", "job", job.ID, "panic", r, "stack", string(debug.Stack()))
			res, err = Result{}, fmt.Errorf("internal error: job work panicked: %v", r)
		}
	}()
	return m.work(e.ctx, job, func(u Update) { m.report(e, u) })
}

// report applies an Update from the work. Phase and message changes are
// persisted at once, progress at most every ProgressInterval.
func (m *Manager) report(e *entry, u Update) {
	_, err := e.change(context.Background(), m.store, m.opts.ProgressInterval, func(j *Job) (persist bool) {
		if u.Phase != nil && *u.Phase != j.Phase {
			j.Phase, persist = *u.Phase, true
		}
		if u.Message != nil && *u.Message != j.Message && !e.cancelRequested {
			j.Message, persist = *u.Message, true
		}
		if u.Progress != nil {
			j.Progress = *u.Progress
		}
		return persist
	})
	if err != nil {
		m.log.Warn("record job progress", "job", e.id, "error", err)
	}
}

func cancelMessage(cause error) string {
	if errors.Is(cause, ErrStopped) {
		return MsgStopped
	}
	return MsgCanceled
}
