package jobs

import (
	"context"
	"errors"
	"time"
)

// ErrNotFound is returned when no job has the given id.
var ErrNotFound = errors.New("job not found")

// Query selects job records for Store.List, newest first (by CreatedAt).
type Query struct {
	// Before starts the list after the job with this id (the next page);
	// "" starts at the newest. An unknown id gives an error wrapping
	// ErrNotFound.
	Before string
	// Limit is the most records returned; <= 0 means all.
	Limit int
	// Match keeps the records it accepts; nil keeps all.
	Match func(Job) bool
}

// Store persists job records. Every method commits durably before it returns
// nil: a record that Put accepted survives a crash.
type Store interface {
	// Put creates or replaces the record with job.ID.
	Put(ctx context.Context, job Job) error
	// PutRefused creates the record of a job that never ran (refused by the
	// limit of active jobs, or failing at once), keeping only the newest
	// keep such records: older ones are deleted, and their number returned.
	PutRefused(ctx context.Context, job Job, keep int) (evicted int, err error)
	// Get returns the record with id, or an error wrapping ErrNotFound.
	Get(ctx context.Context, id string) (Job, error)
	// List returns the records q selects, newest first.
	List(ctx context.Context, q Query) ([]Job, error)
	// DeleteFinishedBefore removes records in a terminal status that finished
	// (or, lacking FinishedAt, were created) before t, and returns how many.
	DeleteFinishedBefore(ctx context.Context, t time.Time) (int, error)
}
