// Package fscheck owns the filesystem checks that run on the request path
// (Execute's pre-flight, /readyz, /metrics) against folders that may be a
// hard-mounted NFS share: a share whose server is gone makes statfs, stat
// and open block forever, and they must not take the API with them. Every
// check runs with a deadline, at most one call per path is outstanding (a
// hung mount holds one goroutine, not one per request), and the last free
// space measured is remembered with its time, for metrics to serve.
package fscheck

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// ErrTimeout is wrapped by a check that got no answer within its deadline.
var ErrTimeout = errors.New("no answer from the filesystem (hung mount?)")

// DefaultTimeout bounds a check when Checker.Timeout is zero.
const DefaultTimeout = 5 * time.Second

// Free is a measured amount of free space and when it was measured.
type Free struct {
	Bytes uint64
	At    time.Time
}

// Checker runs filesystem checks with a deadline. The zero value is not
// usable: call New.
type Checker struct {
	// Timeout bounds each check; 0 means DefaultTimeout.
	Timeout time.Duration

	stat   func(path string) (fs.FileInfo, error)
	statfs func(path string) (uint64, error)
	now    func() time.Time

	mu   sync.Mutex
	busy map[string]chan struct{} // path -> closed when its outstanding call returns
	last map[string]Free
}

// New returns a Checker of the real filesystem.
func New(timeout time.Duration) *Checker {
	return NewWith(timeout, os.Stat, statfs, time.Now)
}

// NewWith is New with the filesystem calls and the clock injected (tests
// simulate a statfs that never returns).
func NewWith(timeout time.Duration, stat func(string) (fs.FileInfo, error), free func(string) (uint64, error), now func() time.Time) *Checker {
	return &Checker{Timeout: timeout, stat: stat, statfs: free, now: now,
		busy: map[string]chan struct{}{}, last: map[string]Free{}}
}

// statfs is the space available to unprivileged users on path's filesystem.
func statfs(path string) (uint64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return 0, err
	}
	return st.Bavail * uint64(st.Bsize), nil
}

func (c *Checker) timeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return DefaultTimeout
}

// Stat is os.Stat of path, within the deadline.
func (c *Checker) Stat(path string) (fs.FileInfo, error) {
	var fi fs.FileInfo
	err := c.Do(path, func() (err error) {
		fi, err = c.stat(path)
		return err
	})
	return fi, err
}

// FreeBytes is the free space of path's filesystem, within the deadline.
func (c *Checker) FreeBytes(path string) (uint64, error) {
	return c.FreeBytesWithin(path, c.timeout())
}

// FreeBytesWithin is FreeBytes with its own deadline (a metrics scrape
// waits less than a pre-flight check).
func (c *Checker) FreeBytesWithin(path string, d time.Duration) (uint64, error) {
	var n uint64
	err := c.do(path, d, func() error {
		free, err := c.statfs(path)
		if err != nil {
			return err
		}
		n = free
		c.mu.Lock()
		c.last[path] = Free{Bytes: free, At: c.now()}
		c.mu.Unlock()
		return nil
	})
	return n, err
}

// Last is the free space last measured on path (by any check, even one
// whose caller gave up waiting), if any.
func (c *Checker) Last(path string) (Free, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f, ok := c.last[path]
	return f, ok
}

// Do runs fn, a filesystem call on path, within the deadline. When path
// already has a call outstanding, Do waits for it (within the same
// deadline) rather than start another. An fn that outlives the deadline
// runs on to its end on its own goroutine; its result is then dropped.
func (c *Checker) Do(path string, fn func() error) error {
	return c.do(path, c.timeout(), fn)
}

func (c *Checker) do(path string, d time.Duration, fn func() error) error {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	timedOut := func() error { return fmt.Errorf("check %s: %w after %v", path, ErrTimeout, d) }
	var done chan struct{}
	for done == nil {
		c.mu.Lock()
		prev, busy := c.busy[path]
		if !busy {
			done = make(chan struct{})
			c.busy[path] = done
		}
		c.mu.Unlock()
		if busy {
			select {
			case <-prev:
			case <-deadline.C:
				return timedOut()
			}
		}
	}
	result := make(chan error, 1) // never blocks the call's goroutine
	go func() {
		err := fn()
		c.mu.Lock()
		delete(c.busy, path)
		close(done)
		c.mu.Unlock()
		result <- err
	}()
	select {
	case err := <-result:
		return err
	case <-deadline.C:
		return timedOut()
	}
}
