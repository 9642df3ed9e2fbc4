package joblog

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
)

func TestHandler_KeepsJobRecords(t *testing.T) {
	var out bytes.Buffer
	b := New()
	log := slog.New(b.Handler(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelInfo})))

	log.Info("service started", "listen", ":5000") // no job: not kept
	log.Info("job queued", "job", "j1", "trigger", "api")
	jl := log.With("job", "j1", "schema", "hubble")
	jl.Warn("backup canceled", "reason", "job canceled", "error", fmt.Errorf("copy: %w", context.Canceled))
	jl.WithGroup("copy").Info("table done", "table", "a b", "rows", 3)
	jl.Debug("not enabled")
	log.Info("job queued", "job", "j2")

	if !strings.Contains(out.String(), "service started") || !strings.Contains(out.String(), "table done") {
		t.Fatalf("records not passed on: %s", out.String())
	}
	got, ok := b.Get("j1")
	if !ok || got.Dropped != 0 {
		t.Fatalf("Get(j1) = %+v, %v", got, ok)
	}
	want := []struct{ level, msg, attrs string }{
		{"INFO", "job queued", "trigger=api"},
		{"WARN", "backup canceled", `schema=hubble reason="job canceled" error="copy: context canceled"`},
		{"INFO", "table done", `schema=hubble copy.table="a b" copy.rows=3`},
	}
	if len(got.Lines) != len(want) {
		t.Fatalf("lines %+v, want %d", got.Lines, len(want))
	}
	for i, w := range want {
		l := got.Lines[i]
		if l.Level != w.level || l.Message != w.msg || l.Attrs != w.attrs || l.Time.IsZero() {
			t.Errorf("line %d = %+v, want %+v", i, l, w)
		}
	}
	if g, _ := b.Get("j2"); len(g.Lines) != 1 {
		t.Errorf("j2 lines %+v", g.Lines)
	}
	if g, ok := b.Get("nope"); ok || g.Lines == nil || len(g.Lines) != 0 {
		t.Errorf("unknown job: %+v, %v", g, ok)
	}
}

func TestBuffer_Bounds(t *testing.T) {
	b := New()
	log := slog.New(b.Handler(slog.NewTextHandler(io.Discard, nil)))
	for i := range MaxLines + 7 {
		log.Info("line", "job", "big", "i", i)
	}
	got, _ := b.Get("big")
	if len(got.Lines) != MaxLines || got.Dropped != 7 || got.Lines[0].Attrs != "i=7" {
		t.Errorf("kept %d lines, dropped %d, first %+v", len(got.Lines), got.Dropped, got.Lines[0])
	}
	for i := range MaxJobs {
		log.Info("x", "job", fmt.Sprint("j", i))
	}
	if _, ok := b.Get("big"); ok {
		t.Error("the oldest job is still kept after MaxJobs newer ones")
	}
	if _, ok := b.Get(fmt.Sprint("j", MaxJobs-1)); !ok {
		t.Error("the newest job is not kept")
	}
	log.Info(strings.Repeat("é", MaxLineBytes), "job", "long")
	if g, _ := b.Get("long"); len(g.Lines[0].Message) > MaxLineBytes+len("…") || !strings.HasSuffix(g.Lines[0].Message, "…") {
		t.Errorf("long message kept as %d bytes", len(g.Lines[0].Message))
	}
}
