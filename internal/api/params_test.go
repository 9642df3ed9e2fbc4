package api

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func multipartBody(t *testing.T, key, value string) (body, contentType string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	if err := mw.WriteField(key, value); err != nil {
		t.Fatal(err)
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.String(), mw.FormDataContentType()
}

func TestHandler_IDSources(t *testing.T) {
	h, _ := testHandler(t)
	upper := strings.ToUpper(finishedID)
	mpBody, mpType := multipartBody(t, "id", finishedID)
	const form = "application/x-www-form-urlencoded"
	tests := []struct {
		name string
		req  reqSpec
		want StatusResponse
	}{
		{"query", reqSpec{method: "GET", target: "/api/Backup/Status?id=" + finishedID},
			StatusResponse{finishedID, "Success", "Backup finished: /b/x.tar.gz <ok> & done"}},
		{"query Id", reqSpec{method: "GET", target: "/api/Backup/Status?Id=" + finishedID},
			StatusResponse{finishedID, "Success", "Backup finished: /b/x.tar.gz <ok> & done"}},
		{"query ID blanks", reqSpec{method: "GET", target: "/api/Backup/Status?ID=%20" + finishedID + "%20"},
			StatusResponse{finishedID, "Success", "Backup finished: /b/x.tar.gz <ok> & done"}},
		{"query upper hex echoed", reqSpec{method: "GET", target: "/api/Backup/Status?id=" + upper},
			StatusResponse{upper, "Success", "Backup finished: /b/x.tar.gz <ok> & done"}},
		{"query wins over body", reqSpec{method: "POST", target: "/api/Backup/Cancel?id=" + finishedID, body: "id=" + unknownID, contentType: form},
			StatusResponse{finishedID, "Success", "Backup finished: /b/x.tar.gz <ok> & done"}},
		{"form", reqSpec{method: "POST", target: "/api/Backup/Cancel", body: "id=" + finishedID, contentType: form},
			StatusResponse{finishedID, "Success", "Backup finished: /b/x.tar.gz <ok> & done"}},
		{"form charset", reqSpec{method: "POST", target: "/api/Backup/Cancel", body: "x=1&Id=" + finishedID, contentType: form + "; charset=UTF-8"},
			StatusResponse{finishedID, "Success", "Backup finished: /b/x.tar.gz <ok> & done"}},
		{"form no content type", reqSpec{method: "POST", target: "/api/Backup/Cancel", body: "id=" + finishedID},
			StatusResponse{finishedID, "Success", "Backup finished: /b/x.tar.gz <ok> & done"}},
		{"json", reqSpec{method: "POST", target: "/api/Backup/Cancel", body: `{"id": "` + finishedID + `"}`, contentType: "application/json"},
			StatusResponse{finishedID, "Success", "Backup finished: /b/x.tar.gz <ok> & done"}},
		{"json Id other members", reqSpec{method: "POST", target: "/api/Backup/Cancel", body: ` {"x": [1, {}], "Id": "` + finishedID + `"} `, contentType: "application/json; charset=utf-8"},
			StatusResponse{finishedID, "Success", "Backup finished: /b/x.tar.gz <ok> & done"}},
		{"json labelled form (PowerShell)", reqSpec{method: "POST", target: "/api/Backup/Cancel", body: `{"id":"` + finishedID + `"}`, contentType: form},
			StatusResponse{finishedID, "Success", "Backup finished: /b/x.tar.gz <ok> & done"}},
		{"json on GET status", reqSpec{method: "GET", target: "/api/Backup/Status", body: `{"id":"` + knownID + `"}`, contentType: "application/json"},
			StatusResponse{knownID, "Queued", "Job was queued for execution."}},
		{"multipart", reqSpec{method: "POST", target: "/api/Backup/Cancel", body: mpBody, contentType: mpType},
			StatusResponse{finishedID, "Success", "Backup finished: /b/x.tar.gz <ok> & done"}},
		{"cancel queued, empty form body", reqSpec{method: "POST", target: "/api/Backup/Cancel?id=" + knownID, contentType: form},
			StatusResponse{knownID, "Canceled", "Job was canceled."}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := do(h, tt.req)
			if w.Code != http.StatusOK {
				t.Fatalf("code %d, body %s", w.Code, w.Body)
			}
			if diff := cmp.Diff(tt.want, statusOf(t, w)); diff != "" {
				t.Errorf("answer (-want +got):\n%s", diff)
			}
		})
	}
}

