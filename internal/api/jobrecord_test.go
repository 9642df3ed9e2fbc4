package api

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestHandler_Job(t *testing.T) {
	f := newFakeJobs()
	start := time.Date(2026, 3, 1, 2, 0, 0, 0, time.FixedZone("CET", 3600))
	j := Job{ID: knownID, Status: "Success", Message: "done", Trigger: "schedule", Phase: "publish",
		CreatedAt: start.Add(-time.Second), StartedAt: start, FinishedAt: start.Add(90 * time.Second),
		Archive: "/import/dbbackup/hubble.tar.gz", Bytes: 12345, SHA256: "ab12", Copies: []string{"s3://b/appliance-01/hubble.tar.gz"},
		StartedBy: "admin"}
	j.Progress.Done, j.Progress.Total, j.Progress.Bytes = 7, 7, 99999
	f.jobs[knownID], f.order = j, []string{knownID}
	h := New(Options{Jobs: f, Logger: slog.New(slog.DiscardHandler)})

	w := do(h, reqSpec{method: "GET", target: "/api/Backup/Jobs/" + knownID})
	if w.Code != http.StatusOK {
		t.Fatalf("code %d: %s", w.Code, w.Body)
	}
	var got map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"id": knownID, "status": "Success", "message": "done", "trigger": "schedule", "phase": "publish",
		"created_at": "2026-03-01T00:59:59Z", "started_at": "2026-03-01T01:00:00Z", "finished_at": "2026-03-01T01:01:30Z",
		"duration_seconds": 90.0,
		"progress":         map[string]any{"tables_done": 7.0, "tables_total": 7.0, "bytes": 99999.0},
		"archive":          "/import/dbbackup/hubble.tar.gz", "bytes": 12345.0, "sha256": "ab12",
		"started_by": "admin", "canceled_by": "",
		"copies": []any{"s3://b/appliance-01/hubble.tar.gz"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("record (-want +got):\n%s", diff)
	}
}

func TestNewJobRecord_NotStarted(t *testing.T) {
	rec := NewJobRecord(Job{ID: knownID, Status: "Queued", CreatedAt: time.Unix(10, 0)}, time.Unix(20, 0))
	b, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"` + knownID + `","status":"Queued","message":"","trigger":"","phase":"","created_at":"1970-01-01T00:00:10Z","started_at":null,"finished_at":null,"duration_seconds":null,"progress":{"tables_done":0,"tables_total":0,"bytes":0},"archive":"","bytes":0,"sha256":"","started_by":"","canceled_by":"","copies":[]}`
	if string(b) != want {
		t.Errorf("record\n got %s\nwant %s", b, want)
	}
}

func TestHandler_Jobs(t *testing.T) {
	f := newFakeJobs()
	for range 60 {
		if _, err := f.Submit(t.Context(), "schedule"); err != nil {
			t.Fatal(err)
		}
	}
	h := New(Options{Jobs: f, Logger: slog.New(slog.DiscardHandler)})
	tests := []struct {
		target    string
		wantLimit int
		wantLen   int
	}{
		{"/api/Backup/Jobs", DefaultJobsLimit, 60},
		{"/api/Backup/Jobs?limit=100", 100, 60},
		{"/api/Backup/Jobs?limit=10", 10, 10},
		{"/api/backup/jobs/?LIMIT=1000", 1000, 60},
		{"/api/Backup/Jobs?limit=1", 1, 1},
	}
	for _, tt := range tests {
		w := do(h, reqSpec{method: "GET", target: tt.target})
		if w.Code != http.StatusOK {
			t.Fatalf("%s: code %d: %s", tt.target, w.Code, w.Body)
		}
		var list JobList
		if err := json.Unmarshal(w.Body.Bytes(), &list); err != nil {
			t.Fatalf("%s: %v", tt.target, err)
		}
		if f.lastLimit != tt.wantLimit || len(list.Jobs) != tt.wantLen {
			t.Errorf("%s: limit %d, %d jobs; want %d, %d", tt.target, f.lastLimit, len(list.Jobs), tt.wantLimit, tt.wantLen)
		}
		if list.Jobs[0].ID != f.order[len(f.order)-1] {
			t.Errorf("%s: first job %s is not the newest", tt.target, list.Jobs[0].ID)
		}
	}
	for _, bad := range []string{"limit=0", "limit=1001", "limit=x", "before=abc", "status=running"} {
		if w := do(h, reqSpec{method: "GET", target: "/api/Backup/Jobs?" + bad}); w.Code != http.StatusBadRequest {
			t.Errorf("?%s: code %d, want 400: %s", bad, w.Code, w.Body)
		}
	}
	if w := do(h, reqSpec{method: "GET", target: "/api/Backup/Jobs?before=" + unknownID}); w.Code != http.StatusNotFound {
		t.Errorf("?before= an unknown job: code %d, want 404", w.Code)
	}
	empty := New(Options{Jobs: newFakeJobs(), Logger: slog.New(slog.DiscardHandler)})
	if w := do(empty, reqSpec{method: "GET", target: "/api/Backup/Jobs"}); w.Body.String() != `{"jobs":[]}`+"\n" {
		t.Errorf("empty list = %s", w.Body)
	}
}

// Paging with ?before= walks every job once; filters reach the job system.
func TestHandler_JobsPaging(t *testing.T) {
	f := newFakeJobs()
	for i := range 25 {
		j, err := f.Submit(t.Context(), []string{"api", "schedule"}[i%2])
		if err != nil {
			t.Fatal(err)
		}
		if i%3 == 0 {
			f.jobs[j.ID] = Job{ID: j.ID, Status: "Error", Trigger: j.Trigger}
		}
	}
	h := New(Options{Jobs: f, Logger: slog.New(slog.DiscardHandler)})
	seen := map[string]bool{}
	target := "/api/Backup/Jobs?limit=10"
	for pages := 0; target != ""; pages++ {
		if pages > 3 {
			t.Fatal("more than 3 pages of 10 for 25 jobs")
		}
		w := do(h, reqSpec{method: "GET", target: target})
		var list JobList
		if err := json.Unmarshal(w.Body.Bytes(), &list); err != nil || w.Code != http.StatusOK {
			t.Fatalf("%s: %d %s", target, w.Code, w.Body)
		}
		for _, j := range list.Jobs {
			if seen[j.ID] {
				t.Fatalf("%s: job %s seen twice", target, j.ID)
			}
			seen[j.ID] = true
		}
		target = ""
		if list.NextBefore != "" {
			target = "/api/Backup/Jobs?limit=10&before=" + list.NextBefore
		}
	}
	if len(seen) != 25 {
		t.Errorf("pages held %d jobs, want 25", len(seen))
	}
	w := do(h, reqSpec{method: "GET", target: "/api/Backup/Jobs?status=error&trigger=Schedule"})
	var list JobList
	if err := json.Unmarshal(w.Body.Bytes(), &list); err != nil {
		t.Fatal(err)
	}
	if f.lastQuery.Status != "Error" || f.lastQuery.Trigger != "schedule" || len(list.Jobs) != 4 {
		t.Errorf("filtered query %+v gave %d jobs, want Error/schedule and 4", f.lastQuery, len(list.Jobs))
	}
	for _, j := range list.Jobs {
		if j.Status != "Error" || j.Trigger != "schedule" {
			t.Errorf("filtered list holds %s/%s", j.Status, j.Trigger)
		}
	}
}
