package web

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/hubble/hubble-applianceapi/internal/archive"
	"github.com/hubble/hubble-applianceapi/internal/joblog"
	"github.com/hubble/hubble-applianceapi/internal/storage/local"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	older = "hubble_schema_backup_2026_01_01_02_00_00.tar.gz"
	newer = "hubble_schema_backup_2026_01_02_02_00_00.tar.gz"
	twin  = "hubble_schema_backup_2026_01_02_02_00_00_2.tar.gz"
)

// writeArchive writes a small intact archive (one table) to path.
func writeArchive(t *testing.T, path string) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := archive.NewWriter(&buf, 1)
	if err != nil {
		t.Fatal(err)
	}
	rows := []byte("1\tone\n2\ttwo\n")
	ctx := context.Background()
	if err := w.AddDir(archive.DirDatabase); err != nil {
		t.Fatal(err)
	}
	f, err := w.AddBytes(ctx, archive.DirDatabase+"/t.hubble", rows)
	if err != nil {
		t.Fatal(err)
	}
	m := &archive.Manifest{
		Tool: "hubble-applianceapi", ToolVersion: "test", Engine: "postgresql",
		ServerVersion: "15.14", ClientVersion: "15.14", Database: "db", Schema: "hubble",
		SnapshotTime: time.Date(2026, 1, 2, 2, 0, 0, 0, time.UTC), CreatedTime: time.Date(2026, 1, 2, 2, 0, 1, 0, time.UTC),
		Tables: []archive.Table{{Name: archive.QualifiedName("hubble", "t"), Schema: "hubble", Table: "t", File: f.Path,
			Rows: 2, Bytes: f.Bytes, SHA256: f.SHA256}},
	}
	if err := w.Finish(ctx, m); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

type fixture struct {
	h    *Handler
	dir  string
	data []byte // the newest archive's bytes
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	dir := t.TempDir()
	writeArchive(t, filepath.Join(dir, older))
	data := writeArchive(t, filepath.Join(dir, twin))
	writeArchive(t, filepath.Join(dir, newer))
	for _, other := range []string{"notes.txt", ".partial-abc-123", "hubble_schema_backup_2026_13_01_00_00_00.tar.gz"} {
		if err := os.WriteFile(filepath.Join(dir, other), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	logs := joblog.New()
	lg := newLogger(logs)
	lg.Info("backup started", "job", strings.Repeat("a", 32), "schema", "hubble")
	h := New(Options{
		Archives: local.New(dir),
		Overview: func(context.Context) Overview {
			return Overview{Version: "1.2.3", Schema: "hubble", MinFreeMB: 10, StaleAfter: "36h", Stale: true}
		},
		JobLog: logs.Get,
	})
	return fixture{h: h, dir: dir, data: data}
}

func (f fixture) do(t *testing.T, method, target string) *httptest.ResponseRecorder {
	t.Helper()
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, httptest.NewRequest(method, target, nil))
	return w
}

func decode[T any](t *testing.T, w *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
		t.Fatalf("answer %d %q: %v", w.Code, w.Body, err)
	}
	return v
}

func TestHandler_Archives(t *testing.T) {
	f := newFixture(t)
	w := f.do(t, "GET", "/console/api/archives")
	if w.Code != http.StatusOK {
		t.Fatalf("code %d: %s", w.Code, w.Body)
	}
	list := decode[archiveList](t, w)
	var names []string
	for _, a := range list.Archives {
		names = append(names, a.Name)
		if a.Bytes <= 0 || a.Modified.IsZero() || a.Created.IsZero() {
			t.Errorf("entry %+v lacks size or times", a)
		}
	}
	if got, want := strings.Join(names, ","), twin+","+newer+","+older; got != want {
		t.Errorf("archives %s, want %s (newest first, nothing but archives)", got, want)
	}
}

func TestHandler_Download(t *testing.T) {
	f := newFixture(t)
	w := f.do(t, "GET", "/console/archives/"+twin)
	if w.Code != http.StatusOK || !bytes.Equal(w.Body.Bytes(), f.data) {
		t.Fatalf("download: code %d, %d bytes, want %d identical bytes", w.Code, w.Body.Len(), len(f.data))
	}
	hd := w.Header()
	if hd.Get("Content-Length") != strconv.Itoa(len(f.data)) || hd.Get("Content-Type") != "application/gzip" ||
		!strings.HasPrefix(hd.Get("Content-Disposition"), `attachment; filename="`+twin+`"`) {
		t.Errorf("headers %v", hd)
	}
	for _, bad := range []string{"notes.txt", ".partial-abc-123", "..%2fetc%2fpasswd", "hubble_schema_backup_2030_01_01_00_00_00.tar.gz"} {
		if w := f.do(t, "GET", "/console/archives/"+bad); w.Code != http.StatusNotFound {
			t.Errorf("download of %s: %d, want 404", bad, w.Code)
		}
	}
	if w := f.do(t, "HEAD", "/console/archives/"+older); w.Code != http.StatusOK || w.Body.Len() != 0 {
		t.Errorf("HEAD: %d with %d bytes", w.Code, w.Body.Len())
	}
}

