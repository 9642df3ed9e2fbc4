package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"
)

// submitTimeout bounds Execute's synchronous part (recording the job and the
// cheap pre-flight checks).
const submitTimeout = 30 * time.Second

// handleExecute starts a job: POST /api/Backup/Execute. The body may be
// empty; a non-empty one must still be well-formed.
func (s *server) handleExecute(w http.ResponseWriter, r *http.Request, _ string) {
	if _, rerr := bodyParams(r); rerr != nil {
		rerr.write(w, s.opts.MaxBodyBytes)
		return
	}
	// A client hanging up must not leave a half-recorded job behind.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), submitTimeout)
	defer cancel()
	job, err := s.opts.Jobs.Submit(ctx, TriggerAPI)
	if err != nil {
		// The job system could not record the job (state_dir full or
		// failing, the service stopping): nothing was started, and a retry
		// may succeed. SPEC section 4: 503, never 500.
		s.opts.Logger.LogAttrs(r.Context(), slog.LevelError, "request failed",
			slog.String("what", "submit job"), slog.String("error", err.Error()),
			slog.String("method", r.Method), slog.String("path", r.URL.Path))
		writeError(w, http.StatusServiceUnavailable, "", MsgUnableToStart+err.Error())
		return
	}
	writeStatus(w, http.StatusOK, job.ID, job.Status, job.Message)
}

// handleStatus answers GET /api/Backup/Status?id=ID.
func (s *server) handleStatus(w http.ResponseWriter, r *http.Request, _ string) {
	s.jobAction(w, r, "get job", s.opts.Jobs.Get)
}

// handleCancel answers POST /api/Backup/Cancel?id=ID once the job has
// stopped or the job system gave up waiting.
func (s *server) handleCancel(w http.ResponseWriter, r *http.Request, _ string) {
	s.jobAction(w, r, "cancel job", s.opts.Jobs.Cancel)
}

func (s *server) jobAction(w http.ResponseWriter, r *http.Request, what string,
	act func(context.Context, string) (Job, error)) {
	given, id, rerr := jobID(r)
	if rerr != nil {
		rerr.write(w, s.opts.MaxBodyBytes)
		return
	}
	job, err := act(r.Context(), id)
	switch {
	case errors.Is(err, ErrNotFound):
		writeError(w, http.StatusNotFound, given, MsgNotFound)
	case err != nil:
		s.internalError(w, r, given, what+" "+id, err)
	default:
		// SPEC: Status and Cancel echo the id as the client gave it.
		writeStatus(w, http.StatusOK, given, job.Status, job.Message)
	}
}

// internalError logs err and answers 500 with its text: SPEC section 7 wants
// the precise reason in Message, and job-system errors carry no secrets.
func (s *server) internalError(w http.ResponseWriter, r *http.Request, id, what string, err error) {
	s.opts.Logger.LogAttrs(r.Context(), slog.LevelError, "request failed",
		slog.String("what", what), slog.String("error", err.Error()),
		slog.String("method", r.Method), slog.String("path", r.URL.Path))
	writeError(w, http.StatusInternalServerError, id, "Internal error: "+what+": "+err.Error())
}
