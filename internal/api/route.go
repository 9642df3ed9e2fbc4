package api

import (
	"net/http"
	"path"
	"strings"
)

// Endpoint names a route; Authenticator implementations decide per endpoint.
type Endpoint string

// The endpoints of SPEC section 4.
const (
	EndpointRoot    Endpoint = "root"    // GET /api/
	EndpointExecute Endpoint = "execute" // POST /api/Backup/Execute
	EndpointStatus  Endpoint = "status"  // GET /api/Backup/Status
	EndpointCancel  Endpoint = "cancel"  // POST /api/Backup/Cancel
	EndpointJobs    Endpoint = "jobs"    // GET /api/Backup/Jobs
	EndpointJob     Endpoint = "job"     // GET /api/Backup/Jobs/{id}
	EndpointHealthz Endpoint = "healthz" // GET /healthz
	EndpointReadyz  Endpoint = "readyz"  // GET /readyz
	EndpointMetrics Endpoint = "metrics" // GET /metrics
	EndpointConsole Endpoint = "console" // "/" and below "/console/": Options.Console
)

// route is one entry of the routing table: a path as segments, matched
// ASCII-case-insensitively; a "*" segment captures one path segment as it was
// given (the job id of /api/Backup/Jobs/{id}).
type route struct {
	segments []string
	endpoint Endpoint
	method   string // GET routes also answer HEAD
	handle   func(s *server, w http.ResponseWriter, r *http.Request, param string)
}

var routes = []route{
	{[]string{"api"}, EndpointRoot, http.MethodGet, (*server).handleRoot},
	{[]string{"api", "backup", "execute"}, EndpointExecute, http.MethodPost, (*server).handleExecute},
	{[]string{"api", "backup", "status"}, EndpointStatus, http.MethodGet, (*server).handleStatus},
	{[]string{"api", "backup", "cancel"}, EndpointCancel, http.MethodPost, (*server).handleCancel},
	{[]string{"api", "backup", "jobs"}, EndpointJobs, http.MethodGet, (*server).handleJobs},
	{[]string{"api", "backup", "jobs", "*"}, EndpointJob, http.MethodGet, (*server).handleJob},
	{[]string{"healthz"}, EndpointHealthz, http.MethodGet, (*server).handleHealthz},
	{[]string{"readyz"}, EndpointReadyz, http.MethodGet, (*server).handleReadyz},
	{[]string{"metrics"}, EndpointMetrics, http.MethodGet, (*server).handleMetrics},
}

// match finds the route for a URL path. Duplicate slashes, "." and ".." are
// resolved and one trailing slash is ignored, so "/API/backup/status/" is
// "/api/Backup/Status".
func match(urlPath string) (*route, string) {
	clean := strings.Trim(path.Clean("/"+urlPath), "/")
	if clean == "" {
		return nil, ""
	}
	segs := strings.Split(clean, "/")
	for i := range routes {
		rt := &routes[i]
		if len(rt.segments) != len(segs) {
			continue
		}
		param, ok := "", true
		for j, want := range rt.segments {
			if want == "*" {
				param = segs[j]
				continue
			}
			if !asciiEqualFold(segs[j], want) {
				ok = false
				break
			}
		}
		if ok {
			return rt, param
		}
	}
	return nil, ""
}

// asciiEqualFold reports whether s equals the lower-case ASCII want, ignoring
// ASCII case only (no Unicode folding: "\u212a" is not "k" here).
func asciiEqualFold(s, want string) bool {
	if len(s) != len(want) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != want[i] {
			return false
		}
	}
	return true
}

func (rt *route) allows(method string) bool {
	return method == rt.method || (rt.method == http.MethodGet && method == http.MethodHead)
}

func (rt *route) allowHeader() string {
	if rt.method == http.MethodGet {
		return "GET, HEAD"
	}
	return rt.method
}

// route dispatches a request: unknown path 404, access control 401/403,
// wrong verb 405, declared oversized body 413, then the endpoint's handler
// with the body bounded.
func (s *server) route(w http.ResponseWriter, r *http.Request) {
	rt, param := match(r.URL.Path)
	if rt == nil {
		if s.opts.Console != nil && isConsolePath(r.URL.Path) {
			s.console(w, r)
			return
		}
		writeError(w, http.StatusNotFound, "", "No endpoint at "+cut(r.URL.Path, 256)+".")
		return
	}
	r, ok := s.authorize(w, r, rt.endpoint)
	if !ok {
		return
	}
	if !rt.allows(r.Method) {
		w.Header().Set("Allow", rt.allowHeader())
		writeError(w, http.StatusMethodNotAllowed, "",
			"Method "+cut(r.Method, 32)+" is not allowed here; use "+rt.method+".")
		return
	}
	if r.ContentLength > s.opts.MaxBodyBytes {
		writeTooLarge(w, s.opts.MaxBodyBytes)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes)
	rt.handle(s, w, r, param)
}

// isConsolePath reports whether p belongs to the console: the page at "/"
// and everything below "/console/".
func isConsolePath(p string) bool {
	return p == "/" || p == "/console" || strings.HasPrefix(p, "/console/")
}

// console hands a console request over after access control, its body
// bounded like every other.
func (s *server) console(w http.ResponseWriter, r *http.Request) {
	r, ok := s.authorize(w, r, EndpointConsole)
	if !ok {
		return
	}
	if r.ContentLength > s.opts.MaxBodyBytes {
		writeTooLarge(w, s.opts.MaxBodyBytes)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes)
	s.opts.Console.ServeHTTP(w, r)
}
