package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestHealthReadyMetrics: the operational endpoints answer loopback
// clients; after a job the metrics count it.
func TestHealthReadyMetrics(t *testing.T) {
	e := newEnv(t, options{})
	s := e.start(t)

	if r := curl(t, s.base+"/healthz"); r.code != http.StatusOK {
		t.Errorf("/healthz: HTTP %d %s", r.code, r.body)
	}
	if r := curl(t, s.base+"/readyz"); r.code != http.StatusOK {
		t.Errorf("/readyz: HTTP %d %s", r.code, r.body)
	}

	job := s.execute(t)
	s.waitStatus(t, job.ID, "Success", 60*time.Second)

	r := curl(t, s.base+"/metrics")
	if r.code != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain") {
		t.Fatalf("/metrics: HTTP %d %s", r.code, r.header.Get("Content-Type"))
	}
	text := string(r.body)
	for _, want := range []string{"hubble_backup_jobs_total", `status="Success"`} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	r = curl(t, s.base+"/api/Backup/Jobs?limit=5")
	var list struct {
		Jobs []record `json:"jobs"`
	}
	if r.code != http.StatusOK {
		t.Fatalf("/api/Backup/Jobs: HTTP %d %s", r.code, r.body)
	}
	if err := json.Unmarshal(r.body, &list); err != nil {
		t.Fatalf("/api/Backup/Jobs: %v: %s", err, r.body)
	}
	if len(list.Jobs) != 1 || list.Jobs[0].ID != job.ID || list.Jobs[0].Status != "Success" {
		t.Errorf("/api/Backup/Jobs: %+v, want the one successful job", list.Jobs)
	}

	// /readyz tells when backup_dir has gone (an unmounted share).
	e2 := newEnv(t, options{backupDir: t.TempDir() + "/gone"})
	s2 := e2.start(t)
	if r := curl(t, s2.base+"/readyz"); r.code != http.StatusServiceUnavailable || !json.Valid(r.body) {
		t.Errorf("/readyz without backup_dir: HTTP %d %s, want 503 with a JSON body", r.code, r.body)
	}
}
