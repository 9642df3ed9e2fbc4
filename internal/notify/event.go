package notify

import (
	"encoding/json"
	"time"
)

// Event kinds.
const (
	EventJobFailed    = "job.failed"
	EventJobSucceeded = "job.succeeded"
	EventBackupStale  = "backup.stale"
	EventDrillFailed  = "drill.failed" // a scheduled restore drill failed
)

// Event is the JSON body POSTed to the webhook. Every member is always
// present so receivers need no special cases; times are RFC 3339 (UTC) or
// null when not known (a backup.stale event has no job).
type Event struct {
	Event      string    // EventJobFailed, EventJobSucceeded or EventBackupStale
	ID         string    // job id
	Status     string    // job status, e.g. "Error", "Success", "Canceled"
	Message    string    // the job's message (SPEC section 7 text on failure)
	Trigger    string    // what started the job, e.g. "api", "schedule"
	StartedAt  time.Time // zero: unknown
	FinishedAt time.Time // zero: unknown
	Archive    string    // archive path of a successful backup
	Bytes      int64     // archive size
	Host       string    // filled with the host name when empty
}

type wireEvent struct {
	Event      string     `json:"event"`
	ID         string     `json:"id"`
	Status     string     `json:"status"`
	Message    string     `json:"message"`
	Trigger    string     `json:"trigger"`
	StartedAt  *time.Time `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at"`
	Archive    string     `json:"archive"`
	Bytes      int64      `json:"bytes"`
	Host       string     `json:"host"`
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// MarshalJSON encodes the event with the wire names event, id, status,
// message, trigger, started_at, finished_at, archive, bytes and host.
func (e Event) MarshalJSON() ([]byte, error) {
	return json.Marshal(wireEvent{
		Event:      e.Event,
		ID:         e.ID,
		Status:     e.Status,
		Message:    e.Message,
		Trigger:    e.Trigger,
		StartedAt:  optTime(e.StartedAt),
		FinishedAt: optTime(e.FinishedAt),
		Archive:    e.Archive,
		Bytes:      e.Bytes,
		Host:       e.Host,
	})
}

// UnmarshalJSON decodes the wire form (used by receivers written in Go and
// by the tests).
func (e *Event) UnmarshalJSON(b []byte) error {
	var w wireEvent
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*e = Event{
		Event:   w.Event,
		ID:      w.ID,
		Status:  w.Status,
		Message: w.Message,
		Trigger: w.Trigger,
		Archive: w.Archive,
		Bytes:   w.Bytes,
		Host:    w.Host,
	}
	if w.StartedAt != nil {
		e.StartedAt = *w.StartedAt
	}
	if w.FinishedAt != nil {
		e.FinishedAt = *w.FinishedAt
	}
	return nil
}
