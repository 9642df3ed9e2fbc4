// Package local is the storage target for a local (or NFS-mounted)
// directory: temp file, fsync, rename into place, fsync of the directory.
package local

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/hubble/hubble-applianceapi/internal/flock"
	"github.com/hubble/hubble-applianceapi/internal/storage"
)

// partialPrefix starts every unpublished file: hidden, and never matching
// the archive name pattern, so listings and retention ignore it.
const partialPrefix = ".partial-"

// FS is the seam for the filesystem calls whose failure a healthy machine
// cannot provoke (tests inject failures through it).
type FS interface {
	Rename(oldpath, newpath string) error
}

type osFS struct{}

func (osFS) Rename(o, n string) error { return os.Rename(o, n) }

// Target stores archives in one directory, which must already exist (it is
// usually an NFS mount and never created by us).
type Target struct {
	dir string
	fs  FS
	mu  sync.Mutex // serialises choosing a free final name within the process
}

// New returns a Target for dir.
func New(dir string) *Target { return &Target{dir: dir, fs: osFS{}} }

// NewWithFS is New with an injected filesystem seam.
func NewWithFS(dir string, fsys FS) *Target { return &Target{dir: dir, fs: fsys} }

// Dir is the target directory.
func (t *Target) Dir() string { return t.dir }

// Create opens a hidden temporary file in the directory.
func (t *Target) Create(ctx context.Context, tag string, names func(seq int) string) (storage.Object, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(t.dir, partialPrefix+sanitize(tag)+"-*")
	if err != nil {
		return nil, fmt.Errorf("create temporary archive in %s: %w", t.dir, err)
	}
	// Held until the file is closed, and released by the kernel when the
	// process dies (kill -9 included): RemoveOrphans tells live from dead
	// writers by it.
	if err := flock.Hold(f); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("lock temporary archive %s: %w", f.Name(), err)
	}
	return &object{t: t, f: f, names: names}, nil
}

func sanitize(tag string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == '*' || r == '-' {
			return '_'
		}
		return r
	}, tag)
}

// List returns the regular files of the directory that are not partial.
func (t *Target) List(ctx context.Context) ([]storage.Entry, error) {
	des, err := os.ReadDir(t.dir)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", t.dir, err)
	}
	var out []storage.Entry
	for _, de := range des {
		if !de.Type().IsRegular() || strings.HasPrefix(de.Name(), partialPrefix) {
			continue
		}
		fi, err := de.Info()
		if err != nil {
			continue // removed meanwhile
		}
		out = append(out, storage.Entry{Name: de.Name(), Size: fi.Size(), ModTime: fi.ModTime()})
	}
	return out, nil
}

func (t *Target) path(name string) (string, error) {
	if name == "" || name != filepath.Base(name) || name == "." || name == ".." {
		return "", fmt.Errorf("archive name %q: %w", name, fs.ErrInvalid)
	}
	return filepath.Join(t.dir, name), nil
}

// Open opens a published archive. Only regular files are archives: a
// symbolic link or a folder named like one is refused.
func (t *Target) Open(_ context.Context, name string) (storage.Reader, error) {
	p, err := t.path(name)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(p, os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		if errors.Is(err, unix.ELOOP) {
			return nil, fmt.Errorf("open %s: not a regular file", p)
		}
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("open %s: not a regular file", p)
	}
	return file{f, fi.Size()}, nil
}

// file is an open archive with its size.
type file struct {
	*os.File
	size int64
}

func (f file) Size() int64 { return f.size }

// Location is the archive's path.
func (t *Target) Location(name string) string { return filepath.Join(t.dir, name) }

// Remove deletes a published archive; like Open and List it touches only
// regular files (a link named like an archive is no archive).
func (t *Target) Remove(_ context.Context, name string) error {
	p, err := t.path(name)
	if err != nil {
		return err
	}
	fi, err := os.Lstat(p)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("remove %s: not a regular file", p)
	}
	return os.Remove(p)
}

// RemovePartials deletes leftovers of tag ("" = all).
func (t *Target) RemovePartials(_ context.Context, tag string) error {
	pattern := partialPrefix + "*"
	if tag != "" {
		pattern = partialPrefix + sanitize(tag) + "-*"
	}
	matches, err := filepath.Glob(filepath.Join(t.dir, pattern))
	if err != nil {
		return err
	}
	var errs []error
	for _, m := range matches {
		if err := os.Remove(m); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// RemoveOrphans deletes the partial files no live writer holds locked.
func (t *Target) RemoveOrphans(_ context.Context) ([]string, error) {
	matches, err := filepath.Glob(filepath.Join(t.dir, partialPrefix+"*"))
	if err != nil {
		return nil, err
	}
	var removed []string
	var errs []error
	for _, m := range matches {
		orphan, err := flock.Abandoned(m)
		if err != nil || !orphan {
			continue // vanished meanwhile, or still being written
		}
		if err := os.Remove(m); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, filepath.Base(m))
	}
	return removed, errors.Join(errs...)
}

type object struct {
	t     *Target
	f     *os.File
	names func(seq int) string
	done  bool
}

func (o *object) Write(p []byte) (int, error) { return o.f.Write(p) }

func (o *object) Commit(ctx context.Context) (string, error) {
	if err := ctx.Err(); err != nil {
		o.Abort()
		return "", err
	}
	// CreateTemp's 0600 would keep the archive from the group an appliance's
	// restore runbook copies it with; the data still stays off other users.
	if err := o.f.Chmod(0o640); err != nil {
		o.Abort()
		return "", fmt.Errorf("chmod %s: %w", o.f.Name(), err)
	}
	if err := o.f.Sync(); err != nil {
		o.Abort()
		return "", fmt.Errorf("sync %s: %w", o.f.Name(), err)
	}
	if err := o.f.Close(); err != nil {
		o.Abort()
		return "", fmt.Errorf("close %s: %w", o.f.Name(), err)
	}
	o.t.mu.Lock()
	defer o.t.mu.Unlock()
	for seq := 1; seq < 10000; seq++ {
		name := o.names(seq)
		final := filepath.Join(o.t.dir, name)
		if _, err := os.Lstat(final); err == nil {
			continue
		} else if !errors.Is(err, fs.ErrNotExist) {
			o.Abort()
			return "", fmt.Errorf("%w: %s: %w", storage.ErrCommit, final, err)
		}
		if err := o.t.fs.Rename(o.f.Name(), final); err != nil {
			o.Abort()
			return "", fmt.Errorf("%w: %w", storage.ErrCommit, err)
		}
		o.done = true
		// The rename is only durable once the directory entry is; an archive
		// that might vanish on a crash must not be reported as published.
		if err := syncDir(o.t.dir); err != nil {
			os.Remove(final)
			return "", fmt.Errorf("%w: sync directory %s: %w", storage.ErrCommit, o.t.dir, err)
		}
		return name, nil
	}
	o.Abort()
	return "", fmt.Errorf("%w: no free archive name in %s", storage.ErrCommit, o.t.dir)
}

func (o *object) Abort() error {
	if o.done {
		return nil
	}
	o.done = true
	o.f.Close()
	if err := os.Remove(o.f.Name()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
