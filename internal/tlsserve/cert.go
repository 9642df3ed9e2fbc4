package tlsserve

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"sync/atomic"
	"time"
)

// Certificate is the key pair the server presents. Reload replaces it
// atomically: handshakes already done keep the old one, later ones get the
// new one.
type Certificate struct {
	certFile, keyFile string
	cur               atomic.Pointer[tls.Certificate]
}

// Load reads the pair from certFile (PEM, the leaf first, then any
// intermediates) and keyFile (PEM).
func Load(certFile, keyFile string) (*Certificate, error) {
	c := &Certificate{certFile: certFile, keyFile: keyFile}
	if err := c.Reload(); err != nil {
		return nil, err
	}
	return c, nil
}

// Reload reads the files again. On any error the current pair stays in
// service and the error names the files.
func (c *Certificate) Reload() error {
	pair, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return fmt.Errorf("load tls certificate %s and key %s: %w", c.certFile, c.keyFile, err)
	}
	if pair.Leaf == nil {
		if pair.Leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return fmt.Errorf("parse tls certificate %s: %w", c.certFile, err)
		}
	}
	c.cur.Store(&pair)
	return nil
}

// Leaf is the certificate in service.
func (c *Certificate) Leaf() *x509.Certificate { return c.cur.Load().Leaf }

// Describe names the certificate in service for the log: subject, names,
// expiry.
func (c *Certificate) Describe() []any {
	l := c.Leaf()
	names := append([]string{}, l.DNSNames...)
	for _, ip := range l.IPAddresses {
		names = append(names, ip.String())
	}
	return []any{"subject", l.Subject.String(), "names", names, "not_after", l.NotAfter.UTC().Format(time.RFC3339),
		"serial", l.SerialNumber.Text(16)}
}

// Config is the server's TLS configuration: TLS 1.2 or later, the current
// pair at each handshake, HTTP/1.1.
func (c *Certificate) Config() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return c.cur.Load(), nil
		},
		NextProtos: []string{"http/1.1"},
	}
}
