package retention

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"time"

	"github.com/hubble/hubble-applianceapi/internal/storage"
)

// Store is where the archives are: a storage.Target (backup_dir or an
// off-site bucket) satisfies it.
type Store interface {
	List(ctx context.Context) ([]storage.Entry, error)
	Remove(ctx context.Context, name string) error
	Location(name string) string
}

// Apply lists st, plans with Plan and removes the archives that go, unless
// dryRun, in which case it only logs them. It returns the names removed (or,
// under dryRun, the names that would be removed), newest first.
//
// Only what the store lists as published objects is considered (for a
// directory, regular files: a symbolic link named like an archive is never
// followed nor removed). Every deletion is logged. An archive that cannot be
// removed does not stop the others; the errors are returned joined.
func Apply(ctx context.Context, st Store, rules Rules, now time.Time, parse ParseFunc, dryRun bool, log *slog.Logger) ([]string, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	listed, err := st.List(ctx)
	if err != nil {
		return nil, err
	}
	entries := make([]Entry, len(listed))
	for i, e := range listed {
		entries[i] = Entry{Name: e.Name, ModTime: e.ModTime, Size: e.Size}
	}
	var removed []string
	var errs []error
	for _, c := range plan(entries, rules, now, parse) {
		if c.reason == "" {
			continue
		}
		where := st.Location(c.Name)
		if err := ctx.Err(); err != nil {
			errs = append(errs, fmt.Errorf("apply retention %s: %w", where, err))
			break
		}
		attrs := []any{
			slog.String("file", where),
			slog.Int64("bytes", c.Size),
			slog.Time("archive_time", c.t),
			slog.String("rule", c.reason),
		}
		if dryRun {
			log.Info("retention: would remove archive (dry run)", attrs...)
			removed = append(removed, c.Name)
			continue
		}
		if err := st.Remove(ctx, c.Name); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue // gone already (another prune); nothing to do
			}
			log.Error("retention: cannot remove archive", append(attrs, slog.Any("error", err))...)
			errs = append(errs, fmt.Errorf("remove archive %s: %w", where, err))
			continue
		}
		log.Info("retention: removed archive", attrs...)
		removed = append(removed, c.Name)
	}
	return removed, errors.Join(errs...)
}
