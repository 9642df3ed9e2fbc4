package api

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// fakeVerifier accepts "Bearer good" as the token "nightly" and Basic
// admin:pw as the user "admin".
type fakeVerifier struct{}

func (fakeVerifier) Verify(r *http.Request) (string, bool) {
	if u, p, ok := r.BasicAuth(); ok && u == "admin" && p == "pw" {
		return "admin", true
	}
	if r.Header.Get("Authorization") == "Bearer good" {
		return "nightly", true
	}
	return "", false
}

// endpoint is one request of every kind the service answers.
type endpoint struct {
	name, method, target string
	body                 string
}

var everyEndpoint = []endpoint{
	{"root", "GET", "/api/", ""},
	{"execute", "POST", "/api/Backup/Execute", ""},
	{"status", "GET", "/api/Backup/Status?id=" + knownID, ""},
	{"cancel", "POST", "/api/Backup/Cancel?id=" + finishedID, ""},
	{"jobs", "GET", "/api/Backup/Jobs", ""},
	{"job", "GET", "/api/Backup/Jobs/" + knownID, ""},
	{"healthz", "GET", "/healthz", ""},
	{"readyz", "GET", "/readyz", ""},
	{"metrics", "GET", "/metrics", ""},
	{"console page", "GET", "/", ""},
	{"console asset", "GET", "/console/app.js", ""},
	{"console action", "POST", "/console/api/archives/x/verify", ""},
}

// consoleStub answers 200 to everything and records who asked.
type consoleStub struct{ principal string }

func (c *consoleStub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.principal = Principal(r.Context())
	_, _ = io.WriteString(w, "console")
}

func accessHandler(t *testing.T, creds Verifier) (http.Handler, *consoleStub, *bytes.Buffer) {
	t.Helper()
	f := newFakeJobs()
	f.add(knownID, "Queued", "Job was queued for execution.")
	f.add(finishedID, "Success", "done")
	var logBuf bytes.Buffer
	c := &consoleStub{}
	h := New(Options{
		Jobs: f, Credentials: creds, Console: c, Logger: slog.New(slog.NewTextHandler(&logBuf, nil)),
		Metrics: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "# m\n") }),
	})
	return h, c, &logBuf
}

// TestAuthorize_Rules is SPEC section 8's table, every endpoint under both
// configurations, from a loopback and a remote client, with no, wrong,
// Basic and Bearer credentials.
func TestAuthorize_Rules(t *testing.T) {
	creds := map[string]func(*http.Request){
		"none":   func(*http.Request) {},
		"wrong":  func(r *http.Request) { r.SetBasicAuth("admin", "nope") },
		"basic":  func(r *http.Request) { r.SetBasicAuth("admin", "pw") },
		"bearer": func(r *http.Request) { r.Header.Set("Authorization", "Bearer good") },
	}
	for _, configured := range []bool{false, true} {
		var v Verifier
		if configured {
			v = fakeVerifier{}
		}
		for _, ep := range everyEndpoint {
			for _, client := range []string{loopback, remote} {
				for credName, set := range creds {
					name := ep.name + "/" + credName + "/" + client
					if configured {
						name = "configured/" + name
					}
					t.Run(name, func(t *testing.T) {
						h, _, _ := accessHandler(t, v)
						r := httptest.NewRequest(ep.method, "http://127.0.0.1:5000"+ep.target, strings.NewReader(ep.body))
						r.RemoteAddr = client
						set(r)
						w := httptest.NewRecorder()
						h.ServeHTTP(w, r)
						want, msg := http.StatusOK, ""
						switch {
						case !configured && !openWithoutCredentials(Endpoint(ep.name)) && client != loopback:
							want, msg = http.StatusForbidden, MsgLoopbackOnly
						case configured && ep.name != "root" && ep.name != "healthz" && (credName == "none" || credName == "wrong"):
							want, msg = http.StatusUnauthorized, MsgAuthRequired
						}
						if w.Code != want {
							t.Fatalf("code %d, want %d: %s", w.Code, want, w.Body)
						}
						if msg != "" {
							if s := statusOf(t, w); s.Message != msg {
								t.Errorf("message %q, want %q", s.Message, msg)
							}
						}
						if want == http.StatusUnauthorized {
							got := w.Header().Values("WWW-Authenticate")
							if len(got) != 2 || !strings.HasPrefix(got[0], "Basic realm=") || !strings.HasPrefix(got[1], "Bearer realm=") {
								t.Errorf("challenges %q, want Basic and Bearer", got)
							}
						}
					})
				}
			}
		}
	}
}

