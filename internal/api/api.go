package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"
)

// ErrNotFound is wrapped by Jobs.Get and Jobs.Cancel when no job has the id.
var ErrNotFound = errors.New("job not found")

// Job is the view of a job record the HTTP layer needs. Status is one of the
// SPEC section 4 names (Success, Queued, Executing, Canceled, LimitReached,
// Error); zero times mean "not yet".
type Job struct {
	ID, Status, Message, Trigger, Phase string
	CreatedAt, StartedAt, FinishedAt    time.Time
	Progress                            struct {
		Done, Total int
		Bytes       int64
	}
	Archive string
	Bytes   int64
	SHA256  string
	// StartedBy and CanceledBy name the user or token that started and
	// canceled the job ("" when no credential was involved).
	StartedBy, CanceledBy string
	// Copies are where the archive's off-site copies live (s3://...).
	Copies []string
}

// Jobs is the job system as the API consumes it. Every method is safe for
// concurrent use. Get and Cancel return an error wrapping ErrNotFound for an
// unknown id; ids are passed lower-cased. Submit and Cancel find who asks in
// their context (Principal).
type Jobs interface {
	Submit(ctx context.Context, trigger string) (Job, error)
	Get(ctx context.Context, id string) (Job, error)
	Cancel(ctx context.Context, id string) (Job, error)
	List(ctx context.Context, q ListQuery) ([]Job, error)
}

// ListQuery selects jobs for Jobs.List, newest first: at most Limit, older
// than the job Before (an unknown id wraps ErrNotFound), with Status and
// Trigger when set.
type ListQuery struct {
	Limit           int
	Before          string
	Status, Trigger string
}

// Checker answers /readyz: nil when the database is reachable and the
// directories are writable, otherwise the reason.
type Checker interface {
	Ready(ctx context.Context) error
}

// TriggerAPI is the trigger recorded for jobs started by POST /api/Backup/Execute.
const TriggerAPI = "api"

// Options configures New. Jobs is required; everything else may be left zero.
type Options struct {
	Jobs    Jobs
	Ready   Checker      // nil: /readyz always answers ready
	Version string       // shown by GET /api/
	Logger  *slog.Logger // access log and panics; nil: slog.Default()
	// Metrics serves GET /metrics (see MetricsHandler); nil: /metrics answers 404.
	Metrics http.Handler
	// NextRun returns the scheduler's next run (zero if none); may be nil.
	NextRun func() time.Time
	// Credentials checks users and tokens (SPEC section 8); nil: none is
	// configured, so the original's endpoints are open and the others answer
	// loopback clients only.
	Credentials Verifier
	// Hostname is this machine's name, which local clients may use to address
	// the loopback-only endpoints; "": os.Hostname().
	Hostname string
	// Console serves the web console at "/" and below "/console/", behind
	// the same access control as every other endpoint; nil: those paths 404.
	Console http.Handler
	// MaxBodyBytes bounds request bodies; 0: DefaultMaxBodyBytes.
	MaxBodyBytes int64
}

// DefaultMaxBodyBytes is the request body limit when Options.MaxBodyBytes is 0.
const DefaultMaxBodyBytes = 64 << 10

// New returns the handler serving every endpoint of SPEC section 4 (and the
// console, when given) behind panic recovery, access logging and access
// control. It panics if opts.Jobs
// is nil, a programming error.
func New(opts Options) http.Handler {
	if opts.Jobs == nil {
		panic("api.New: Options.Jobs is nil")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	s := &server{opts: opts, csrf: http.NewCrossOriginProtection(), hostname: opts.Hostname}
	if s.hostname == "" {
		s.hostname, _ = os.Hostname()
	}
	s.hostname, _, _ = strings.Cut(strings.ToLower(s.hostname), ".")
	return s.accessLog(s.recoverPanics(http.HandlerFunc(s.route)))
}

// NewServer returns an http.Server for h on addr with timeouts that keep slow
// or idle clients from holding connections. WriteTimeout leaves room for a
// Cancel that waits up to 10 s for a job to stop.
func NewServer(addr string, h http.Handler) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
}

type server struct {
	opts     Options
	csrf     *http.CrossOriginProtection
	hostname string // this machine's name, lower case, first label
}
