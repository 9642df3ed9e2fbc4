// Package api owns the HTTP face of the Hubble Backup API: routing (paths
// matched case-insensitively, with or without a trailing slash), request
// parsing (the job id from the query string, a form body or a JSON body), the
// exact response shapes of SPEC section 4, access control (SPEC section 8:
// who may reach which endpoint, and the refusal of cross-origin requests
// that change something), access logging, and the Prometheus metrics of the
// job system. The web console is mounted here as a plain http.Handler, behind
// the same access control.
//
// It talks to the job system only through the narrow Jobs interface declared
// here, and checks credentials through the Verifier interface declared here,
// so it imports no other internal package; the composition root adapts the
// job manager and internal/auth to them.
package api
