// Package logging owns the troubleshooting log of SPEC section 7: every
// event with a timestamp and level, to log_file and to stderr. log_file can
// be reopened (on SIGHUP, after logrotate moved it away).
package logging

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
)

// Open returns a logger writing text records to stderr and, when file is
// not empty, appending to file as well. Close the returned Output on exit;
// Reopen it after the file was rotated.
func Open(file string, stderr io.Writer, level slog.Level) (*slog.Logger, *Output, error) {
	opts := &slog.HandlerOptions{Level: level}
	handlers := []slog.Handler{slog.NewTextHandler(stderr, opts)}
	out := &Output{path: file}
	if file != "" {
		f, err := openFile(file)
		if err != nil {
			return nil, nil, err
		}
		out.f = f
		handlers = append(handlers, slog.NewTextHandler(out, opts))
	}
	return slog.New(slog.NewMultiHandler(handlers...)), out, nil
}

func openFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("open log file %s: %w", path, err)
	}
	return f, nil
}

// Output is log_file as the logger writes it.
type Output struct {
	path string
	mu   sync.Mutex
	f    *os.File // nil: no log file, or closed
}

// Write appends one record to the current file.
func (o *Output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.f == nil {
		return len(p), nil
	}
	return o.f.Write(p)
}

// Reopen opens the file's path anew (creating it if logrotate moved it
// away) and closes the file written so far. On failure the old file stays
// in use.
func (o *Output) Reopen() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.f == nil {
		return nil
	}
	f, err := openFile(o.path)
	if err != nil {
		return err
	}
	old := o.f
	o.f = f
	return old.Close()
}

// Close closes the file; later records go to stderr only.
func (o *Output) Close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.f == nil {
		return nil
	}
	err := o.f.Close()
	o.f = nil
	return err
}
