package jobs

import (
	"context"
	"errors"
	"time"
)

// ErrNotFound is returned when no job has the given id.
var ErrNotFound = errors.New("job not found")

// Store persists job records. Every method commits durably before it returns
// nil: a record that Put accepted survives a crash.
type Store interface {
	// Put creates or replaces the record with job.ID.
	Put(ctx context.Context, job Job) error
	// Get returns the record with id, or an error wrapping ErrNotFound.
	Get(ctx context.Context, id string) (Job, error)
	// List returns records newest first (by CreatedAt); limit <= 0 means all.
	List(ctx context.Context, limit int) ([]Job, error)
	// DeleteFinishedBefore removes records in a terminal status that finished
	// (or, lacking FinishedAt, were created) before t, and returns how many.
	DeleteFinishedBefore(ctx context.Context, t time.Time) (int, error)
}
