package api

import (
	"errors"
	"log/slog"
	"testing"
)

func TestHandler_Readyz(t *testing.T) {
	tests := []struct {
		ready Checker
		code  int
		body  string
	}{
		{nil, 200, `{"status":"ready"}` + "\n"},
		{fakeReady{}, 200, `{"status":"ready"}` + "\n"},
		{fakeReady{errors.New("connect to postgres://hubble@db/x: refused")}, 503,
			`{"status":"not ready","reason":"connect to postgres://hubble@db/x: refused"}` + "\n"},
	}
	for _, tt := range tests {
		h := New(Options{Jobs: newFakeJobs(), Ready: tt.ready, Logger: slog.New(slog.DiscardHandler)})
		w := do(h, reqSpec{method: "GET", target: "/readyz"})
		if w.Code != tt.code || w.Body.String() != tt.body {
			t.Errorf("readyz = %d %s, want %d %s", w.Code, w.Body, tt.code, tt.body)
		}
	}
	h := New(Options{Jobs: newFakeJobs(), Logger: slog.New(slog.DiscardHandler)})
	if w := do(h, reqSpec{method: "GET", target: "/healthz"}); w.Code != 200 || w.Body.String() != `{"status":"ok"}`+"\n" {
		t.Errorf("healthz = %d %s", w.Code, w.Body)
	}
	if w := do(h, reqSpec{method: "GET", target: "/metrics"}); w.Code != 404 {
		t.Errorf("metrics without handler = %d %s", w.Code, w.Body)
	}
}
