package api

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Limits of GET /api/Backup/Jobs?limit= (SPEC section 4).
const (
	DefaultJobsLimit = 100
	MaxJobsLimit     = 1000
)

// statuses are the SPEC section 4 statuses, for ?status=.
var statuses = []string{"Success", "Queued", "Executing", "Canceled", "LimitReached", "Error"}

// JobRecord is the full job record of GET /api/Backup/Jobs and
// GET /api/Backup/Jobs/{id}. Times are RFC 3339 in UTC, null when not (yet)
// reached; DurationSeconds is null until the job has started.
type JobRecord struct {
	ID              string         `json:"id"`
	Status          string         `json:"status"`
	Message         string         `json:"message"`
	Trigger         string         `json:"trigger"`
	Phase           string         `json:"phase"`
	CreatedAt       *time.Time     `json:"created_at"`
	StartedAt       *time.Time     `json:"started_at"`
	FinishedAt      *time.Time     `json:"finished_at"`
	DurationSeconds *float64       `json:"duration_seconds"`
	Progress        ProgressRecord `json:"progress"`
	Archive         string         `json:"archive"`
	Bytes           int64          `json:"bytes"`
	SHA256          string         `json:"sha256"`
	StartedBy       string         `json:"started_by"`  // user or token; "" without credentials
	CanceledBy      string         `json:"canceled_by"` // user or token that canceled it
	// Copies are the off-site copies of the archive (s3://bucket/key);
	// with Archive, everywhere the archive lives.
	Copies []string `json:"copies"`
}

// ProgressRecord is a job's progress: tables done of total, bytes written.
type ProgressRecord struct {
	TablesDone  int   `json:"tables_done"`
	TablesTotal int   `json:"tables_total"`
	Bytes       int64 `json:"bytes"`
}

// JobList is the answer of GET /api/Backup/Jobs, newest job first.
type JobList struct {
	Jobs []JobRecord `json:"jobs"`
	// NextBefore, when more jobs may follow, is the ?before= of the next page.
	NextBefore string     `json:"next_before,omitempty"`
	NextRun    *time.Time `json:"next_run,omitempty"` // next scheduled backup, when known
}

// NewJobRecord converts a Job to its JSON record; now ends the duration of a
// job still running.
func NewJobRecord(j Job, now time.Time) JobRecord {
	rec := JobRecord{
		ID: j.ID, Status: j.Status, Message: j.Message, Trigger: j.Trigger, Phase: j.Phase,
		CreatedAt: utcOrNil(j.CreatedAt), StartedAt: utcOrNil(j.StartedAt), FinishedAt: utcOrNil(j.FinishedAt),
		Progress: ProgressRecord{TablesDone: j.Progress.Done, TablesTotal: j.Progress.Total, Bytes: j.Progress.Bytes},
		Archive:  j.Archive, Bytes: j.Bytes, SHA256: j.SHA256, Copies: j.Copies,
		StartedBy: j.StartedBy, CanceledBy: j.CanceledBy,
	}
	if rec.Copies == nil {
		rec.Copies = []string{}
	}
	if !j.StartedAt.IsZero() {
		end := j.FinishedAt
		if end.IsZero() {
			end = now
		}
		d := max(end.Sub(j.StartedAt), 0).Seconds()
		rec.DurationSeconds = &d
	}
	return rec
}

func utcOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// handleJobs answers GET /api/Backup/Jobs?limit=N&before=ID&status=S&trigger=T.
func (s *server) handleJobs(w http.ResponseWriter, r *http.Request, _ string) {
	q, rerr := listQuery(r)
	if rerr != nil {
		rerr.write(w, s.opts.MaxBodyBytes)
		return
	}
	jobs, err := s.opts.Jobs.List(r.Context(), q)
	switch {
	case errors.Is(err, ErrNotFound):
		writeError(w, http.StatusNotFound, q.Before, MsgNotFound)
		return
	case err != nil:
		s.internalError(w, r, "", "list jobs", err)
		return
	}
	now := time.Now()
	list := JobList{Jobs: make([]JobRecord, 0, len(jobs))}
	if s.opts.NextRun != nil {
		list.NextRun = utcOrNil(s.opts.NextRun())
	}
	for _, j := range jobs {
		list.Jobs = append(list.Jobs, NewJobRecord(j, now))
	}
	if len(jobs) == q.Limit {
		list.NextBefore = jobs[len(jobs)-1].ID
	}
	writeJSON(w, http.StatusOK, list)
}

// listQuery reads the parameters of GET /api/Backup/Jobs.
func listQuery(r *http.Request) (ListQuery, *requestError) {
	v := r.URL.Query()
	q := ListQuery{Limit: DefaultJobsLimit}
	if s := strings.TrimSpace(valueFold(v, "limit")); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxJobsLimit {
			return q, badRequest("", "Parameter 'limit' must be a whole number from 1 to "+strconv.Itoa(MaxJobsLimit)+".")
		}
		q.Limit = n
	}
	if s := strings.TrimSpace(valueFold(v, "before")); s != "" {
		if !isHexID(s) {
			return q, badRequest(cut(s, maxIDEcho), "Parameter 'before' must be 32 hexadecimal characters.")
		}
		q.Before = strings.ToLower(s)
	}
	if s := strings.TrimSpace(valueFold(v, "status")); s != "" {
		i := slices.IndexFunc(statuses, func(st string) bool { return strings.EqualFold(st, s) })
		if i < 0 {
			return q, badRequest("", "Parameter 'status' must be one of "+strings.Join(statuses, ", ")+".")
		}
		q.Status = statuses[i]
	}
	q.Trigger = strings.ToLower(strings.TrimSpace(valueFold(v, "trigger")))
	return q, nil
}

// handleJob answers GET /api/Backup/Jobs/{id}.
func (s *server) handleJob(w http.ResponseWriter, r *http.Request, given string) {
	if !isHexID(given) {
		writeError(w, http.StatusBadRequest, cut(given, maxIDEcho), MsgIDFormat)
		return
	}
	id := strings.ToLower(given)
	job, err := s.opts.Jobs.Get(r.Context(), id)
	switch {
	case errors.Is(err, ErrNotFound):
		writeError(w, http.StatusNotFound, given, MsgNotFound)
	case err != nil:
		s.internalError(w, r, given, "get job "+id, err)
	default:
		writeJSON(w, http.StatusOK, NewJobRecord(job, time.Now()))
	}
}
