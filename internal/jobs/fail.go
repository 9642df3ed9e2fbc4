package jobs

import (
	"context"
	"fmt"
	"time"
)

// Fail records a job that failed before it could be queued (a synchronous
// pre-flight check of the caller) as Error with message, persisted before it
// is returned, so its id answers like any other job's.
func (m *Manager) Fail(ctx context.Context, trigger, message string) (Job, error) {
	now := time.Now().UTC()
	job := Job{ID: NewID(), Trigger: trigger, CreatedAt: now, FinishedAt: now, Status: StatusError, Message: message, Phase: PhaseDone,
		StartedBy: Actor(ctx)}
	if err := m.putRefused(ctx, job); err != nil {
		return Job{}, fmt.Errorf("record failed job: %w", err)
	}
	m.finished(job)
	return job, nil
}
