// Package tlsserve owns serving the API over HTTPS (SPEC section 8's tls
// block): the certificate and key pair, read again on demand (SIGHUP)
// without touching connections or jobs in flight, and a clear answer to a
// client that speaks plain HTTP to the HTTPS port.
package tlsserve
