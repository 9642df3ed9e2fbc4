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
	"time"

	"golang.org/x/sys/unix"

	"github.com/hubble/hubble-applianceapi/internal/flock"
	"github.com/hubble/hubble-applianceapi/internal/storage"
)

// partialPrefix starts every unpublished file: hidden, and never matching
// the archive name pattern, so listings and retention ignore it.
const partialPrefix = ".partial-"

// creatingPrefix names a partial file in the microseconds between its
// creation and its lock: sweepers of partials never look at it, so they
// never see a live writer's file unlocked. Such a file is a leftover only
// once it is older than flock.InitGrace.
const creatingPrefix = ".creating-"

// FS is the seam for the filesystem calls whose failure or timing a healthy
// machine cannot provoke (tests inject them through it).
type FS interface {
	// RenameNoReplace renames oldpath to newpath unless newpath exists
	// (then an error wrapping unix.EEXIST); a filesystem that cannot do it
	// atomically answers an error wrapping unix.EINVAL.
	RenameNoReplace(oldpath, newpath string) error
	// Link makes newpath a hard link to oldpath unless newpath exists.
	Link(oldpath, newpath string) error
}

type osFS struct{}

func (osFS) RenameNoReplace(o, n string) error {
	err := unix.Renameat2(unix.AT_FDCWD, o, unix.AT_FDCWD, n, unix.RENAME_NOREPLACE)
	if err != nil {
		return &os.LinkError{Op: "renameat2", Old: o, New: n, Err: err}
	}
	return nil
}

func (osFS) Link(o, n string) error { return os.Link(o, n) }

// Target stores archives in one directory, which must already exist (it is
// usually an NFS mount and never created by us).
type Target struct {
	dir string
	fs  FS
}

// New returns a Target for dir.
func New(dir string) *Target { return &Target{dir: dir, fs: osFS{}} }

// NewWithFS is New with an injected filesystem seam.
func NewWithFS(dir string, fsys FS) *Target { return &Target{dir: dir, fs: fsys} }

// Dir is the target directory.
func (t *Target) Dir() string { return t.dir }

// Create opens a hidden temporary file in the directory, already locked
// when it first appears under its partial name.
func (t *Target) Create(ctx context.Context, tag string, names func(seq int) string) (storage.Object, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(t.dir, creatingPrefix+sanitize(tag)+"-*")
	if err != nil {
		return nil, fmt.Errorf("create temporary archive in %s: %w", t.dir, err)
	}
	// Held until the object is published or aborted, and released by the
	// kernel when the process dies (kill -9 included): RemoveOrphans tells
	// live from dead writers by it.
	if err := flock.Hold(f); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("lock temporary archive %s: %w", f.Name(), err)
	}
	name := filepath.Join(t.dir, partialPrefix+strings.TrimPrefix(filepath.Base(f.Name()), creatingPrefix))
	if err := os.Rename(f.Name(), name); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("create temporary archive in %s: %w", t.dir, err)
	}
	return &object{t: t, f: f, name: name, names: names}, nil
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
	var matches []string
	for _, prefix := range []string{partialPrefix, creatingPrefix} {
		pattern := prefix + "*"
		if tag != "" {
			pattern = prefix + sanitize(tag) + "-*"
		}
		m, err := filepath.Glob(filepath.Join(t.dir, pattern))
		if err != nil {
			return err
		}
		matches = append(matches, m...)
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
	creating, err := filepath.Glob(filepath.Join(t.dir, creatingPrefix+"*"))
	if err != nil {
		return nil, err
	}
	for _, m := range creating {
		// Only an old one can be a leftover: taking the lock of a young one
		// could take it from its writer.
		if fi, err := os.Lstat(m); err == nil && time.Since(fi.ModTime()) > flock.InitGrace {
			matches = append(matches, m)
		}
	}
	var removed []string
	var errs []error
	for _, m := range matches {
		held, ok := flock.Claim(m)
		if !ok {
			continue // still being written, or published meanwhile
		}
		err := os.Remove(m)
		held.Close()
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, filepath.Base(m))
	}
	return removed, errors.Join(errs...)
}

type object struct {
	t     *Target
	f     *os.File // locked until published or aborted
	name  string   // its current (partial) path
	names func(seq int) string
	done  bool
}

func (o *object) Write(p []byte) (int, error) { return o.f.Write(p) }

// Commit publishes the object under the first free name, never replacing
// an archive: another process (the CLI beside the service) may publish in
// the same second, so the name is claimed by the filesystem, atomically
// (renameat2 RENAME_NOREPLACE, or a hard link where the filesystem cannot,
// as NFS answers EINVAL), not checked first. The lock is held throughout, so
// no sweeper takes the file for a dead writer's leftover.
func (o *object) Commit(ctx context.Context) (string, error) {
	if err := ctx.Err(); err != nil {
		o.Abort()
		return "", err
	}
	// CreateTemp's 0600 would keep the archive from the group an appliance's
	// restore runbook copies it with; the data still stays off other users.
	if err := o.f.Chmod(0o640); err != nil {
		o.Abort()
		return "", fmt.Errorf("chmod %s: %w", o.name, err)
	}
	if err := o.f.Sync(); err != nil {
		o.Abort()
		return "", fmt.Errorf("sync %s: %w", o.name, err)
	}
	for seq := 1; seq < 10000; seq++ {
		name := o.names(seq)
		final := filepath.Join(o.t.dir, name)
		taken, err := o.publish(final)
		if taken {
			continue
		}
		if err != nil {
			o.Abort()
			return "", fmt.Errorf("%w: %w", storage.ErrCommit, err)
		}
		o.done = true
		err = o.f.Close()
		// The rename is only durable once the directory entry is; an archive
		// that might vanish on a crash must not be reported as published.
		if err == nil {
			err = syncDir(o.t.dir)
		}
		if err != nil {
			os.Remove(final)
			return "", fmt.Errorf("%w: sync directory %s: %w", storage.ErrCommit, o.t.dir, err)
		}
		return name, nil
	}
	o.Abort()
	return "", fmt.Errorf("%w: no free archive name in %s", storage.ErrCommit, o.t.dir)
}

// publish gives the object the name final unless it is taken.
func (o *object) publish(final string) (taken bool, err error) {
	err = o.t.fs.RenameNoReplace(o.name, final)
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EOPNOTSUPP) {
		// No atomic no-replace rename here (NFS): a hard link fails on an
		// existing name just as atomically; the partial name goes after.
		if err = o.t.fs.Link(o.name, final); err == nil {
			if rerr := os.Remove(o.name); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
				os.Remove(final)
				return false, rerr
			}
		}
	}
	if errors.Is(err, unix.EEXIST) {
		return true, nil
	}
	return false, err
}

func (o *object) Abort() error {
	if o.done {
		return nil
	}
	o.done = true
	// Removed before the lock goes: a sweeper that opened it meanwhile then
	// finds it unlinked and leaves it.
	err := os.Remove(o.name)
	o.f.Close()
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
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