// TestAuthorize_CrossSite: a state-changing request from a browser on
// another origin is refused whoever sends it; clients that send neither
// Origin nor Sec-Fetch-Site (curl, PowerShell, schedulers) are unaffected.
func TestAuthorize_CrossSite(t *testing.T) {
	tests := []struct {
		name, method, target string
		headers              map[string]string
		refused              bool
	}{
		{"execute, no browser headers", "POST", "/api/Backup/Execute", nil, false},
		{"execute, Origin of another site", "POST", "/api/Backup/Execute", map[string]string{"Origin": "https://evil.example"}, true},
		{"execute, Origin of another port", "POST", "/api/Backup/Execute", map[string]string{"Origin": "http://127.0.0.1:6000"}, true},
		{"execute, Origin null", "POST", "/api/Backup/Execute", map[string]string{"Origin": "null"}, true},
		{"execute, Origin of this service", "POST", "/api/Backup/Execute", map[string]string{"Origin": "http://127.0.0.1:5000"}, false},
		{"execute, Sec-Fetch-Site cross-site", "POST", "/api/Backup/Execute", map[string]string{"Sec-Fetch-Site": "cross-site"}, true},
		{"execute, Sec-Fetch-Site same-site", "POST", "/api/Backup/Execute", map[string]string{"Sec-Fetch-Site": "same-site"}, true},
		{"execute, Sec-Fetch-Site same-origin", "POST", "/api/Backup/Execute", map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "http://127.0.0.1:5000"}, false},
		{"execute, Sec-Fetch-Site none (typed by the user)", "POST", "/api/Backup/Execute", map[string]string{"Sec-Fetch-Site": "none"}, false},
		{"cancel, cross-site", "POST", "/api/Backup/Cancel?id=" + finishedID, map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}, true},
		{"console action, cross-site", "POST", "/console/api/archives/x/verify", map[string]string{"Origin": "https://evil.example"}, true},
		{"status, cross-site read", "GET", "/api/Backup/Status?id=" + knownID, map[string]string{"Sec-Fetch-Site": "cross-site"}, false},
		{"console page, cross-site navigation", "GET", "/", map[string]string{"Sec-Fetch-Site": "cross-site"}, false},
	}
	for _, configured := range []bool{false, true} {
		var v Verifier
		if configured {
			v = fakeVerifier{}
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				h, _, _ := accessHandler(t, v)
				r := httptest.NewRequest(tt.method, "http://127.0.0.1:5000"+tt.target, nil)
				r.RemoteAddr = loopback
				r.SetBasicAuth("admin", "pw") // a browser's stored credentials
				for k, val := range tt.headers {
					r.Header.Set(k, val)
				}
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				want := http.StatusOK
				if tt.refused {
					want = http.StatusForbidden
				}
				if w.Code != want {
					t.Fatalf("code %d, want %d: %s", w.Code, want, w.Body)
				}
				if tt.refused {
					if s := statusOf(t, w); s.Message != MsgCrossSite {
						t.Errorf("message %q", s.Message)
					}
				}
			})
		}
	}
}

// TestAuthorize_Principal: who was authenticated reaches the job system and
// the console, and the access log names the user but never a credential.
func TestAuthorize_Principal(t *testing.T) {
	h, console, logs := accessHandler(t, fakeVerifier{})
	r := httptest.NewRequest("POST", "/api/Backup/Execute", nil)
	r.RemoteAddr = remote
	r.SetBasicAuth("admin", "pw")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	id := statusOf(t, w).ID

	r = httptest.NewRequest("GET", "/api/Backup/Jobs/"+id, nil)
	r.Header.Set("Authorization", "Bearer good")
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	var rec JobRecord
	if err := json.Unmarshal(w.Body.Bytes(), &rec); err != nil {
		t.Fatal(err)
	}
	if rec.StartedBy != "admin" {
		t.Errorf("started_by %q, want admin", rec.StartedBy)
	}

	r = httptest.NewRequest("GET", "/console/api/overview", nil)
	r.Header.Set("Authorization", "Bearer good")
	h.ServeHTTP(httptest.NewRecorder(), r)
	if console.principal != "nightly" {
		t.Errorf("console saw principal %q, want nightly", console.principal)
	}
	if !strings.Contains(logs.String(), "user=admin") || !strings.Contains(logs.String(), "user=nightly") {
		t.Errorf("access log lacks the users: %s", logs)
	}
	for _, secret := range []string{"YWRtaW46cHc=", "Bearer", "good", "Authorization"} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the log shows %q: %s", secret, logs)
		}
	}
}

