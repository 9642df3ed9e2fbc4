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
// closed.
func Hold(f *os.File) error {
	return unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
}

// Abandoned reports whether nobody holds path's lock, i.e. its writer is
// gone. Symlinks are not followed; a missing file is an error.
func Abandoned(path string) (bool, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return false, err
	}
	defer f.Close()
	switch err := Hold(f); {
	case err == nil:
		return true, nil
	case errors.Is(err, unix.EWOULDBLOCK):
		return false, nil
	default:
		return false, err
	}
}
