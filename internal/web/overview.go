package web

import (
	"encoding/hex"
	"net/http"
	"strings"
	"time"

	"github.com/hubble/hubble-applianceapi/internal/joblog"
)

// Overview is the state of the service at a glance.
type Overview struct {
	Version        string     `json:"version"`
	Now            time.Time  `json:"now"`  // the server's clock, for ages
	User           string     `json:"user"` // signed-in user or token; "" without credentials
	AuthConfigured bool       `json:"auth_configured"`
	TLS            bool       `json:"tls"`
	Schema         string     `json:"schema"` // database.schema, what a backup takes
	Dirs           []Dir      `json:"dirs"`   // temp_dir, backup_dir
	MinFreeMB      int64      `json:"min_free_mb"`
	Schedule       []Schedule `json:"schedule"`
	NextRun        *time.Time `json:"next_run"`
	Retention      Retention  `json:"retention"`
	LastSuccess    *time.Time `json:"last_success"`
	StaleAfter     string     `json:"stale_after"` // "" when the alarm is not configured
	Stale          bool       `json:"stale"`       // the stale alarm is raised
	Queued         int        `json:"queued"`
	Executing      int        `json:"executing"`
	MaxConcurrent  int        `json:"max_concurrent_jobs"`
	MaxQueued      int        `json:"max_queued_jobs"`
}

// Dir is the free space of a directory the backup needs.
type Dir struct {
	Key       string  `json:"key"` // temp_dir or backup_dir
	Path      string  `json:"path"`
	FreeBytes *uint64 `json:"free_bytes"` // null when it could not be read
	Error     string  `json:"error"`      // why it could not be read
	BelowMin  bool    `json:"below_min"`  // less than min_free_mb: a backup would be refused
}

// Schedule is one entry of the built-in schedule.
type Schedule struct {
	Cron     string `json:"cron"`
	Timezone string `json:"timezone"`
}

// Retention are the rules applied after each successful backup.
type Retention struct {
	KeepLast int `json:"keep_last"`
	KeepDays int `json:"keep_days"`
}

func (h *Handler) overview(w http.ResponseWriter, r *http.Request) {
	var o Overview
	if h.opts.Overview != nil {
		o = h.opts.Overview(r.Context())
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	o.Now = o.Now.UTC()
	if o.Dirs == nil {
		o.Dirs = []Dir{}
	}
	if o.Schedule == nil {
		o.Schedule = []Schedule{}
	}
	writeJSON(w, http.StatusOK, o)
}

// jobLogResponse is a job's kept log lines. Kept is false when this run of
// the service holds none (an older job: see log_file).
type jobLogResponse struct {
	ID      string        `json:"id"`
	Kept    bool          `json:"kept"`
	Dropped int           `json:"dropped"`
	Lines   []joblog.Line `json:"lines"`
}

func (h *Handler) jobLog(w http.ResponseWriter, id string) {
	if !isHexID(id) {
		writeError(w, http.StatusBadRequest, "Parameter 'id' must be 32 hexadecimal characters.")
		return
	}
	id = strings.ToLower(id)
	resp := jobLogResponse{ID: id, Lines: []joblog.Line{}}
	if h.opts.JobLog != nil {
		l, ok := h.opts.JobLog(id)
		resp.Kept, resp.Dropped = ok, l.Dropped
		if l.Lines != nil {
			resp.Lines = l.Lines
		}
	}
	writeJSON(w, http.StatusOK, resp)
}

// isHexID reports whether s is a job id: 32 hexadecimal characters.
func isHexID(s string) bool {
	b, err := hex.DecodeString(s)
	return err == nil && len(b) == 16
}