func TestHandler_BadInput(t *testing.T) {
	h, _ := testHandler(t)
	long := strings.Repeat("a", 200)
	huge := strings.Repeat("x", 10<<20)
	const form = "application/x-www-form-urlencoded"
	tests := []struct {
		name string
		req  reqSpec
		code int
		id   string
		msg  string // exact Message, or a prefix ending in "*"
	}{
		{"missing", reqSpec{method: "GET", target: "/api/Backup/Status"}, 400, "", MsgIDRequired},
		{"empty", reqSpec{method: "GET", target: "/api/Backup/Status?id="}, 400, "", MsgIDRequired},
		{"blank", reqSpec{method: "POST", target: "/api/Backup/Cancel?id=%20%20"}, 400, "", MsgIDRequired},
		{"blank json", reqSpec{method: "POST", target: "/api/Backup/Cancel", body: `{"id":"  "}`, contentType: "application/json"}, 400, "", MsgIDRequired},
		{"json null", reqSpec{method: "POST", target: "/api/Backup/Cancel", body: `{"id":null}`, contentType: "application/json"}, 400, "", MsgIDRequired},
		{"json without id", reqSpec{method: "POST", target: "/api/Backup/Cancel", body: `{}`, contentType: "application/json"}, 400, "", MsgIDRequired},
		{"short", reqSpec{method: "GET", target: "/api/Backup/Status?id=abc"}, 400, "abc", MsgIDFormat},
		// url.Query drops a pair it cannot decode: the id was given, malformed.
		{"bad escape", reqSpec{method: "GET", target: "/api/Backup/Status?id=%zz"}, 400, "%zz", MsgIDFormat},
		{"bad escape, other case", reqSpec{method: "POST", target: "/api/Backup/Cancel?x=1&ID=ab%2"}, 400, "ab%2", MsgIDFormat},
		{"33 hex", reqSpec{method: "GET", target: "/api/Backup/Status?id=" + knownID + "a"}, 400, knownID + "a", MsgIDFormat},
		{"not hex", reqSpec{method: "GET", target: "/api/Backup/Status?id=" + strings.Repeat("z", 32)}, 400, strings.Repeat("z", 32), MsgIDFormat},
		{"overlong cut to 64", reqSpec{method: "GET", target: "/api/Backup/Status?id=" + long}, 400, long[:64], MsgIDFormat},
		{"unicode cut by characters", reqSpec{method: "GET", target: "/api/Backup/Status?id=" + strings.Repeat("é", 70)}, 400, strings.Repeat("é", 64), MsgIDFormat},
		{"json number", reqSpec{method: "POST", target: "/api/Backup/Cancel", body: `{"id":12}`, contentType: "application/json"}, 400, "12", MsgIDFormat},
		{"unknown", reqSpec{method: "GET", target: "/api/Backup/Status?id=" + unknownID}, 404, unknownID, MsgNotFound},
		{"unknown cancel", reqSpec{method: "POST", target: "/api/Backup/Cancel?id=" + unknownID}, 404, unknownID, MsgNotFound},
		{"broken json", reqSpec{method: "POST", target: "/api/Backup/Cancel", body: `{"id":`, contentType: "application/json"}, 400, "", "Request body is not valid JSON*"},
		{"broken json execute", reqSpec{method: "POST", target: "/api/Backup/Execute", body: `{"a"`, contentType: "application/json"}, 400, "", "Request body is not valid JSON*"},
		{"json array", reqSpec{method: "POST", target: "/api/Backup/Cancel", body: `["x"]`, contentType: "application/json"}, 400, "", "Request body must be a JSON object."},
		{"json trailing data", reqSpec{method: "POST", target: "/api/Backup/Cancel", body: `{"id":"` + knownID + `"} {}`, contentType: "application/json"}, 400, "", "Request body is not valid JSON: data after the object."},
		{"bad form escape", reqSpec{method: "POST", target: "/api/Backup/Cancel", body: "id=%zz", contentType: form}, 400, "", "Request body is not a valid form*"},
		{"multipart without boundary", reqSpec{method: "POST", target: "/api/Backup/Cancel", body: "--x\r\n", contentType: "multipart/form-data"}, 400, "", "Request body is not a valid multipart form*"},
		{"10 MB declared", reqSpec{method: "POST", target: "/api/Backup/Execute", body: huge, contentType: form}, 413, "", "Request body is too large*"},
		{"10 MB status", reqSpec{method: "GET", target: "/api/Backup/Status?id=" + knownID, body: huge, contentType: "application/json"}, 413, "", "Request body is too large*"},
		{"bad limit", reqSpec{method: "GET", target: "/api/Backup/Jobs?limit=abc"}, 400, "", "Parameter 'limit' must be*"},
		{"zero limit", reqSpec{method: "GET", target: "/api/Backup/Jobs?limit=0"}, 400, "", "Parameter 'limit' must be*"},
		{"negative limit", reqSpec{method: "GET", target: "/api/Backup/Jobs?limit=-5"}, 400, "", "Parameter 'limit' must be*"},
		{"over limit", reqSpec{method: "GET", target: "/api/Backup/Jobs?limit=1001"}, 400, "", "Parameter 'limit' must be*"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := do(h, tt.req)
			if w.Code != tt.code {
				t.Fatalf("code %d, want %d; body %.300s", w.Code, tt.code, w.Body)
			}
			s := statusOf(t, w)
			if s.ID != tt.id || s.Status != StatusError {
				t.Errorf("Id, Status = %q, %q; want %q, Error", s.ID, s.Status, tt.id)
			}
			if p, ok := strings.CutSuffix(tt.msg, "*"); ok {
				if !strings.HasPrefix(s.Message, p) {
					t.Errorf("Message = %q, want prefix %q", s.Message, p)
				}
			} else if s.Message != tt.msg {
				t.Errorf("Message = %q, want %q", s.Message, tt.msg)
			}
		})
	}
}

