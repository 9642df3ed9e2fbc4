package tlsserve

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/hubble/hubble-applianceapi/internal/testlog"
	"github.com/hubble/hubble-applianceapi/internal/tlsserve/certtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// serve runs an HTTPS server with the pair in dir and returns its address.
func serve(t *testing.T, cert *Certificate) (string, *testlog.Buffer) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var errs testlog.Buffer
	srv := &http.Server{
		Handler:  http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }),
		ErrorLog: log.New(&errs, "", 0),
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(NewListener(ln, cert.Config()))
	}()
	t.Cleanup(func() {
		srv.Close()
		<-done
	})
	return ln.Addr().String(), &errs
}

func TestCertificate_Reload(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	first := certtest.Write(t, certFile, keyFile, "first")
	cert, err := Load(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	addr, _ := serve(t, cert)
	if got := certtest.Presented(t, addr); !got.Equal(first) {
		t.Fatalf("presented %s, want the first certificate", got.Subject)
	}

	// A client with a connection open before the swap keeps using it.
	pool := x509.NewCertPool()
	pool.AddCert(first)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	defer client.CloseIdleConnections()
	get := func() error {
		resp, err := client.Get("https://" + addr + "/")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}
	if err := get(); err != nil {
		t.Fatal(err)
	}

	second := certtest.Write(t, certFile, keyFile, "second")
	if err := cert.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := certtest.Presented(t, addr); !got.Equal(second) {
		t.Fatalf("presented %s after Reload, want the second certificate", got.Subject)
	}
	if err := get(); err != nil {
		t.Errorf("the connection made before the swap: %v", err)
	}

	// A broken pair (the key of another certificate) is refused and the
	// second stays in service.
	other := t.TempDir()
	certtest.Write(t, filepath.Join(other, "c.pem"), keyFile, "third")
	err = cert.Reload()
	if err == nil || !strings.Contains(err.Error(), certFile) || !strings.Contains(err.Error(), keyFile) {
		t.Fatalf("Reload of a mismatched pair: %v, want an error naming both files", err)
	}
	if got := certtest.Presented(t, addr); !got.Equal(second) {
		t.Errorf("presented %s after a failed reload, want the second certificate", got.Subject)
	}
	if d := cert.Describe(); len(d) == 0 || d[1] != second.Subject.String() {
		t.Errorf("Describe = %v", d)
	}
}

func TestLoad_Missing(t *testing.T) {
	_, err := Load("/nonexistent/cert.pem", "/nonexistent/key.pem")
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/cert.pem") {
		t.Fatalf("Load of missing files: %v", err)
	}
}

// TestListener_PlainHTTP: plain HTTP on the HTTPS port is answered 400 with
// a message naming the https:// address, and TLS clients are unaffected.
func TestListener_PlainHTTP(t *testing.T) {
	dir := t.TempDir()
	certtest.Write(t, filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem"), "x")
	cert, err := Load(filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem"))
	if err != nil {
		t.Fatal(err)
	}
	addr, errs := serve(t, cert)
	tests := []struct {
		name, send, want string
	}{
		{"http request", "GET /api/Backup/Status?id=1 HTTP/1.1\r\nHost: " + addr + "\r\n\r\n",
			"Use https://" + addr + "/api/Backup/Status instead."},
		{"hostile host", "POST /api/Backup/Execute HTTP/1.1\r\nHost: <script>\r\nContent-Length: 0\r\n\r\n",
			"Use https://HOST:PORT/ instead."},
		{"not http at all", "hello\r\n\r\n", "Use https://HOST:PORT/ instead."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := io.WriteString(c, tt.send); err != nil {
				t.Fatal(err)
			}
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			want := `{"Id":"","Status":"Error","Message":"This port accepts HTTPS only: the request came as plain HTTP. ` + tt.want + `"}` + "\n"
			if resp.StatusCode != http.StatusBadRequest || string(body) != want {
				t.Errorf("answer %d %s\nwant 400 %s", resp.StatusCode, body, want)
			}
			if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
				t.Errorf("connection still open after the answer: %v", err)
			}
		})
	}
	certtest.Presented(t, addr) // TLS still works
	if !strings.Contains(errs.String(), ErrPlainHTTP.Error()) {
		t.Errorf("server error log %q lacks the plain HTTP refusal", errs.String())
	}
}
