package jobs

import (
	"crypto/rand"
	"encoding/hex"
	"time"
)

// Status is the state of a job as the REST API reports it.
type Status string

// The statuses of SPEC section 4, spelled exactly as the API answers them.
const (
	StatusSuccess      Status = "Success"
	StatusQueued       Status = "Queued"
	StatusExecuting    Status = "Executing"
	StatusCanceled     Status = "Canceled"
	StatusLimitReached Status = "LimitReached"
	StatusError        Status = "Error"
)

// Terminal reports whether s is a final status: a job in it never changes again.
func (s Status) Terminal() bool {
	switch s {
	case StatusSuccess, StatusCanceled, StatusLimitReached, StatusError:
		return true
	}
	return false
}

// Job messages. Errors carry the work's own error text instead.
const (
	MsgQueued          = "Job was queued for execution."
	MsgExecuting       = "Job is executing."
	MsgSuccess         = "Job completed successfully."
	MsgLimitReached    = "Job was refused: the limit of active jobs was reached."
	MsgSkipped         = "Skipped: another backup job is still active."
	MsgCanceled        = "Job was canceled."
	MsgCancelRequested = "Cancellation requested."
	MsgStopped         = "The service was stopped."
	MsgInterrupted     = "Job was interrupted by a service restart."
)

// The phases the job system itself sets; the work reports the others
// (SPEC section 4: preflight, replication, snapshot, data, publish).
const (
	PhaseQueued = "queued" // recorded, not started
	PhaseDone   = "done"   // finished, whatever its status
)

// Job is the durable record of one job.
type Job struct {
	ID         string    `json:"id"`
	Status     Status    `json:"status"`
	Message    string    `json:"message"`
	Trigger    string    `json:"trigger"`
	Phase      string    `json:"phase,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	StartedAt  time.Time `json:"started_at,omitzero"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
	Progress   Progress  `json:"progress"`
	Result     Result    `json:"result"`
	// StartedBy and CanceledBy name who asked (a user or token of the access
	// control); "" when no credential was involved. See WithActor.
	StartedBy  string `json:"started_by,omitempty"`
	CanceledBy string `json:"canceled_by,omitempty"`
}

// Progress is what the work reports about how far it got, e.g. tables done of
// total and bytes written so far.
type Progress struct {
	Done  int   `json:"done"`
	Total int   `json:"total"`
	Bytes int64 `json:"bytes"`
}

// Result is what a successful work returns.
type Result struct {
	Artifact string `json:"artifact,omitempty"`
	Bytes    int64  `json:"bytes,omitempty"`
	SHA256   string `json:"sha256,omitempty"`
	// Copies are other places the artifact lives (off-site copies).
	Copies []string `json:"copies,omitempty"`
	// Message becomes the job's Message on success (MsgSuccess when empty);
	// it is stored there, not here.
	Message string `json:"-"`
}

// Update is a report from a running work. Nil fields are left unchanged.
type Update struct {
	Phase    *string
	Progress *Progress
	Message  *string
}

// PhaseUpdate, ProgressUpdate and MessageUpdate build the common one-field Updates.
func PhaseUpdate(phase string) Update { return Update{Phase: &phase} }

// ProgressUpdate reports progress only.
func ProgressUpdate(p Progress) Update { return Update{Progress: &p} }

// MessageUpdate reports a new message only.
func MessageUpdate(msg string) Update { return Update{Message: &msg} }

// NewID returns a fresh job id: 128 random bits as 32 lower-case hex characters.
func NewID() string {
	var b [16]byte
	// crypto/rand.Read never returns an error (it crashes the program if the
	// kernel's generator fails), so there is nothing to handle.
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// ValidID reports whether id has the form NewID produces: 32 lower-case hex
// characters. Callers accepting other spellings normalize before asking.
func ValidID(id string) bool {
	if len(id) != 32 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
