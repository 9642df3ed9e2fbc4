package e2e

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestOriginalCommands drives the service with exactly the curl calls of the
// original's documentation and checks the answers byte by byte.
func TestOriginalCommands(t *testing.T) {
	e := newEnv(t, options{})
	s := e.start(t)

	// GET /api/ is what a browser shows.
	r := curl(t, s.base+"/api/")
	if r.code != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
		t.Fatalf("GET /api/: HTTP %d %s %s", r.code, r.header.Get("Content-Type"), r.body)
	}
	var root map[string]any
	if err := json.Unmarshal(r.body, &root); err != nil {
		t.Fatalf("GET /api/: %v: %s", err, r.body)
	}

	// curl -X POST -d "" http://127.0.0.1:PORT/api/Backup/Execute
	st := s.execute(t)
	if st.Status != "Queued" || st.Message != "Job was queued for execution." {
		t.Fatalf("Execute answered %+v, want Queued", st)
	}
	// The raw bytes, member order included.
	r = curl(t, s.base+"/api/Backup/Status?id="+st.ID)
	if !bytes.HasPrefix(r.body, []byte(`{"Id":"`+st.ID+`","Status":"`)) || !bytes.Contains(r.body, []byte(`","Message":"`)) {
		t.Fatalf("Status raw body %q", r.body)
	}

	// curl "http://127.0.0.1:PORT/api/Backup/Status?id=ID" until done.
	final, seen := s.waitStatus(t, st.ID, "Success", 60*time.Second)
	if final.ID != st.ID {
		t.Errorf("Status echoes Id %q, want %q", final.ID, st.ID)
	}
	if !contains(seen, "Executing") {
		t.Errorf("statuses seen %v, want Executing before Success", seen)
	}
	rec := s.record(t, st.ID)
	if rec.Archive == "" || filepath.Dir(rec.Archive) != e.backupDir {
		t.Fatalf("archive %q is not in backup_dir %s", rec.Archive, e.backupDir)
	}
	fi, err := os.Stat(rec.Archive)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() != rec.Bytes || !strings.HasSuffix(rec.Archive, ".tar.gz") {
		t.Errorf("archive %s: %d bytes, record says %d", rec.Archive, fi.Size(), rec.Bytes)
	}
	// Progress keeps what was copied once the job is over.
	if p := rec.Progress; p.TablesDone != p.TablesTotal || p.TablesTotal == 0 || p.Bytes <= 0 {
		t.Errorf("finished job's progress %+v, want every table done and the bytes copied", p)
	}
	if names := entries(t, e.backupDir); len(names) != 1 {
		t.Errorf("backup_dir holds %v, want only the archive", names)
	}
	assertEmpty(t, e.tempDir)

	// Every job event is in log_file with the job's id.
	logText, err := os.ReadFile(e.logFile)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(logText), st.ID); n < 2 {
		t.Errorf("log_file names job %s %d times, want its events", st.ID, n)
	}

	// curl -X POST ".../api/Backup/Cancel?id=ID" on a finished job: unchanged.
	if c := s.cancel(t, st.ID); c != final {
		t.Errorf("Cancel of a finished job answered %+v, want %+v", c, final)
	}
	if again := s.status(t, st.ID); again != final {
		t.Errorf("Status after Cancel %+v, want %+v", again, final)
	}

	// Paths are matched case-insensitively, with or without a trailing slash.
	for _, p := range []string{"/API/backup/status?id=", "/api/BACKUP/STATUS/?id=", "/Api/Backup/Status?id="} {
		r := curl(t, s.base+p+st.ID)
		if r.code != http.StatusOK || decodeStatus(t, r.body) != final {
			t.Errorf("GET %s: HTTP %d %s", p, r.code, r.body)
		}
	}
	// Hex digits in upper case name the same job; the answer echoes the id
	// as given.
	upper := strings.ToUpper(st.ID)
	r = curl(t, s.base+"/api/Backup/Status?id="+upper)
	if want := (status{ID: upper, Status: final.Status, Message: final.Message}); r.code != http.StatusOK || decodeStatus(t, r.body) != want {
		t.Errorf("Status with an upper-case id: HTTP %d %s, want %+v", r.code, r.body, want)
	}
	r = curl(t, "-X", "POST", "-d", "", s.base+"/API/BACKUP/CANCEL?id="+st.ID)
	if r.code != http.StatusOK || decodeStatus(t, r.body) != final {
		t.Errorf("POST /API/BACKUP/CANCEL: HTTP %d %s", r.code, r.body)
	}

	// The id may also come in a form or JSON body.
	r = curl(t, "-X", "POST", "-d", "id="+st.ID, s.base+"/api/Backup/Cancel")
	if r.code != http.StatusOK || decodeStatus(t, r.body) != final {
		t.Errorf("Cancel with a form body: HTTP %d %s", r.code, r.body)
	}
	r = curl(t, "-X", "POST", "-H", "Content-Type: application/json", "-d", `{"id": "`+st.ID+`"}`, s.base+"/api/Backup/Cancel")
	if r.code != http.StatusOK || decodeStatus(t, r.body) != final {
		t.Errorf("Cancel with a JSON body: HTTP %d %s", r.code, r.body)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
