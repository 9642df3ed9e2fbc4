package e2e

import (
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hubble/hubble-applianceapi/internal/tlsserve/certtest"
)

// TestTLS_ReloadWhileJobRuns: the service serves HTTPS with a test
// certificate; a SIGHUP makes it present a new one (curl trusting only the
// new one then succeeds, trusting only the old one fails) while a backup
// keeps running to Success; a broken pair on a later SIGHUP leaves the
// certificate in service; plain HTTP on the port gets a clear 400. Job
// records name who started and who canceled them.
func TestTLS_ReloadWhileJobRuns(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	first := certtest.Write(t, certFile, keyFile, "first")
	firstCA := filepath.Join(dir, "first-ca.pem")
	copyFile(t, certFile, firstCA)

	e := newEnv(t, options{extra: authYAML(t) + fmt.Sprintf("tls:\n  cert_file: %q\n  key_file: %q\n", certFile, keyFile),
		replEnv: map[string]string{"REPCTL_SLEEP": "4"}})
	s := e.startWith(t, startOptions{https: true})
	addr := strings.TrimPrefix(s.base, "https://")
	s.curlArgs = []string{"--cacert", firstCA, "-u", "admin:" + adminPassword}
	if got := certtest.Presented(t, addr); !got.Equal(first) {
		t.Fatalf("presents %s, want the first certificate", got.Subject)
	}

	job := s.execute(t)
	s.waitPhase(t, job.ID, "replication", 30*time.Second)

	second := certtest.Write(t, certFile, keyFile, "second")
	secondCA := filepath.Join(dir, "second-ca.pem")
	copyFile(t, certFile, secondCA)
	if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitPresented(t, addr, second, 10*time.Second)
	if r, err := tryCurl("--cacert", firstCA, s.base+"/api/"); err == nil {
		t.Errorf("curl trusting only the old certificate got HTTP %d", r.code)
	}
	s.curlArgs[1] = secondCA
	if got := s.status(t, job.ID); got.Status != "Executing" {
		t.Fatalf("the job is %s right after the reload, want Executing still", got.Status)
	}
	if final, seen := s.waitStatus(t, job.ID, "Success", 60*time.Second); final.Message == "" {
		t.Errorf("no message; seen %v", seen)
	}

	// A broken pair (a certificate without its key) is refused; the second
	// certificate stays in service.
	certtest.Write(t, certFile, filepath.Join(dir, "other-key.pem"), "third")
	if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitLog(t, s, "reload failed: the previous one stays in service", 10*time.Second)
	if got := certtest.Presented(t, addr); !got.Equal(second) {
		t.Errorf("presents %s after a failed reload, want the second certificate", got.Subject)
	}

	// Plain HTTP on the HTTPS port.
	r := curl(t, "http://"+addr+"/api/Backup/Status?id="+job.ID)
	want := "This port accepts HTTPS only: the request came as plain HTTP. Use https://" + addr + "/api/Backup/Status instead."
	if st := decodeStatus(t, r.body); r.code != http.StatusBadRequest || st.Message != want {
		t.Errorf("plain HTTP: HTTP %d %+v, want 400 %q", r.code, st, want)
	}

	// Who started and who canceled: a job started with the token and
	// canceled by the user.
	s.curlArgs = []string{"--cacert", secondCA, "-H", "Authorization: Bearer " + tokenValue}
	byToken := s.execute(t)
	s.waitPhase(t, byToken.ID, "replication", 30*time.Second)
	s.curlArgs = []string{"--cacert", secondCA, "-u", "admin:" + adminPassword}
	if got := s.cancel(t, byToken.ID); got.Status != "Canceled" {
		t.Fatalf("cancel: %+v", got)
	}
	who := func(id string) (string, string) {
		var rec struct {
			StartedBy  string `json:"started_by"`
			CanceledBy string `json:"canceled_by"`
		}
		r := curl(t, s.req(s.base+"/api/Backup/Jobs/"+id)...)
		if err := json.Unmarshal(r.body, &rec); err != nil {
			t.Fatal(err)
		}
		return rec.StartedBy, rec.CanceledBy
	}
	if by, cb := who(job.ID); by != "admin" || cb != "" {
		t.Errorf("job 1: started by %q, canceled by %q; want admin, nobody", by, cb)
	}
	if by, cb := who(byToken.ID); by != "nightly" || cb != "admin" {
		t.Errorf("job 2: started by %q, canceled by %q; want nightly, admin", by, cb)
	}
}

func waitPresented(t *testing.T, addr string, want *x509.Certificate, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		got := certtest.Presented(t, addr)
		if got.Equal(want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still presents %s %v after SIGHUP, want %s", got.Subject.CommonName, within, want.Subject.CommonName)
		}
		time.Sleep(pollInterval)
	}
}

func waitLog(t *testing.T, s *service, text string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !strings.Contains(s.log(), text) {
		if time.Now().After(deadline) {
			t.Fatalf("the log lacks %q after %v", text, within)
		}
		time.Sleep(pollInterval)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
