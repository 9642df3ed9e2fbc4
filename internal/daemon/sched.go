package daemon

import (
	"context"
	"log/slog"

	"github.com/hubble/hubble-applianceapi/internal/config"
	"github.com/hubble/hubble-applianceapi/internal/scheduler"
)

func newScheduler(cfg *config.Config, enqueue func(context.Context) error, log *slog.Logger) (*scheduler.Scheduler, error) {
	entries := make([]scheduler.Config, len(cfg.Schedule))
	for i, s := range cfg.Schedule {
		entries[i] = scheduler.Config{Cron: s.Cron, Timezone: s.Timezone}
	}
	return scheduler.New(entries, enqueue, log)
}
