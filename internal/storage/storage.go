// Package storage declares where finished archives go: a Target (a local
// directory first, object storage later). Every target publishes an archive
// atomically: nothing is visible under its final name until it is complete.
package storage

import (
	"context"
	"errors"
	"io"
	"time"
)

// ErrCommit marks a failure to publish a complete object under its final
// name (the rename step); the pipeline reports it as "Unable to move file".
var ErrCommit = errors.New("publish archive")

// Entry is one object of a target.
type Entry struct {
	Name    string
	Size    int64
	ModTime time.Time
}

// Target stores archives.
type Target interface {
	// Create starts a new object. tag (a job id) names its temporary form so
	// that leftovers of a dead process can be found by RemovePartials.
	Create(ctx context.Context, tag string) (Object, error)
	// List returns every object, in no particular order.
	List(ctx context.Context) ([]Entry, error)
	// Open reads a published object. Missing objects give os.ErrNotExist.
	Open(ctx context.Context, name string) (io.ReadCloser, error)
	// Remove deletes a published object.
	Remove(ctx context.Context, name string) error
	// RemovePartials deletes unpublished objects of tag ("" = every tag).
	RemovePartials(ctx context.Context, tag string) error
	// RemoveOrphans deletes unpublished objects whose writer is gone (a
	// process killed mid-write, which no job store remembers), never one
	// still being written, by this process or another.
	RemoveOrphans(ctx context.Context) ([]string, error)
}

// Object is an archive being written.
type Object interface {
	io.Writer
	// Commit makes the object durable and visible under the first name that
	// names(seq) gives which is not taken (seq = 1, 2, ...), and returns it.
	Commit(ctx context.Context, names func(seq int) string) (string, error)
	// Abort discards the object; safe after Commit (then a no-op).
	Abort() error
}
