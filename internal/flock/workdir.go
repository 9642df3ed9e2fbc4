package flock

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/hubble/hubble-applianceapi/internal/procgroup"
)

const (
	// markSuffix names a work folder's liveness mark, a sibling file, so the
	// folder itself holds only the work.
	markSuffix = ".owner"
	// initSuffix names a mark while it is being made. Sweepers look for
	// markSuffix only, so they never see a mark before it is locked; an
	// initSuffix file is a leftover only once it is older than InitGrace.
	initSuffix = ".owner-new"
)

// InitGrace is how old an unlocked half-made mark (a process killed in the
// microseconds between creating and locking it) must be before a sweeper
// removes it: far longer than making a mark takes, so a live writer's
// half-made mark is never taken for a leftover.
const InitGrace = time.Minute

// Work is a work folder marked live for as long as it exists: its mark is
// created under a name sweepers ignore, locked, and only then renamed beside
// the folder, so no sweeper ever sees the folder's mark unlocked while its
// writer lives. The mark also records the process groups the work starts
// (it is an engine.ProcessRecorder), which a sweeper kills before removing
// the folder of a dead process.
type Work struct {
	Path string // the folder

	mu   sync.Mutex
	mark *os.File
}

// MkdirTemp creates a work folder in dir, named prefix followed by random
// characters (mode 0700), marks it live and returns it. Release removes it;
// a process that dies before (kill -9) leaves it for RemoveAbandoned.
func MkdirTemp(dir, prefix string) (*Work, error) {
	for range 100 {
		path := filepath.Join(dir, prefix+random())
		mark, err := os.OpenFile(path+initSuffix, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		fail := func(err error) (*Work, error) {
			mark.Close()
			os.Remove(path + initSuffix)
			return nil, err
		}
		if err := Hold(mark); err != nil {
			return fail(fmt.Errorf("lock %s: %w", mark.Name(), err))
		}
		if err := os.Mkdir(path, 0o700); err != nil {
			if errors.Is(err, fs.ErrExist) {
				mark.Close()
				os.Remove(path + initSuffix)
				continue
			}
			return fail(err)
		}
		if err := os.Rename(path+initSuffix, path+markSuffix); err != nil {
			os.Remove(path)
			return fail(err)
		}
		return &Work{Path: path, mark: mark}, nil
	}
	return nil, fmt.Errorf("create work folder in %s: no free name", dir)
}

func random() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Release removes the folder and its mark, once.
func (w *Work) Release() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.mark == nil {
		return
	}
	os.RemoveAll(w.Path)
	os.Remove(w.Path + markSuffix)
	w.mark.Close()
	w.mark = nil
}

// Started records the process group pgid in the mark (engine.ProcessRecorder).
func (w *Work) Started(pgid int) {
	if r, err := procgroup.Describe(pgid); err == nil {
		w.note(r.String())
	}
}

// Ended records that the group pgid is gone.
func (w *Work) Ended(pgid int) { w.note(fmt.Sprintf("end %d", pgid)) }

func (w *Work) note(line string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.mark != nil {
		// Best effort: a full disk loses the record, not the work.
		w.mark.WriteString(line + "\n")
	}
}

// RemoveAbandoned removes the work folders MkdirTemp made in dir with
// prefix whose process is gone, after killing the process groups their
// work recorded, and returns them. Folders still in use, by this process or
// another, are never touched.
func RemoveAbandoned(dir, prefix string) ([]string, error) {
	marks, err := filepath.Glob(filepath.Join(dir, prefix+"*"+markSuffix))
	if err != nil {
		return nil, err
	}
	inits, err := filepath.Glob(filepath.Join(dir, prefix+"*"+initSuffix))
	if err != nil {
		return nil, err
	}
	for _, m := range inits {
		// Only an old half-made mark can be a leftover: taking the lock of
		// a young one could take it from its writer.
		if fi, err := os.Lstat(m); err == nil && time.Since(fi.ModTime()) > InitGrace {
			marks = append(marks, m)
		}
	}
	var removed []string
	var errs []error
	for _, mark := range marks {
		held, ok := Claim(mark)
		if !ok {
			continue // still in use, or finished meanwhile
		}
		folder := strings.TrimSuffix(strings.TrimSuffix(mark, initSuffix), markSuffix)
		err := remove(folder, mark)
		held.Close()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, folder)
	}
	return removed, errors.Join(errs...)
}

// RemoveDead removes every work folder of dir matching pattern (a glob of
// folder names) with its mark, after killing the process groups it
// recorded. For the work of a process known to be dead (a job interrupted by
// a restart); unmarked folders included.
func RemoveDead(dir, pattern string) error {
	matches, err := filepath.Glob(filepath.Join(dir, pattern))
	if err != nil {
		return err
	}
	var errs []error
	for _, m := range matches {
		if strings.HasSuffix(m, markSuffix) || strings.HasSuffix(m, initSuffix) {
			continue
		}
		mark := m + markSuffix
		if _, err := os.Lstat(mark); err != nil {
			mark = m + initSuffix
		}
		errs = append(errs, remove(m, mark))
	}
	// Marks whose folder is gone already.
	for _, suffix := range []string{markSuffix, initSuffix} {
		marks, _ := filepath.Glob(filepath.Join(dir, pattern+suffix))
		for _, m := range marks {
			errs = append(errs, remove(strings.TrimSuffix(m, suffix), m))
		}
	}
	return errors.Join(errs...)
}

// remove kills the groups recorded in mark, then removes folder and mark.
func remove(folder, mark string) error {
	killRecorded(mark)
	if err := os.RemoveAll(folder); err != nil {
		return err
	}
	if err := os.Remove(mark); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// killRecorded kills the process groups a mark records as started and not
// ended.
func killRecorded(mark string) {
	f, err := os.Open(mark)
	if err != nil {
		return
	}
	defer f.Close()
	live := map[int]procgroup.Record{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "end "); ok {
			var pgid int
			if _, err := fmt.Sscanf(rest, "%d", &pgid); err == nil {
				delete(live, pgid)
			}
			continue
		}
		if r, err := procgroup.Parse(line); err == nil {
			live[r.PGID] = r
		}
	}
	for _, r := range live {
		procgroup.Kill(r)
	}
}
