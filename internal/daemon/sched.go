package daemon

import (
	"context"
	"log/slog"
	"time"

	"github.com/hubble/hubble-applianceapi/internal/config"
)

// scheduler is what the daemon needs of the built-in schedule.
type scheduler interface {
	Start()
	Stop(ctx context.Context)
	Next() time.Time
}

type noSchedule struct{}

func (noSchedule) Start()               {}
func (noSchedule) Stop(context.Context) {}
func (noSchedule) Next() time.Time      { return time.Time{} }

func newScheduler(cfg *config.Config, enqueue func(context.Context) error, log *slog.Logger) (scheduler, error) {
	return noSchedule{}, nil
}