func TestIsLoopback(t *testing.T) {
	tests := map[string]bool{
		"127.0.0.1:5555": true, "127.200.3.4:1": true, "[::1]:5555": true, "[::ffff:127.0.0.1]:80": true,
		"127.0.0.1": true, "192.0.2.10:5555": false, "10.0.0.1:80": false, "[2001:db8::1]:443": false,
		"[::ffff:192.0.2.1]:80": false, "not-an-address": false, "": false,
	}
	for addr, want := range tests {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = addr
		r.Header.Set("X-Forwarded-For", "127.0.0.1") // never trusted
		if got := IsLoopback(r); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", addr, got, want)
		}
	}
}

func TestHandler_ConsoleMount(t *testing.T) {
	h := New(Options{Jobs: newFakeJobs(), Logger: slog.New(slog.DiscardHandler)})
	for _, p := range []string{"/", "/console/app.js"} {
		if w := do(h, reqSpec{method: "GET", target: p}); w.Code != http.StatusNotFound {
			t.Errorf("%s without a console: %d", p, w.Code)
		}
	}
	h, _, _ = accessHandler(t, nil)
	for _, p := range []string{"/", "/console", "/console/app.js"} {
		if w := do(h, reqSpec{method: "GET", target: p}); w.Code != http.StatusOK || w.Body.String() != "console" {
			t.Errorf("%s: %d %s", p, w.Code, w.Body)
		}
	}
	if w := do(h, reqSpec{method: "GET", target: "/consolex"}); w.Code != http.StatusNotFound {
		t.Errorf("/consolex: %d", w.Code)
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
	if strings.Contains(line, "do-not-log-me") || strings.Contains(line, `"user"`) {
		t.Errorf("access log contains the body or a user: %s", line)
	}
}

// TestAuthorize_LocalName: without credentials configured, a loopback
// client reaches the loopback-only endpoints only when it addressed the
// service as localhost, by an IP address or by this machine's name; any
// other name came through some DNS pointing at 127.0.0.1 (DNS rebinding by a
// web page in a browser on the appliance).
func TestAuthorize_LocalName(t *testing.T) {
	h := New(Options{Jobs: newFakeJobs(), Hostname: "Appliance01.corp.example", Logger: slog.New(slog.DiscardHandler)})
	tests := map[string]bool{
		"127.0.0.1:5000": true, "127.0.0.1": true, "[::1]:5000": true, "10.1.2.3:5000": true,
		"localhost:5000": true, "LOCALHOST": true, "localhost.:5000": true, "api.localhost:5000": true,
		"appliance01:5000": true, "appliance01.corp.example:5000": true, "APPLIANCE01": true,
		"evil.example:5000": false, "127.0.0.1.evil.example": false, "appliance01x:5000": false, "": false,
	}
	for host, ok := range tests {
		r := httptest.NewRequest("GET", "/api/Backup/Jobs", nil)
		r.Host, r.RemoteAddr = host, loopback
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		want := http.StatusOK
		if !ok {
			want = http.StatusForbidden
		}
		if w.Code != want {
			t.Errorf("Host %q: %d, want %d", host, w.Code, want)
		}
		if !ok && statusOf(t, w).Message != MsgLocalName {
			t.Errorf("Host %q: message %q", host, w.Body)
		}
		// The original's endpoints stay open whatever the name.
		r = httptest.NewRequest("GET", "/api/Backup/Status?id="+unknownID, nil)
		r.Host, r.RemoteAddr = host, loopback
		w = httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusNotFound {
			t.Errorf("Status with Host %q: %d, want 404", host, w.Code)
		}
	}
}
