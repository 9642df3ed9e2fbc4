package api

import (
	"errors"
	"net"
	"net/http"
	"net/netip"
)

// Errors an Authenticator wraps to refuse a request.
var (
	ErrUnauthorized = errors.New("credentials required") // answered 401 with a Basic challenge
	ErrForbidden    = errors.New("access forbidden")     // answered 403
)

// Authenticator decides whether r may reach endpoint e: nil allows it, an
// error wrapping ErrUnauthorized or ErrForbidden refuses it, any other error
// is an internal failure (500, fail closed). It is the seam for SPEC section
// 8's users and tokens; until they exist, NoCredentials is the rule.
type Authenticator interface {
	Authorize(r *http.Request, e Endpoint) error
}

// NoCredentials is SPEC section 8's rule with no users or tokens configured:
// GET /api/ and the three Backup endpoints of the original are open (its
// clients send no credentials); every other endpoint answers loopback
// clients only.
type NoCredentials struct{}

// Authorize implements Authenticator.
func (NoCredentials) Authorize(r *http.Request, e Endpoint) error {
	switch e {
	case EndpointRoot, EndpointExecute, EndpointStatus, EndpointCancel:
		return nil
	}
	if IsLoopback(r) {
		return nil
	}
	return ErrForbidden
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

// authorize applies the Authenticator and answers a refusal; it reports
// whether the request may go on.
func (s *server) authorize(w http.ResponseWriter, r *http.Request, e Endpoint) bool {
	err := s.opts.Auth.Authorize(r, e)
	switch {
	case err == nil:
		return true
	case errors.Is(err, ErrUnauthorized):
		w.Header().Set("WWW-Authenticate", `Basic realm="`+ServiceName+`", charset="UTF-8"`)
		writeError(w, http.StatusUnauthorized, "", "Authentication is required.")
	case errors.Is(err, ErrForbidden):
		msg := "Access is forbidden."
		if err == ErrForbidden { //nolint:errorlint // the bare sentinel is NoCredentials' loopback rule
			msg = "This endpoint answers local (loopback) clients only."
		}
		writeError(w, http.StatusForbidden, "", msg)
	default:
		s.internalError(w, r, "", "authorize request", err)
	}
	return false
}
