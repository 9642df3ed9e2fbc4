package flock

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// markSuffix names a work folder's liveness mark, a sibling file, so the
// folder itself holds only the work.
const markSuffix = ".owner"

// MkdirTemp creates a work folder in dir like os.MkdirTemp (prefix followed
// by random characters) and marks it live until release is called. release
// removes the folder and its mark; a process that dies before (kill -9)
// leaves them for RemoveAbandoned.
func MkdirTemp(dir, prefix string) (path string, release func(), err error) {
	path, err = os.MkdirTemp(dir, prefix)
	if err != nil {
		return "", nil, err
	}
	mark, err := os.OpenFile(path+markSuffix, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err == nil {
		if err = Hold(mark); err != nil {
			mark.Close()
			os.Remove(mark.Name())
		}
	}
	if err != nil {
		os.RemoveAll(path)
		return "", nil, err
	}
	return path, func() {
		os.RemoveAll(path)
		os.Remove(mark.Name())
		mark.Close()
	}, nil
}

// RemoveAbandoned removes the work folders MkdirTemp made in dir with
// prefix whose process is gone, and returns them. Folders still in use, by
// this process or another, are never touched.
func RemoveAbandoned(dir, prefix string) ([]string, error) {
	marks, err := filepath.Glob(filepath.Join(dir, prefix+"*"+markSuffix))
	if err != nil {
		return nil, err
	}
	var removed []string
	var errs []error
	for _, mark := range marks {
		gone, err := Abandoned(mark)
		if err != nil || !gone {
			continue // vanished meanwhile, or still in use
		}
		folder := strings.TrimSuffix(mark, markSuffix)
		if err := os.RemoveAll(folder); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := os.Remove(mark); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
		removed = append(removed, folder)
	}
	return removed, errors.Join(errs...)
}
