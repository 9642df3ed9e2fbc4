package api

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Verifier checks the credentials a request carries: HTTP Basic users and
// Bearer tokens (internal/auth implements it). Verify returns the name of
// the user or token whose valid credentials r carries; ok is false when r
// carries none or wrong ones. It may wait before answering (the per-client
// delay after failed attempts).
type Verifier interface {
	Verify(r *http.Request) (name string, ok bool)
}

// The access refusals' messages.
const (
	MsgAuthRequired = "Authentication is required: send the credentials of a configured user (HTTP Basic) or token (Bearer)."
	MsgLoopbackOnly = "This endpoint answers local (loopback) clients only while no auth.users or auth.tokens are configured."
	MsgLocalName    = "This endpoint answers local clients that address it as localhost, by an IP address or by this machine's name only, while no auth.users or auth.tokens are configured."
	MsgCrossSite    = "Cross-site request refused: a request that changes something must come from this service's own pages or from a client that is not a browser."
)

// openWithCredentials are the endpoints anyone may reach once credentials
// are configured (SPEC section 8): what a browser or a monitor probes.
func openWithCredentials(e Endpoint) bool { return e == EndpointRoot || e == EndpointHealthz }

// openWithoutCredentials are the original's endpoints, open while no
// credential is configured: its clients send none.
func openWithoutCredentials(e Endpoint) bool {
	return e == EndpointRoot || e == EndpointExecute || e == EndpointStatus || e == EndpointCancel
}

// authorize applies SPEC section 8 to a request for endpoint e and answers a
// refusal itself. It returns the request carrying the principal (see
// Principal) and whether it may go on:
//   - a state-changing request from a browser on another origin: 403, before
//     any credential is looked at (a browser's stored Basic credentials must
//     not let another site act);
//   - credentials configured: every endpoint but GET /api/ and /healthz
//     needs valid ones (401 with the challenges otherwise);
//   - none configured: the original's endpoints are open, the rest answers
//     loopback clients only (403), and only when they address the service by
//     a name no other site can make point here (see localName).
func (s *server) authorize(w http.ResponseWriter, r *http.Request, e Endpoint) (*http.Request, bool) {
	if err := s.csrf.Check(r); err != nil {
		writeError(w, http.StatusForbidden, "", MsgCrossSite)
		return r, false
	}
	if s.opts.Credentials == nil {
		switch {
		case openWithoutCredentials(e):
			return r, true
		case !IsLoopback(r):
			writeError(w, http.StatusForbidden, "", MsgLoopbackOnly)
			return r, false
		case !s.localName(r.Host):
			writeError(w, http.StatusForbidden, "", MsgLocalName)
			return r, false
		}
		return r, true
	}
	if openWithCredentials(e) {
		return r, true
	}
	name, ok := s.opts.Credentials.Verify(r)
	if !ok {
		h := w.Header()
		h.Add("WWW-Authenticate", `Basic realm="`+ServiceName+`", charset="UTF-8"`)
		h.Add("WWW-Authenticate", `Bearer realm="`+ServiceName+`"`)
		writeError(w, http.StatusUnauthorized, "", MsgAuthRequired)
		return r, false
	}
	if p, _ := r.Context().Value(accessUserKey{}).(*string); p != nil {
		*p = name // for the access log line
	}
	return r.WithContext(WithPrincipal(r.Context(), name)), true
}

type (
	principalKey  struct{}
	accessUserKey struct{}
)

// WithPrincipal returns ctx naming the user or token a request was
// authenticated as.
func WithPrincipal(ctx context.Context, name string) context.Context {
	return context.WithValue(ctx, principalKey{}, name)
}

// Principal is the name of the user or token the request whose context this
// is was authenticated as; "" when no credential was checked (none is
// configured, or the endpoint is open).
func Principal(ctx context.Context) string {
	name, _ := ctx.Value(principalKey{}).(string)
	return name
}

// IsLoopback reports whether r came over a loopback address (127.0.0.0/8 or
// ::1, also IPv4-mapped). Forwarding headers are deliberately not trusted.
func IsLoopback(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	return addr.WithZone("").Unmap().IsLoopback()
}

// localName reports whether host (a request's Host, port included or not)
// is one only a local client uses: an IP address, localhost, or this
// machine's name. A loopback client that asked for any other name reached
// us through a name that some DNS points at 127.0.0.1: a web page doing DNS
// rebinding through a browser on the appliance, which must not read the job
// list or download archives.
func (s *server) localName(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(strings.Trim(host, "[]"), "."))
	if _, err := netip.ParseAddr(host); err == nil {
		return true
	}
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	first, _, _ := strings.Cut(host, ".")
	return s.hostname != "" && (host == s.hostname || first == s.hostname)
}
