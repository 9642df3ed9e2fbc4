package jobs

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Start recovers jobs a dead process left Queued or Executing (they become
// Error with MsgInterrupted, persisted, then OnInterrupted is called), prunes
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

// recover marks the unfinished jobs of a previous process as interrupted.
func (m *Manager) recover(ctx context.Context) error {
	all, err := m.store.List(ctx, 0)
	if err != nil {
		return fmt.Errorf("recover jobs: %w", err)
	}
	for _, j := range all {
		if j.Status.Terminal() {
			continue
		}
		j.Status, j.Message, j.FinishedAt = StatusError, MsgInterrupted, time.Now().UTC()
		if err := m.store.Put(ctx, j); err != nil {
			return fmt.Errorf("recover jobs: %w", err)
		}
		m.log.Warn("job interrupted by restart", "job", j.ID, "trigger", j.Trigger, "phase", j.Phase)
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
			if err := m.prune(context.Background()); err != nil {
				m.log.Warn("prune job history", "error", err)
			}
		}
	}
}
