package jobs

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Start recovers jobs a dead process left Queued or Executing (they become
// Error with MsgInterrupted, or Success when Options.Resolve finds their
// result, persisted, then OnInterrupted is called), prunes
// finished jobs older than HistoryDays (again once a day), and starts running
// queued jobs. ctx bounds only the recovery.
func (m *Manager) Start(ctx context.Context) error {
	m.mu.Lock()
	switch {
	case m.stopped:
		m.mu.Unlock()
		return ErrStopped
	case m.starting:
		m.mu.Unlock()
		return errors.New("job manager already started")
	}
	m.starting = true
	m.mu.Unlock()

	if err := m.recover(ctx); err != nil {
		m.mu.Lock()
		m.starting = false
		m.mu.Unlock()
		return err
	}
	if err := m.prune(ctx); err != nil {
		m.log.Warn("prune job history", "error", err)
	}

	m.mu.Lock()
	defer m.mu.Unlock()
	if m.stopped {
		return ErrStopped
	}
	m.started = true
	m.bg.Add(1)
	go m.pruneLoop()
	m.dispatchLocked()
	return nil
}

// recover records the truth about the unfinished jobs of a previous
// process: Success when Resolve finds that the work had completed, else
// Error with MsgInterrupted.
func (m *Manager) recover(ctx context.Context) error {
	all, err := m.store.List(ctx, Query{Match: func(j Job) bool { return !j.Status.Terminal() }})
	if err != nil {
		return fmt.Errorf("recover jobs: %w", err)
	}
	for _, j := range all {
		phase := j.Phase
		j.Status, j.Message, j.FinishedAt, j.Phase = StatusError, MsgInterrupted, time.Now().UTC(), PhaseDone
		if m.opts.Resolve != nil && !j.StartedAt.IsZero() {
			res, done, err := m.opts.Resolve(ctx, j)
			switch {
			case err != nil:
				m.log.Warn("look for the result of an interrupted job", "job", j.ID, "error", err)
			case done:
				j.Status, j.Message, j.Result = StatusSuccess, res.Message, res
				if j.Message == "" {
					j.Message = MsgSuccess
				}
				j.Result.Message = ""
			}
		}
		if err := m.store.Put(ctx, j); err != nil {
			return fmt.Errorf("recover jobs: %w", err)
		}
		if j.Status == StatusSuccess {
			m.log.Info("job found complete after restart", "job", j.ID, "trigger", j.Trigger, "artifact", j.Result.Artifact)
		} else {
			m.log.Warn("job interrupted by restart", "job", j.ID, "trigger", j.Trigger, "phase", phase)
		}
		if m.opts.OnInterrupted != nil {
			m.opts.OnInterrupted(j)
		}
	}
	return nil
}

// prune deletes finished jobs older than HistoryDays.
func (m *Manager) prune(ctx context.Context) error {
	cutoff := time.Now().Add(-time.Duration(m.opts.HistoryDays) * 24 * time.Hour)
	n, err := m.store.DeleteFinishedBefore(ctx, cutoff)
	if err != nil {
		return err
	}
	if n > 0 {
		m.log.Info("pruned job history", "jobs", n, "older_than_days", m.opts.HistoryDays)
	}
	return nil
}

func (m *Manager) pruneLoop() {
	defer m.bg.Done()
	t := time.NewTicker(pruneInterval)
	defer t.Stop()
	for {
		select {
		case <-m.quit:
			return
		case <-t.C:
			m.persistPending(context.Background())
			if err := m.prune(context.Background()); err != nil {
				m.log.Warn("prune job history", "error", err)
			}
		}
	}
}
