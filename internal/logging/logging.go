// Package logging owns the troubleshooting log of SPEC section 7: every
// event with a timestamp and level, to log_file and to stderr.
package logging

import (
	"fmt"
	"io"
	"log/slog"
	"os"
)

// Open returns a logger writing text records to stderr and, when file is
// not empty, appending to file as well. Close the returned closer on exit.
func Open(file string, stderr io.Writer, level slog.Level) (*slog.Logger, io.Closer, error) {
	opts := &slog.HandlerOptions{Level: level}
	handlers := []slog.Handler{slog.NewTextHandler(stderr, opts)}
	var closer io.Closer = nopCloser{}
	if file != "" {
		f, err := os.OpenFile(file, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
		if err != nil {
			return nil, nil, fmt.Errorf("open log file %s: %w", file, err)
		}
		handlers = append(handlers, slog.NewTextHandler(f, opts))
		closer = f
	}
	return slog.New(slog.NewMultiHandler(handlers...)), closer, nil
}

type nopCloser struct{}

func (nopCloser) Close() error { return nil }