func TestHandler_Verify(t *testing.T) {
	f := newFixture(t)
	w := f.do(t, "POST", "/console/api/archives/"+newer+"/verify")
	res := decode[VerifyResult](t, w)
	if w.Code != http.StatusOK || !res.Intact || res.Tables != 1 || len(res.Problems) != 0 ||
		!strings.HasPrefix(res.Message, "intact (1 tables, 2 files") {
		t.Fatalf("verify of an intact archive: %d %+v", w.Code, res)
	}

	// Damage the table data inside the compressed stream: the gzip CRC or the
	// checksum catches it.
	p := filepath.Join(f.dir, older)
	b, _ := os.ReadFile(p)
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	w = f.do(t, "POST", "/console/api/archives/"+older+"/verify")
	res = decode[VerifyResult](t, w)
	if w.Code != http.StatusOK || res.Intact || len(res.Problems) == 0 || !strings.HasPrefix(res.Message, "damaged: ") {
		t.Fatalf("verify of a damaged archive: %d %+v", w.Code, res)
	}
	if w := f.do(t, "GET", "/console/api/archives/"+newer+"/verify"); w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != "POST" {
		t.Errorf("GET verify: %d %v", w.Code, w.Header())
	}
	enc := strings.TrimSuffix(older, ".tar.gz") + "_3.tar.gz.age"
	if err := os.WriteFile(filepath.Join(f.dir, enc), []byte("age-encryption.org/v1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	w = f.do(t, "POST", "/console/api/archives/"+enc+"/verify")
	if res := decode[VerifyResult](t, w); !res.Encrypted || res.Intact || !strings.Contains(res.Message, "--identity") {
		t.Errorf("verify of an encrypted archive: %+v", res)
	}
	if w := f.do(t, "POST", "/console/api/archives/notes.txt/verify"); w.Code != http.StatusNotFound {
		t.Errorf("verify of a file that is no archive: %d", w.Code)
	}
}

func TestHandler_PageAndAssets(t *testing.T) {
	f := newFixture(t)
	w := f.do(t, "GET", "/")
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "<title>Hubble Backup console</title>") ||
		!strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") {
		t.Fatalf("page: %d %s", w.Code, w.Header())
	}
	if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("CSP %q", csp)
	}
	for _, asset := range []string{"app.js", "api.js", "dialog.js", "dom.js", "format.js", "jobs.js", "overview.js", "archives.js", "app.css", "favicon.svg"} {
		if w := f.do(t, "GET", "/console/static/"+asset); w.Code != http.StatusOK || w.Body.Len() == 0 {
			t.Errorf("%s: %d", asset, w.Code)
		}
	}
	// Every asset the page names is served, and nothing comes from elsewhere.
	for _, ref := range []string{`src="`, `href="`} {
		for _, part := range strings.Split(w.Body.String(), ref)[1:] {
			url := part[:strings.IndexByte(part, '"')]
			if strings.HasPrefix(url, "#") {
				continue
			}
			if !strings.HasPrefix(url, "/console/static/") {
				t.Errorf("the page loads %s", url)
			} else if w := f.do(t, "GET", url); w.Code != http.StatusOK {
				t.Errorf("%s: %d", url, w.Code)
			}
		}
	}
	if w := f.do(t, "GET", "/console/"); w.Code != http.StatusFound || w.Header().Get("Location") != "/" {
		t.Errorf("/console/: %d %v", w.Code, w.Header())
	}
	if w := f.do(t, "POST", "/"); w.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST /: %d", w.Code)
	}
	if w := f.do(t, "GET", "/console/nothing"); w.Code != http.StatusNotFound {
		t.Errorf("/console/nothing: %d", w.Code)
	}
}

func TestHandler_OverviewAndLog(t *testing.T) {
	f := newFixture(t)
	o := decode[Overview](t, f.do(t, "GET", "/console/api/overview"))
	if o.Version != "1.2.3" || !o.Stale || o.Now.IsZero() || o.Dirs == nil || o.Schedule == nil {
		t.Errorf("overview %+v", o)
	}
	id := strings.Repeat("a", 32)
	l := decode[jobLogResponse](t, f.do(t, "GET", "/console/api/jobs/"+strings.ToUpper(id)+"/log"))
	if !l.Kept || len(l.Lines) != 1 || l.Lines[0].Message != "backup started" || l.Lines[0].Attrs != "schema=hubble" {
		t.Errorf("log %+v", l)
	}
	l = decode[jobLogResponse](t, f.do(t, "GET", "/console/api/jobs/"+strings.Repeat("b", 32)+"/log"))
	if l.Kept || l.Lines == nil {
		t.Errorf("log of an unknown job %+v", l)
	}
	if w := f.do(t, "GET", "/console/api/jobs/xyz/log"); w.Code != http.StatusBadRequest {
		t.Errorf("bad id: %d", w.Code)
	}
}

func newLogger(b *joblog.Buffer) *slog.Logger {
	return slog.New(b.Handler(slog.NewTextHandler(io.Discard, nil)))
}
