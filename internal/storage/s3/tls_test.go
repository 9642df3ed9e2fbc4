package s3

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hubble/hubble-applianceapi/internal/s3test"
)

// writeCA makes a private CA and a certificate it signs for 127.0.0.1, and
// returns the files: CA certificate, server certificate, server key.
func writeCA(t *testing.T, dir string) (caFile, certFile, keyFile string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "hubble test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature}
	parent, _ := x509.ParseCertificate(caDER)
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, parent, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return write("ca.pem", "CERTIFICATE", caDER), write("cert.pem", "CERTIFICATE", leafDER), write("key.pem", "EC PRIVATE KEY", keyDER)
}

// TestTarget_PrivateCA: an HTTPS endpoint whose certificate a private CA
// signed works with ca_file, and is refused without it.
func TestTarget_PrivateCA(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	caFile, certFile, keyFile := writeCA(t, dir)
	srv, err := s3test.StartTLS(ctx, filepath.Join(dir, "s3"), certFile, keyFile, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	bucket, err := srv.Bucket(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Name: "tls", Endpoint: "https://" + srv.TLSEndpoint, Bucket: bucket, Prefix: "p/",
		AccessKey: srv.AccessKey, SecretKey: srv.SecretKey, PathStyle: true, MarkDir: t.TempDir(), MaxRetries: 1}
	untrusted, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := untrusted.List(ctx); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("List without ca_file = %v, want a certificate error", err)
	}
	cfg.CAFile = caFile
	tg, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	o, err := tg.Create(ctx, "j", func(int) string { return "a.tar.gz" })
	if err != nil {
		t.Fatal(err)
	}
	o.Write([]byte("over TLS"))
	if _, err := o.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if l, err := tg.List(ctx); err != nil || len(l) != 1 {
		t.Errorf("List over TLS = %v, %v", l, err)
	}
}