// TestHandler_ChunkedTooLarge sends a body of unknown length: the size limit
// is found while reading, still a 413.
func TestHandler_ChunkedTooLarge(t *testing.T) {
	h, _ := testHandler(t)
	for _, target := range []string{"/api/Backup/Execute", "/api/Backup/Cancel?id=" + knownID} {
		body := io.MultiReader(strings.NewReader("id="), strings.NewReader(strings.Repeat("a", 10<<20)))
		r := httptest.NewRequest("POST", target, body)
		r.Host = "127.0.0.1:5000"
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if r.ContentLength != -1 {
			t.Fatalf("ContentLength = %d, want unknown", r.ContentLength)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusRequestEntityTooLarge {
			t.Fatalf("%s: code %d, body %.200s", target, w.Code, w.Body)
		}
		statusOf(t, w)
	}
}

// TestServer_LargeBody sends 10 MB through a real connection: the client
// gets the 413 answer, and the server keeps serving.
func TestServer_LargeBody(t *testing.T) {
	h, _ := testHandler(t)
	srv := httptest.NewServer(h)
	defer srv.Close()
	client := srv.Client()
	defer client.CloseIdleConnections()
	resp, err := client.Post(srv.URL+"/api/Backup/Execute", "application/x-www-form-urlencoded",
		bytes.NewReader(bytes.Repeat([]byte("a"), 10<<20)))
	if err != nil {
		t.Fatalf("POST 10 MB: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("POST 10 MB: %d %s", resp.StatusCode, body)
	}
	resp, err = client.Get(srv.URL + "/api/Backup/Status?id=" + knownID)
	if err != nil {
		t.Fatalf("GET after 10 MB: %v", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET after 10 MB: %d", resp.StatusCode)
	}
}

func TestHandler_InternalErrors(t *testing.T) {
	tests := []struct {
		name   string
		setup  func(*fakeJobs)
		req    reqSpec
		code   int
		id     string
		prefix string
	}{
		// SPEC section 4: a job the store cannot record is a 503, never a 500.
		{"submit", func(f *fakeJobs) { f.submitErr = errors.New("record new job: write jobs.db: no space left on device") },
			reqSpec{method: "POST", target: "/api/Backup/Execute"}, http.StatusServiceUnavailable, "",
			"Unable to start a job: record new job: write jobs.db: no space left on device"},
		{"get", func(f *fakeJobs) { f.getErr = errors.New("disk on fire") },
			reqSpec{method: "GET", target: "/api/Backup/Status?id=" + knownID}, http.StatusInternalServerError, knownID,
			"Internal error: get job " + knownID + ": disk on fire"},
		{"panic", func(f *fakeJobs) { f.panicGet = true },
			reqSpec{method: "GET", target: "/api/Backup/Jobs/" + knownID}, http.StatusInternalServerError, "",
			"Internal error: the request could not be handled."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeJobs()
			f.add(knownID, "Queued", "")
			tt.setup(f)
			var logBuf bytes.Buffer
			h := New(Options{Jobs: f, Logger: slog.New(slog.NewJSONHandler(&logBuf, nil))})
			w := do(h, tt.req)
			if w.Code != tt.code {
				t.Fatalf("code %d, want %d, body %s", w.Code, tt.code, w.Body)
			}
			if s := statusOf(t, w); s.Status != StatusError || s.Message != tt.prefix || s.ID != tt.id {
				t.Errorf("answer %+v, want Message %q", s, tt.prefix)
			}
			if !strings.Contains(logBuf.String(), `"level":"ERROR"`) {
				t.Errorf("no error logged: %s", logBuf.String())
			}
		})
	}
}
