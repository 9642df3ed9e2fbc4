package notify

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// Watch is the dead man's switch: it runs until ctx ends, checking every
// check interval whether lastSuccess (the finish time of the newest successful
// backup, zero if none is known) is older than StaleAfter. On becoming stale
// it sends one backup.stale event and Stale reports true; the next success
// re-arms it. With no success known, the time Watch started counts as the
// last success, so a fresh installation is not reported stale at once.
// Watch returns immediately when StaleAfter is zero. Run it in its own
// goroutine.
func (n *Notifier) Watch(ctx context.Context, lastSuccess func() time.Time) {
	if n.cfg.StaleAfter <= 0 {
		return
	}
	started := n.now()
	ticker := time.NewTicker(n.checkEvery)
	defer ticker.Stop()
	for {
		n.check(ctx, started, lastSuccess())
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// Stale reports whether the watchdog currently considers the backups stale
// (for a metric).
func (n *Notifier) Stale() bool { return n.stale.Load() }

func (n *Notifier) check(ctx context.Context, started, last time.Time) {
	now := n.now()
	ref, since := last, "the last successful backup at "+last.UTC().Format(time.RFC3339)
	if last.IsZero() {
		ref, since = started, "the service started at "+started.UTC().Format(time.RFC3339)
	}
	if now.Sub(ref) < n.cfg.StaleAfter {
		if n.stale.Swap(false) {
			n.log.Info("notify: backups no longer stale", slog.Time("last_success", last))
		}
		return
	}
	if n.stale.Swap(true) {
		return // already reported; wait for the next success
	}
	msg := fmt.Sprintf("No backup has succeeded for %s: nothing since %s.", n.cfg.StaleAfter, since)
	n.log.Warn("notify: backups stale", slog.String("message", msg))
	n.Notify(ctx, Event{Event: EventBackupStale, Status: "Stale", Message: msg})
}
