package api

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// FuzzHandler drives the whole handler with arbitrary methods, paths, query
// strings, bodies and content types from loopback and remote clients: no
// answer may be a 500, and every answer with a body is JSON (except the
// metrics exposition itself).
func FuzzHandler(f *testing.F) {
	seeds := []struct {
		method, target, body, contentType string
		local                             bool
	}{
		{"POST", "/api/Backup/Execute", "", "application/x-www-form-urlencoded", false},
		{"GET", "/api/Backup/Status?id=" + knownID, "", "", false},
		{"POST", "/api/Backup/Cancel", `{"id":"` + knownID + `"}`, "application/json", false},
		{"POST", "/api/Backup/Cancel", `{"Id":`, "application/json", true},
		{"POST", "/api/backup/cancel/", "id=%zz", "application/x-www-form-urlencoded", true},
		{"POST", "/api/Backup/Cancel", "--b\r\nContent-Disposition: form-data; name=\"id\"\r\n\r\nx\r\n--b--\r\n", "multipart/form-data; boundary=b", false},
		{"GET", "/api/Backup/Jobs?limit=99999999999999999999", "", "", true},
		{"GET", "/api/Backup/Jobs/" + strings.ToUpper(knownID), "", "", true},
		{"GET", "/api/Backup/Jobs/../Status?id=" + knownID, "", "", true},
		{"DELETE", "/metrics", "", "", true},
		{"GET", "/metrics", "", "", false},
		{"GET", "/readyz", "[]", "application/json", true},
		{"PATCH", "/nope", "{", "text/plain", false},
		{"GET", "/api/Backup/Status?id=%C3%28" + strings.Repeat("\xff", 40), "", "", false},
	}
	for _, s := range seeds {
		f.Add(s.method, s.target, s.body, s.contentType, s.local)
	}
	jobs := newFakeJobs()
	jobs.store = false // fuzzing submits millions of jobs
	jobs.add(knownID, "Queued", "Job was queued for execution.")
	h := New(Options{Jobs: jobs, Ready: fakeReady{}, Logger: slog.New(slog.DiscardHandler),
		Metrics: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("# m\n")) })})

	f.Fuzz(func(t *testing.T, method, target, body, contentType string, local bool) {
		u, err := url.ParseRequestURI(target)
		if err != nil || !validMethod(method) {
			return // the server's parser never hands such a request to a handler
		}
		r := &http.Request{
			Method: method, URL: u, RequestURI: target, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: http.Header{}, Body: http.NoBody, Host: "example.com", RemoteAddr: "192.0.2.7:1234",
		}
		if body != "" {
			r.Body = readCloser{strings.NewReader(body)}
			r.ContentLength = int64(len(body))
		}
		if contentType != "" {
			r.Header.Set("Content-Type", contentType)
		}
		if local {
			r.RemoteAddr = "127.0.0.1:1234"
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code >= 500 {
			t.Fatalf("%s %q (%q, %q): %d %s", method, target, contentType, body, w.Code, w.Body)
		}
		if method == http.MethodHead {
			return
		}
		if rt, _ := match(u.Path); rt != nil && rt.endpoint == EndpointMetrics && w.Code == http.StatusOK {
			return
		}
		if ct := w.Header().Get("Content-Type"); ct != contentTypeJSON || !json.Valid(w.Body.Bytes()) {
			t.Fatalf("%s %q: not JSON (%q): %s", method, target, ct, w.Body)
		}
	})
}

type readCloser struct{ *strings.Reader }

func (readCloser) Close() error { return nil }

// validMethod reports whether m is an HTTP token, as net/http requires.
func validMethod(m string) bool {
	if m == "" {
		return false
	}
	for i := 0; i < len(m); i++ {
		c := m[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?={}`, c) >= 0 {
			return false
		}
	}
	return true
}
