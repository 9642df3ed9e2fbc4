package postgres

import (
	"context"
	"log/slog"
	"time"
)

// logKey carries the restore's logger in its context: the engine's API
// (engine.RestoreRequest) has no logger, and the phase timings belong in
// the job's log.
type logKey struct{}

// WithLogger returns ctx carrying l, which Restore uses to log the
// duration of each phase at INFO.
func WithLogger(ctx context.Context, l *slog.Logger) context.Context {
	return context.WithValue(ctx, logKey{}, l)
}

func loggerFrom(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(logKey{}).(*slog.Logger); ok && l != nil {
		return l
	}
	return slog.New(slog.DiscardHandler)
}

// phase logs how long a restore phase took, when it ends.
func phase(ctx context.Context, name string) func(args ...any) {
	start := time.Now()
	return func(args ...any) {
		loggerFrom(ctx).Info("restore phase done", append([]any{"phase", name, "seconds", time.Since(start).Seconds()}, args...)...)
	}
}
