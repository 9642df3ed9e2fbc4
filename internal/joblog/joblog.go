// Package joblog owns the recent log lines of each job, kept in memory for
// the console's job view: a slog.Handler that passes every record on and
// keeps a copy of those that carry a job id (the "job" attribute every job
// event has, SPEC section 7).
//
// Memory, not the log file, because the file may be absent (log_file: ""),
// rotated or reopened under the service (SIGHUP), shared with the CLI, and
// is text to parse again; the console needs the lines of recent jobs while
// an administrator looks, and log_file keeps the full history. The buffer is
// bounded: MaxJobs jobs (the oldest forgotten first), MaxLines lines each
// (the earliest dropped, and counted), lines cut at MaxLineBytes.
package joblog

import (
	"context"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Bounds of a Buffer.
const (
	MaxJobs      = 100
	MaxLines     = 500
	MaxLineBytes = 2000
)

// JobKey is the attribute that names a record's job.
const JobKey = "job"

// Line is one kept record.
type Line struct {
	Time    time.Time `json:"time"`
	Level   string    `json:"level"`
	Message string    `json:"message"`
	Attrs   string    `json:"attrs"` // key=value pairs, as the text log shows them
}

// Log is what a Buffer holds of one job.
type Log struct {
	Lines   []Line `json:"lines"`
	Dropped int    `json:"dropped"` // earlier lines no longer kept
}

// Buffer keeps the recent lines of recent jobs. It is safe for concurrent use.
type Buffer struct {
	mu    sync.Mutex
	jobs  map[string]*Log
	order []string // job ids, oldest first
}

// New returns an empty Buffer.
func New() *Buffer { return &Buffer{jobs: make(map[string]*Log)} }

// Get returns a copy of the job's lines; ok is false when none are kept
// (a job of an earlier run of the service, or forgotten).
func (b *Buffer) Get(id string) (Log, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	l := b.jobs[id]
	if l == nil {
		return Log{Lines: []Line{}}, false
	}
	return Log{Lines: slices.Clone(l.Lines), Dropped: l.Dropped}, true
}

func (b *Buffer) add(id string, line Line) {
	b.mu.Lock()
	defer b.mu.Unlock()
	l := b.jobs[id]
	if l == nil {
		if len(b.order) >= MaxJobs {
			delete(b.jobs, b.order[0])
			b.order = slices.Delete(b.order, 0, 1)
		}
		l = &Log{}
		b.jobs[id] = l
		b.order = append(b.order, id)
	}
	if len(l.Lines) >= MaxLines {
		l.Lines = slices.Delete(l.Lines, 0, 1)
		l.Dropped++
	}
	l.Lines = append(l.Lines, line)
}

// Handler returns a handler that passes every record to next and keeps the
// records that carry a job id.
func (b *Buffer) Handler(next slog.Handler) slog.Handler {
	return &handler{next: next, buf: b}
}

type handler struct {
	next   slog.Handler
	buf    *Buffer
	job    string // from WithAttrs
	attrs  string // formatted attributes from WithAttrs
	prefix string // group names joined with "."
}

func (h *handler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	job := h.job
	var sb strings.Builder
	sb.WriteString(h.attrs)
	r.Attrs(func(a slog.Attr) bool {
		if id, ok := h.jobOf(a); ok {
			job = id
			return true
		}
		appendAttr(&sb, h.prefix, a)
		return true
	})
	if job != "" {
		h.buf.add(job, Line{
			Time: r.Time.UTC(), Level: r.Level.String(),
			Message: cut(r.Message), Attrs: cut(strings.TrimSpace(sb.String())),
		})
	}
	return h.next.Handle(ctx, r)
}

func (h *handler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.next = h.next.WithAttrs(as)
	var sb strings.Builder
	sb.WriteString(h.attrs)
	for _, a := range as {
		if id, ok := h.jobOf(a); ok {
			c.job = id
			continue
		}
		appendAttr(&sb, h.prefix, a)
	}
	c.attrs = sb.String()
	return &c
}

func (h *handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	c := *h
	c.next = h.next.WithGroup(name)
	c.prefix = h.prefix + name + "."
	return &c
}

// jobOf reports whether a is the job attribute (outside any group).
func (h *handler) jobOf(a slog.Attr) (string, bool) {
	if h.prefix != "" || a.Key != JobKey {
		return "", false
	}
	return a.Value.Resolve().String(), true
}

func appendAttr(sb *strings.Builder, prefix string, a slog.Attr) {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return
	}
	if a.Value.Kind() == slog.KindGroup {
		p := prefix
		if a.Key != "" {
			p += a.Key + "."
		}
		for _, g := range a.Value.Group() {
			appendAttr(sb, p, g)
		}
		return
	}
	v := a.Value.String()
	if v == "" || strings.ContainsAny(v, " \t\n\"=") || !utf8.ValidString(v) {
		v = strconv.Quote(v)
	}
	sb.WriteString(" ")
	sb.WriteString(prefix + a.Key + "=" + v)
}

// cut bounds a kept string, never splitting a character.
func cut(s string) string {
	if len(s) <= MaxLineBytes {
		return s
	}
	i := MaxLineBytes
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}
