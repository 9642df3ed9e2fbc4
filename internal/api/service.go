package api

import (
	"context"
	"net/http"
	"time"
)

// ServiceName is what GET /api/ answers as the service.
const ServiceName = "hubble-applianceapi"

// readyTimeout bounds one readiness check.
const readyTimeout = 5 * time.Second

// RootResponse is the answer of GET /api/ (what a browser shows).
type RootResponse struct {
	Service string     `json:"service"`
	Version string     `json:"version"`
	Status  string     `json:"status"`
	NextRun *time.Time `json:"next_run,omitempty"` // next scheduled backup, when known
}

// HealthResponse is the answer of /healthz and /readyz; Reason says why the
// service is not ready.
type HealthResponse struct {
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
}

func (s *server) handleRoot(w http.ResponseWriter, _ *http.Request, _ string) {
	resp := RootResponse{Service: ServiceName, Version: s.opts.Version, Status: "running"}
	if s.opts.NextRun != nil {
		resp.NextRun = utcOrNil(s.opts.NextRun())
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *server) handleHealthz(w http.ResponseWriter, _ *http.Request, _ string) {
	writeJSON(w, http.StatusOK, HealthResponse{Status: "ok"})
}

func (s *server) handleReadyz(w http.ResponseWriter, r *http.Request, _ string) {
	if s.opts.Ready != nil {
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		defer cancel()
		if err := s.opts.Ready.Ready(ctx); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, HealthResponse{Status: "not ready", Reason: err.Error()})
			return
		}
	}
	writeJSON(w, http.StatusOK, HealthResponse{Status: "ready"})
}

func (s *server) handleMetrics(w http.ResponseWriter, r *http.Request, _ string) {
	if s.opts.Metrics == nil {
		writeError(w, http.StatusNotFound, "", "Metrics are not enabled.")
		return
	}
	s.opts.Metrics.ServeHTTP(w, r)
}
