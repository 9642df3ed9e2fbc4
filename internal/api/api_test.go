package api

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	knownID    = "b61a96c2134f4a59b91188c94e24aa57"
	finishedID = "0123456789abcdef0123456789abcdef"
	unknownID  = "ffffffffffffffffffffffffffffffff"
	loopback   = "127.0.0.1:40000"
	remote     = "192.0.2.10:40000"
)

// testHandler returns a handler over a fake with one Queued and one Success
// job, logging to io.Discard.
func testHandler(t testing.TB) (http.Handler, *fakeJobs) {
	t.Helper()
	f := newFakeJobs()
	f.add(knownID, "Queued", "Job was queued for execution.")
	f.add(finishedID, "Success", "Backup finished: /b/x.tar.gz <ok> & done")
	h := New(Options{
		Jobs: f, Version: "1.2.3", Logger: slog.New(slog.DiscardHandler),
		Metrics: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain; version=0.0.4")
			_, _ = io.WriteString(w, "# metrics\n")
		}),
		NextRun: func() time.Time { return time.Date(2030, 1, 2, 2, 0, 0, 0, time.UTC) },
	})
	return h, f
}

type reqSpec struct {
	method, target, body, contentType, remote string
}

func do(h http.Handler, rs reqSpec) *httptest.ResponseRecorder {
	var body io.Reader
	if rs.body != "" {
		body = strings.NewReader(rs.body)
	}
	r := httptest.NewRequest(rs.method, rs.target, body)
	r.Host = "127.0.0.1:5000" // as a local client addresses the service
	if rs.contentType != "" {
		r.Header.Set("Content-Type", rs.contentType)
	}
	r.RemoteAddr = loopback
	if rs.remote != "" {
		r.RemoteAddr = rs.remote
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// statusOf decodes a Status JSON answer, failing on anything else.
func statusOf(t *testing.T, w *httptest.ResponseRecorder) StatusResponse {
	t.Helper()
	if ct := w.Header().Get("Content-Type"); ct != contentTypeJSON {
		t.Fatalf("Content-Type = %q, want %q", ct, contentTypeJSON)
	}
	dec := json.NewDecoder(w.Body)
	dec.DisallowUnknownFields()
	var s StatusResponse
	if err := dec.Decode(&s); err != nil {
		t.Fatalf("body is not Status JSON: %v", err)
	}
	return s
}

func TestHandler_Routes(t *testing.T) {
	h, _ := testHandler(t)
	tests := []struct {
		name   string
		req    reqSpec
		code   int
		allow  string // expected Allow header on 405
		status string // expected Status member when the answer is Status JSON
	}{
		{"root", reqSpec{method: "GET", target: "/api/"}, 200, "", ""},
		{"root no slash", reqSpec{method: "GET", target: "/api"}, 200, "", ""},
		{"root upper", reqSpec{method: "GET", target: "/API/"}, 200, "", ""},
		{"root head", reqSpec{method: "HEAD", target: "/Api"}, 200, "", ""},
		{"root post", reqSpec{method: "POST", target: "/api/"}, 405, "GET, HEAD", "Error"},
		{"execute", reqSpec{method: "POST", target: "/api/Backup/Execute"}, 200, "", "Queued"},
		{"execute lower slash", reqSpec{method: "POST", target: "/api/backup/execute/"}, 200, "", "Queued"},
		{"execute upper", reqSpec{method: "POST", target: "/API/BACKUP/EXECUTE"}, 200, "", "Queued"},
		{"execute double slash", reqSpec{method: "POST", target: "/api//Backup/Execute"}, 200, "", "Queued"},
		{"execute curl -d empty", reqSpec{method: "POST", target: "/api/Backup/Execute", contentType: "application/x-www-form-urlencoded"}, 200, "", "Queued"},
		{"execute get", reqSpec{method: "GET", target: "/api/Backup/Execute"}, 405, "POST", "Error"},
		{"execute put", reqSpec{method: "PUT", target: "/api/backup/execute/"}, 405, "POST", "Error"},
		{"status", reqSpec{method: "GET", target: "/api/Backup/Status?id=" + knownID}, 200, "", "Queued"},
		{"status lower slash", reqSpec{method: "GET", target: "/api/backup/status/?id=" + knownID}, 200, "", "Queued"},
		{"status upper", reqSpec{method: "GET", target: "/API/BACKUP/STATUS?id=" + finishedID}, 200, "", "Success"},
		{"status head", reqSpec{method: "HEAD", target: "/api/Backup/Status?id=" + knownID}, 200, "", ""},
		{"status post", reqSpec{method: "POST", target: "/api/Backup/Status?id=" + knownID}, 405, "GET, HEAD", "Error"},
		{"status delete", reqSpec{method: "DELETE", target: "/api/Backup/Status?id=" + knownID}, 405, "GET, HEAD", "Error"},
		{"cancel finished", reqSpec{method: "POST", target: "/api/Backup/Cancel?id=" + finishedID}, 200, "", "Success"},
		{"cancel lower slash", reqSpec{method: "POST", target: "/api/backup/cancel/?id=" + finishedID}, 200, "", "Success"},
		{"cancel get", reqSpec{method: "GET", target: "/api/Backup/Cancel?id=" + knownID}, 405, "POST", "Error"},
		{"jobs", reqSpec{method: "GET", target: "/api/Backup/Jobs"}, 200, "", ""},
		{"jobs lower slash", reqSpec{method: "GET", target: "/api/backup/jobs/"}, 200, "", ""},
		{"jobs post", reqSpec{method: "POST", target: "/api/Backup/Jobs"}, 405, "GET, HEAD", "Error"},
		{"job", reqSpec{method: "GET", target: "/api/Backup/Jobs/" + knownID}, 200, "", ""},
		{"job upper id", reqSpec{method: "GET", target: "/API/backup/JOBS/" + strings.ToUpper(knownID) + "/"}, 200, "", ""},
		{"job unknown", reqSpec{method: "GET", target: "/api/Backup/Jobs/" + unknownID}, 404, "", "Error"},
		{"job bad id", reqSpec{method: "GET", target: "/api/Backup/Jobs/xyz"}, 400, "", "Error"},
		{"job delete", reqSpec{method: "DELETE", target: "/api/Backup/Jobs/" + knownID}, 405, "GET, HEAD", "Error"},
		{"healthz", reqSpec{method: "GET", target: "/healthz"}, 200, "", ""},
		{"healthz upper slash", reqSpec{method: "GET", target: "/HEALTHZ/"}, 200, "", ""},
		{"healthz post", reqSpec{method: "POST", target: "/healthz"}, 405, "GET, HEAD", "Error"},
		{"readyz", reqSpec{method: "GET", target: "/readyz/"}, 200, "", ""},
		{"metrics", reqSpec{method: "GET", target: "/Metrics"}, 200, "", ""},
		{"metrics post", reqSpec{method: "POST", target: "/metrics"}, 405, "GET, HEAD", "Error"},
		{"slash", reqSpec{method: "GET", target: "/"}, 404, "", "Error"},
		{"backup", reqSpec{method: "GET", target: "/api/Backup"}, 404, "", "Error"},
		{"unknown action", reqSpec{method: "POST", target: "/api/Backup/Restore"}, 404, "", "Error"},
		{"too deep", reqSpec{method: "GET", target: "/api/Backup/Status/x/y"}, 404, "", "Error"},
		{"unknown", reqSpec{method: "GET", target: "/favicon.ico"}, 404, "", "Error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := do(h, tt.req)
			if w.Code != tt.code {
				t.Fatalf("%s %s: code %d, want %d; body %s", tt.req.method, tt.req.target, w.Code, tt.code, w.Body)
			}
			if got := w.Header().Get("Allow"); got != tt.allow {
				t.Errorf("Allow = %q, want %q", got, tt.allow)
			}
			if tt.req.method == http.MethodHead {
				return
			}
			if tt.status != "" {
				if s := statusOf(t, w); s.Status != tt.status {
					t.Errorf("Status = %q, want %q", s.Status, tt.status)
				}
				return
			}
			if tt.name == "metrics" {
				if !strings.HasPrefix(w.Body.String(), "# metrics") {
					t.Errorf("metrics body %q", w.Body)
				}
				return
			}
			if ct := w.Header().Get("Content-Type"); ct != contentTypeJSON {
				t.Errorf("Content-Type = %q", ct)
			}
			if !json.Valid(w.Body.Bytes()) {
				t.Errorf("body is not JSON: %s", w.Body)
			}
		})
	}
}

// TestHandler_StatusBytes checks the exact bytes on the wire: member order
// Id, Status, Message, and no HTML escaping of the message.
func TestHandler_StatusBytes(t *testing.T) {
	h, _ := testHandler(t)
	tests := []struct {
		name string
		req  reqSpec
		want string
	}{
		{"status", reqSpec{method: "GET", target: "/api/Backup/Status?id=" + knownID},
			`{"Id":"` + knownID + `","Status":"Queued","Message":"Job was queued for execution."}` + "\n"},
		{"no html escaping", reqSpec{method: "GET", target: "/api/Backup/Status?id=" + finishedID},
			`{"Id":"` + finishedID + `","Status":"Success","Message":"Backup finished: /b/x.tar.gz <ok> & done"}` + "\n"},
		{"unknown", reqSpec{method: "GET", target: "/api/Backup/Status?id=" + unknownID},
			`{"Id":"` + unknownID + `","Status":"Error","Message":"Job with a given ID was not found."}` + "\n"},
		{"missing", reqSpec{method: "GET", target: "/api/Backup/Status"},
			`{"Id":"","Status":"Error","Message":"Parameter 'id' is required."}` + "\n"},
		{"not hex", reqSpec{method: "POST", target: "/api/Backup/Cancel?id=abc"},
			`{"Id":"abc","Status":"Error","Message":"Parameter 'id' must be 32 hexadecimal characters."}` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := do(h, tt.req)
			if got := w.Body.String(); got != tt.want {
				t.Errorf("body\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestHandler_Execute(t *testing.T) {
	h, f := testHandler(t)
	w := do(h, reqSpec{method: "POST", target: "/api/Backup/Execute", contentType: "application/x-www-form-urlencoded"})
	s := statusOf(t, w)
	if w.Code != 200 || s.Status != "Queued" || !isHexID(s.ID) || strings.ToLower(s.ID) != s.ID {
		t.Fatalf("Execute = %d %+v", w.Code, s)
	}
	j, err := f.Get(t.Context(), s.ID)
	if err != nil || j.Trigger != TriggerAPI {
		t.Fatalf("submitted job = %+v, %v; want trigger %q", j, err, TriggerAPI)
	}
}

func TestHandler_Root(t *testing.T) {
	h, _ := testHandler(t)
	w := do(h, reqSpec{method: "GET", target: "/api/"})
	want := `{"service":"hubble-applianceapi","version":"1.2.3","status":"running","next_run":"2030-01-02T02:00:00Z"}` + "\n"
	if w.Body.String() != want {
		t.Errorf("GET /api/ = %s, want %s", w.Body, want)
	}
	h = New(Options{Jobs: newFakeJobs(), Logger: slog.New(slog.DiscardHandler)})
	w = do(h, reqSpec{method: "GET", target: "/api/"})
	want = `{"service":"hubble-applianceapi","version":"","status":"running"}` + "\n"
	if w.Body.String() != want {
		t.Errorf("GET /api/ without scheduler = %s, want %s", w.Body, want)
	}
}

func TestHandler_JobsShowsNextRun(t *testing.T) {
	h, _ := testHandler(t)
	w := do(h, reqSpec{method: "GET", target: "/api/Backup/Jobs", remote: "127.0.0.1:5555"})
	if !strings.Contains(w.Body.String(), `"next_run":"2030-01-02T02:00:00Z"`) {
		t.Errorf("GET /api/Backup/Jobs = %s, want the next run", w.Body)
	}
}
