package api

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"
)

// recorder remembers the status and body size a handler answered.
type recorder struct {
	http.ResponseWriter
	status      int
	bytes       int64
	wroteHeader bool
}

func (rec *recorder) WriteHeader(code int) {
	if !rec.wroteHeader {
		rec.status, rec.wroteHeader = code, true
	}
	rec.ResponseWriter.WriteHeader(code)
}

func (rec *recorder) Write(p []byte) (int, error) {
	if !rec.wroteHeader {
		rec.status, rec.wroteHeader = http.StatusOK, true
	}
	n, err := rec.ResponseWriter.Write(p)
	rec.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection (deadlines, flush).
func (rec *recorder) Unwrap() http.ResponseWriter { return rec.ResponseWriter }

// Flush passes flushes on; the metrics handler may stream.
func (rec *recorder) Flush() {
	if f, ok := rec.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// accessLog writes one structured line per request. Bodies and headers are
// never logged: they may carry ids of other clients' jobs or credentials.
func (s *server) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &recorder{ResponseWriter: w, status: http.StatusOK}
		user := new(string) // set by authorize: the principal's name, never a credential
		r = r.WithContext(context.WithValue(r.Context(), accessUserKey{}, user))
		next.ServeHTTP(rec, r)
		attrs := []slog.Attr{
			slog.String("method", r.Method),
			slog.String("path", cut(r.URL.Path, 256)),
			slog.Int("status", rec.status),
			slog.Int64("bytes", rec.bytes),
			slog.Duration("duration", time.Since(start)),
			slog.String("remote", r.RemoteAddr),
		}
		if *user != "" {
			attrs = append(attrs, slog.String("user", *user))
		}
		s.opts.Logger.LogAttrs(r.Context(), slog.LevelInfo, "http request", attrs...)
	})
}

// recoverPanics turns a handler panic into a logged 500 with a JSON body,
// when nothing has been answered yet. http.ErrAbortHandler keeps its meaning.
func (s *server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec, ok := w.(*recorder)
		if !ok {
			rec = &recorder{ResponseWriter: w, status: http.StatusOK}
		}
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler { //nolint:errorlint // sentinel compared as net/http does
				panic(v)
			}
			s.opts.Logger.LogAttrs(r.Context(), slog.LevelError, "handler panic",
				slog.String("panic", fmt.Sprint(v)),
				slog.String("method", r.Method),
				slog.String("path", cut(r.URL.Path, 256)),
				slog.String("stack", string(debug.Stack())))
			if !rec.wroteHeader {
				writeError(rec, http.StatusInternalServerError, "", "Internal error: the request could not be handled.")
			}
		}()
		next.ServeHTTP(rec, r)
	})
}
