package retention

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"
)

// Apply lists dir, plans with Plan and removes the archives that go, unless
// dryRun, in which case it only logs them. It returns the names removed (or,
// under dryRun, the names that would be removed), newest first.
//
// Only regular files are considered: symbolic links are neither followed nor
// removed, so a link named like an archive cannot make retention delete
// something outside dir. Every deletion is logged. A file that cannot be
// removed does not stop the others; the errors are returned joined.
func Apply(ctx context.Context, dir string, rules Rules, now time.Time, parse ParseFunc, dryRun bool, log *slog.Logger) ([]string, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	entries, err := list(dir)
	if err != nil {
		return nil, err
	}
	var removed []string
	var errs []error
	for _, c := range plan(entries, rules, now, parse) {
		if c.reason == "" {
			continue
		}
		if err := ctx.Err(); err != nil {
			errs = append(errs, fmt.Errorf("apply retention %s: %w", dir, err))
			break
		}
		path := filepath.Join(dir, c.Name)
		attrs := []any{
			slog.String("file", path),
			slog.Int64("bytes", c.Size),
			slog.Time("archive_time", c.t),
			slog.String("rule", c.reason),
		}
		if dryRun {
			log.Info("retention: would remove archive (dry run)", attrs...)
			removed = append(removed, c.Name)
			continue
		}
		if err := os.Remove(path); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue // gone already (another prune); nothing to do
			}
			log.Error("retention: cannot remove archive", append(attrs, slog.Any("error", err))...)
			errs = append(errs, fmt.Errorf("remove archive %s: %w", path, err))
			continue
		}
		log.Info("retention: removed archive", attrs...)
		removed = append(removed, c.Name)
	}
	return removed, errors.Join(errs...)
}

// list returns the regular files of dir.
func list(dir string) ([]Entry, error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list backup directory %s: %w", dir, err)
	}
	var entries []Entry
	for _, de := range des {
		if !de.Type().IsRegular() {
			continue
		}
		info, err := de.Info() // lstat: still no link following
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue // removed while we were listing
			}
			return nil, fmt.Errorf("stat %s: %w", filepath.Join(dir, de.Name()), err)
		}
		if !info.Mode().IsRegular() {
			continue
		}
		entries = append(entries, Entry{Name: de.Name(), ModTime: info.ModTime(), Size: info.Size()})
	}
	return entries, nil
}
