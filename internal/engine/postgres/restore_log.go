package postgres

import (
	"context"
	"log/slog"
	"time"
)

// logKey carries RestoreRequest.Log through the restore's helpers, which
// take a context but not the request.
type logKey struct{}

// withLogger returns ctx carrying l, which phase uses to log the duration
// of each restore phase at INFO.
func withLogger(ctx context.Context, l *slog.Logger) context.Context {
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
