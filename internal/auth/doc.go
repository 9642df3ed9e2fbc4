// Package auth owns the credentials of SPEC section 8: HTTP Basic users
// (bcrypt hashes) and Bearer tokens (sha256 of the token), checked in
// constant time, with a per-client delay after failed attempts that slows
// guessing without ever refusing correct credentials.
//
// It decides who a request comes from, not what it may reach: the rule per
// endpoint is the API's (internal/api), which consumes a Verifier through an
// interface of its own. Nothing here logs a credential, a claimed user name
// (a password is sometimes typed there) or a hash.
package auth
