// Package flock owns the liveness marks of unfinished work: a writer holds
// an exclusive flock on its file for as long as it works, the kernel drops
// it when the process dies (kill -9 included), so a sweeper can tell a
// dead writer's leftovers from work in progress, in this process or another.
package flock

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// Hold takes the exclusive lock on f without waiting; it lasts until f is
// closed. A filesystem without lock support (an NFS mount with nolock on
// some kernels) is no error: the work goes on unmarked, and Abandoned then
// fails on it, so a sweeper keeps it rather than removing live work.
func Hold(f *os.File) error {
	err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	if errors.Is(err, unix.ENOLCK) || errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.EINVAL) {
		return nil
	}
	return err
}

// Claim takes the lock of path if nobody holds it, i.e. its writer is gone,
// and the file is still linked at path (a writer that just finished removes
// it before letting go of the lock). The caller removes the leftovers while
// holding the returned file, then closes it. ok is false when path is in
// use, gone, or cannot be locked (then it is kept).
func Claim(path string) (f *os.File, ok bool) {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return nil, false
	}
	if unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) != nil {
		f.Close()
		return nil, false
	}
	held, err1 := f.Stat()
	now, err2 := os.Lstat(path)
	if err1 != nil || err2 != nil || !os.SameFile(held, now) {
		f.Close()
		return nil, false
	}
	return f, true
}

// Abandoned reports whether nobody holds path's lock, i.e. its writer is
// gone. Symlinks are not followed; a missing file is an error.
func Abandoned(path string) (bool, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return false, err
	}
	defer f.Close()
	switch err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); {
	case err == nil:
		return true, nil
	case errors.Is(err, unix.EWOULDBLOCK):
		return false, nil
	default:
		return false, err
	}
}
