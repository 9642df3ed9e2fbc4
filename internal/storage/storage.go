// Package storage declares where finished archives go: a Target (the local
// or NFS backup directory, an S3-compatible bucket). Every target publishes
// an archive atomically and never replaces one: nothing is visible under its
// final name until it is complete. Everything that reaches archives (the
// backup's publish, the copies to off-site targets, list, retention, prune,
// downloads, the restore's and verify's archive open) goes through it.
//
// storagetest holds the conformance suite every target passes.
package storage

import (
	"context"
	"errors"
	"io"
	"time"
)

// ErrCommit marks a failure to publish a complete object under its final
// name (the rename or completion step); the pipeline reports it as "Unable to
// move file".
var ErrCommit = errors.New("publish archive")

// Entry is one published object of a target.
type Entry struct {
	Name    string
	Size    int64
	ModTime time.Time
}

// Target stores archives.
type Target interface {
	// Create starts a new object. tag (a job id) marks its unpublished form
	// so that leftovers can be found by RemovePartials; names(seq), seq = 1,
	// 2, ..., are the names it may be published under (see Object.Commit).
	Create(ctx context.Context, tag string, names func(seq int) string) (Object, error)
	// List returns every published object, in no particular order.
	List(ctx context.Context) ([]Entry, error)
	// Open reads a published object. Missing objects give an error wrapping
	// os.ErrNotExist.
	Open(ctx context.Context, name string) (Reader, error)
	// Remove deletes a published object. Missing objects give an error
	// wrapping os.ErrNotExist.
	Remove(ctx context.Context, name string) error
	// RemovePartials deletes unpublished objects of tag ("" = every tag).
	RemovePartials(ctx context.Context, tag string) error
	// RemoveOrphans deletes unpublished objects whose writer is gone (a
	// process killed mid-write, which no job store remembers), never one
	// still being written, by this process or another, and returns what it
	// removed.
	RemoveOrphans(ctx context.Context) ([]string, error)
	// Location is how users see name in this target: a path for a
	// directory, s3://bucket/key for a bucket.
	Location(name string) string
}

// Object is an archive being written.
type Object interface {
	io.Writer
	// Commit makes the object durable and visible under the first name of
	// names(seq) that is not taken, never replacing an object, and returns
	// it. A directory picks the name when it commits; an object store picks
	// it when it creates (its upload needs the key) and fails with ErrCommit
	// if another writer took that name meanwhile.
	Commit(ctx context.Context) (string, error)
	// Abort discards the object; safe after Commit (then a no-op).
	Abort() error
}

// Reader reads one published object, from start to end (Read) or at any
// offset (ReadAt, safe for concurrent use), its Size known up front: a local
// file and an S3 object alike, so a restore can take whichever path suits it.
type Reader interface {
	io.ReadCloser
	io.ReaderAt
	Size() int64
}
