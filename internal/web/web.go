package web

import (
	"bytes"
	"context"
	"embed"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/hubble/hubble-applianceapi/internal/api"
	"github.com/hubble/hubble-applianceapi/internal/joblog"
	"github.com/hubble/hubble-applianceapi/internal/storage"
)

//go:embed static
var staticFiles embed.FS

// Options are what the console shows and acts on. Archives is required.
type Options struct {
	Archives storage.Target // backup_dir
	// Overview returns the state shown on the overview; ctx is the request's
	// (it names the signed-in user for the caller's Principal).
	Overview func(ctx context.Context) Overview
	// JobLog returns the kept log lines of a job; nil: none are kept.
	JobLog func(id string) (joblog.Log, bool)
	Logger *slog.Logger // nil: discarded
	// VerifyTimeout bounds one verification; 0: DefaultVerifyTimeout.
	VerifyTimeout time.Duration
}

// DefaultVerifyTimeout bounds one verification on demand: verify reads the
// whole archive, about a minute per few GB.
const DefaultVerifyTimeout = 2 * time.Hour

// Handler serves the console. Create it with New.
type Handler struct {
	opts   Options
	static http.Handler
	verify chan struct{} // one verification at a time: it is CPU- and IO-bound
}

// New returns the console's handler for "/" and everything below
// "/console/".
func New(opts Options) *Handler {
	if opts.Archives == nil {
		panic("web.New: Options.Archives is nil")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.VerifyTimeout <= 0 {
		opts.VerifyTimeout = DefaultVerifyTimeout
	}
	sub, err := fs.Sub(staticFiles, "static")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	return &Handler{
		opts:   opts,
		static: http.StripPrefix("/console/static/", http.FileServerFS(sub)),
		verify: make(chan struct{}, 1),
	}
}

// ServeHTTP routes a console request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	securityHeaders(w.Header())
	p := r.URL.Path
	switch {
	case p == "/" || p == "/console" || p == "/console/":
		if !method(w, r, http.MethodGet) {
			return
		}
		if p != "/" {
			http.Redirect(w, r, "/", http.StatusFound)
			return
		}
		h.page(w, r)
	case strings.HasPrefix(p, "/console/static/"):
		if !method(w, r, http.MethodGet) {
			return
		}
		w.Header().Set("Cache-Control", "no-cache")
		h.static.ServeHTTP(w, r)
	case p == "/console/api/overview":
		if method(w, r, http.MethodGet) {
			h.overview(w, r)
		}
	case p == "/console/api/archives":
		if method(w, r, http.MethodGet) {
			h.archives(w, r)
		}
	case strings.HasPrefix(p, "/console/archives/"):
		if method(w, r, http.MethodGet) {
			h.download(w, r, strings.TrimPrefix(p, "/console/archives/"))
		}
	case strings.HasPrefix(p, "/console/api/archives/") && strings.HasSuffix(p, "/verify"):
		if method(w, r, http.MethodPost) {
			h.verifyArchive(w, r, strings.TrimSuffix(strings.TrimPrefix(p, "/console/api/archives/"), "/verify"))
		}
	case strings.HasPrefix(p, "/console/api/jobs/") && strings.HasSuffix(p, "/log"):
		if method(w, r, http.MethodGet) {
			h.jobLog(w, strings.TrimSuffix(strings.TrimPrefix(p, "/console/api/jobs/"), "/log"))
		}
	default:
		writeError(w, http.StatusNotFound, "No console page at "+cutString(p, 256)+".")
	}
}

// page serves index.html without the file server's redirect of
// "/index.html" to "/".
func (h *Handler) page(w http.ResponseWriter, r *http.Request) {
	b, err := staticFiles.ReadFile("static/index.html")
	if err != nil {
		writeError(w, http.StatusInternalServerError, "Console page missing from the binary: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	http.ServeContent(w, r, "index.html", time.Time{}, bytes.NewReader(b))
}

// securityHeaders: the console runs only its own script and style, and is
// never framed (its buttons start and cancel jobs).
func securityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
		"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
}

// method answers 405 unless r uses want (GET also allows HEAD).
func method(w http.ResponseWriter, r *http.Request, want string) bool {
	if r.Method == want || (want == http.MethodGet && r.Method == http.MethodHead) {
		return true
	}
	allow := want
	if want == http.MethodGet {
		allow = "GET, HEAD"
	}
	w.Header().Set("Allow", allow)
	writeError(w, http.StatusMethodNotAllowed, "Method "+cutString(r.Method, 32)+" is not allowed here; use "+want+".")
	return false
}

func writeError(w http.ResponseWriter, code int, msg string) { api.WriteError(w, code, msg) }

func writeJSON(w http.ResponseWriter, code int, v any) { api.WriteJSON(w, code, v) }

func cutString(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
