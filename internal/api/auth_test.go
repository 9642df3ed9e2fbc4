package api

import (
	"bytes"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestNoCredentials_Authorize(t *testing.T) {
	h, _ := testHandler(t)
	endpoints := []struct {
		method, target string
		open           bool
	}{
		{"GET", "/api/", true},
		{"POST", "/api/Backup/Execute", true},
		{"GET", "/api/Backup/Status?id=" + knownID, true},
		{"POST", "/api/Backup/Cancel?id=" + finishedID, true},
		{"GET", "/api/Backup/Jobs", false},
		{"GET", "/api/Backup/Jobs/" + knownID, false},
		{"GET", "/healthz", false},
		{"GET", "/readyz", false},
		{"GET", "/metrics", false},
	}
	remotes := []struct {
		addr  string
		local bool
	}{
		{"127.0.0.1:5555", true},
		{"127.200.3.4:1", true},
		{"[::1]:5555", true},
		{"[::ffff:127.0.0.1]:80", true},
		{"127.0.0.1", true},
		{"192.0.2.10:5555", false},
		{"10.0.0.1:80", false},
		{"[2001:db8::1]:443", false},
		{"[::ffff:192.0.2.1]:80", false},
		{"not-an-address", false},
		{"", false},
	}
	for _, ep := range endpoints {
		for _, rm := range remotes {
			t.Run(ep.target+" from "+rm.addr, func(t *testing.T) {
				r := httptest.NewRequest(ep.method, ep.target, nil)
				r.RemoteAddr = rm.addr
				r.Header.Set("X-Forwarded-For", "127.0.0.1") // never trusted
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				want := http.StatusOK
				if !ep.open && !rm.local {
					want = http.StatusForbidden
				}
				if w.Code != want {
					t.Fatalf("code %d, want %d: %s", w.Code, want, w.Body)
				}
				if want == http.StatusForbidden {
					if s := statusOf(t, w); s.Status != StatusError || !strings.Contains(s.Message, "loopback") {
						t.Errorf("403 answer %+v", s)
					}
				}
			})
		}
	}
}

type denyAll struct{ err error }

func (d denyAll) Authorize(*http.Request, Endpoint) error { return d.err }

func TestHandler_AuthenticatorSeam(t *testing.T) {
	tests := []struct {
		name      string
		err       error
		code      int
		challenge bool
	}{
		{"unauthorized", errors.Join(errors.New("no credentials"), ErrUnauthorized), 401, true},
		{"forbidden", ErrForbidden, 403, false},
		{"broken", errors.New("token store unreadable"), 500, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := New(Options{Jobs: newFakeJobs(), Auth: denyAll{tt.err}, Logger: slog.New(slog.DiscardHandler)})
			w := do(h, reqSpec{method: "GET", target: "/api/Backup/Jobs"})
			if w.Code != tt.code {
				t.Fatalf("code %d, want %d", w.Code, tt.code)
			}
			statusOf(t, w)
			if got := w.Header().Get("WWW-Authenticate") != ""; got != tt.challenge {
				t.Errorf("WWW-Authenticate present = %v, want %v", got, tt.challenge)
			}
		})
	}
}

func TestHandler_AccessLog(t *testing.T) {
	var logBuf bytes.Buffer
	f := newFakeJobs()
	f.add(knownID, "Queued", "")
	h := New(Options{Jobs: f, Logger: slog.New(slog.NewJSONHandler(&logBuf, nil))})
	w := do(h, reqSpec{method: "POST", target: "/api/Backup/Cancel", body: `{"id":"` + knownID + `","secret":"do-not-log-me"}`, contentType: "application/json"})
	if w.Code != http.StatusOK {
		t.Fatalf("code %d: %s", w.Code, w.Body)
	}
	line := logBuf.String()
	for _, want := range []string{`"msg":"http request"`, `"method":"POST"`, `"path":"/api/Backup/Cancel"`,
		`"status":200`, `"bytes":` + itoa(w.Body.Len()), `"duration":`, `"remote":"` + loopback + `"`} {
		if !strings.Contains(line, want) {
			t.Errorf("access log lacks %s: %s", want, line)
		}
	}
	if strings.Contains(line, "do-not-log-me") {
		t.Errorf("access log contains the body: %s", line)
	}
}

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
