// Package journal owns write-ahead records of work that changes something
// outside this process (a restore's target database): the record is written
// durably before the change can commit, and a lock held by the writer for as
// long as it lives tells the next writer whether a record it finds belongs
// to live work (keep off) or to a dead process (finish or undo its work).
// The kernel drops the lock when the process dies, kill -9 included.
package journal

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// BusyError is returned by Open when a live process holds the journal.
type BusyError struct {
	Name string
	PID  int // the holder's process id as it wrote it; 0 if unknown
}

func (e *BusyError) Error() string {
	if e.PID > 0 {
		return fmt.Sprintf("journal %s is held by process %d", e.Name, e.PID)
	}
	return "journal " + e.Name + " is held by another process"
}

// Journal is one named record in a folder, held by this process.
type Journal struct {
	dir, name string
	lock      *os.File
}

func (j *Journal) lockPath() string   { return filepath.Join(j.dir, j.name+".lock") }
func (j *Journal) recordPath() string { return filepath.Join(j.dir, j.name+".json") }

// Open takes the journal name in dir (created 0700 if missing) for this
// process. prev is the record a dead holder left, nil if none; the caller
// deals with it, then overwrites it with Write or drops it with Close. A
// journal held by a live process is a *BusyError.
func Open(dir, name string) (j *Journal, prev []byte, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("create journal folder: %w", err)
	}
	j = &Journal{dir: dir, name: name}
	for range 100 {
		f, err := os.OpenFile(j.lockPath(), os.O_RDWR|os.O_CREATE|unix.O_NOFOLLOW, 0o600)
		if errors.Is(err, fs.ErrNotExist) {
			// The last holder removed the folder meanwhile (see Close).
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return nil, nil, fmt.Errorf("create journal folder: %w", err)
			}
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("open journal lock: %w", err)
		}
		if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
			defer f.Close()
			if errors.Is(err, unix.EWOULDBLOCK) {
				return nil, nil, &BusyError{Name: j.lockPath(), PID: readPID(f)}
			}
			// Without locks a live holder cannot be told from a dead one.
			return nil, nil, fmt.Errorf("lock journal %s (the folder's file system must support flock): %w", j.lockPath(), err)
		}
		// A holder that just finished removed the file before letting go of
		// it: then the lock taken is on a file nobody else will look at.
		held, err1 := f.Stat()
		now, err2 := os.Lstat(j.lockPath())
		if err1 != nil || err2 != nil || !os.SameFile(held, now) {
			f.Close()
			continue
		}
		j.lock = f
		if err := f.Truncate(0); err == nil {
			_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
		}
		prev, err := os.ReadFile(j.recordPath())
		if errors.Is(err, fs.ErrNotExist) {
			return j, nil, nil
		}
		if err != nil {
			j.Release()
			return nil, nil, fmt.Errorf("read journal: %w", err)
		}
		return j, prev, nil
	}
	return nil, nil, fmt.Errorf("lock journal %s: its holders keep changing", j.lockPath())
}

// Peek reads the journal name in dir without taking it: the record a dead
// holder left (nil if none), or busy when a live process holds it.
func Peek(dir, name string) (prev []byte, busy *BusyError, err error) {
	j := &Journal{dir: dir, name: name}
	f, err := os.OpenFile(j.lockPath(), os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if errors.Is(err, fs.ErrNotExist) {
		f = nil
	} else if err != nil {
		return nil, nil, err
	}
	if f != nil {
		defer f.Close()
		if err := unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB); errors.Is(err, unix.EWOULDBLOCK) {
			return nil, &BusyError{Name: j.lockPath(), PID: readPID(f)}, nil
		}
	}
	prev, err = os.ReadFile(j.recordPath())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	return prev, nil, err
}

func readPID(f *os.File) int {
	b := make([]byte, 32)
	n, _ := f.ReadAt(b, 0)
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b[:n])))
	return pid
}

// Write replaces the record with b durably: once it returns, a crash or a
// power loss leaves either b or (if it failed) the previous record, never
// a mix.
func (j *Journal) Write(b []byte) error {
	tmp := j.recordPath() + ".new"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("write journal: %w", err)
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, j.recordPath())
	}
	if err == nil {
		err = syncDir(j.dir)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write journal %s: %w", j.recordPath(), err)
	}
	return nil
}

// Close ends the work: it removes the record, then the lock.
func (j *Journal) Close() error {
	if j == nil || j.lock == nil {
		return nil
	}
	err := os.Remove(j.recordPath())
	if errors.Is(err, fs.ErrNotExist) {
		err = nil
	}
	if err == nil {
		err = syncDir(j.dir)
	}
	j.Release()
	// The folder goes with its last journal (temp_dir must be left empty);
	// one that holds others stays.
	os.Remove(j.dir)
	if err != nil {
		return fmt.Errorf("remove journal: %w", err)
	}
	return nil
}

// Release lets go of the journal and keeps its record, for the next holder
// to deal with (work that could not be finished or undone).
func (j *Journal) Release() {
	if j == nil || j.lock == nil {
		return
	}
	// The lock file goes first, while it is still held (see Open).
	os.Remove(j.lockPath())
	j.lock.Close()
	j.lock = nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
