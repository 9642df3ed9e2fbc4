package e2e

import (
	"os"
	"strings"
	"testing"
	"time"
)

// TestExecute_DatabaseUnreachable: a job that cannot reach the database
// ends Error with the SPEC message naming the DSN without its password; the
// password appears nowhere (answer, log file, stderr).
func TestExecute_DatabaseUnreachable(t *testing.T) {
	const secret = "S3cretPassw0rd"
	e := newEnv(t, options{})
	// Port 1 on loopback: nothing listens there, the connection is refused.
	s := e.start(t, "HUBBLE_DATABASE_DSN=postgres://hubble:"+secret+"@127.0.0.1:1/hubbledb?sslmode=disable&connect_timeout=5")
	job := s.execute(t)
	deadline := time.Now().Add(60 * time.Second)
	var got status
	for {
		got = s.status(t, job.ID)
		if got.Status != "Queued" && got.Status != "Executing" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("job still %s after 60 s", got.Status)
		}
		time.Sleep(pollInterval)
	}
	if got.Status != "Error" || !strings.HasPrefix(got.Message, "Unable to connect to the database: ") {
		t.Errorf("Status %+v, want Error with \"Unable to connect to the database: ...\"", got)
	}
	if !strings.Contains(got.Message, "127.0.0.1") {
		t.Errorf("message %q does not name the server", got.Message)
	}
	logText, err := os.ReadFile(e.logFile)
	if err != nil {
		t.Fatal(err)
	}
	for what, text := range map[string]string{"Message": got.Message, "log_file": string(logText), "stderr": s.log()} {
		if strings.Contains(text, secret) {
			t.Errorf("the password appears in %s", what)
		}
	}
	assertEmpty(t, e.tempDir)
	assertEmpty(t, e.backupDir)
}

// TestStop_Interrupt: SIGINT (Ctrl-C in a terminal) stops the service
// cleanly too, exit code 0.
func TestStop_Interrupt(t *testing.T) {
	e := newEnv(t, options{})
	s := e.start(t)
	if code := s.signal(t, os.Interrupt, 30*time.Second); code != 0 {
		t.Errorf("SIGINT: exit code %d, want 0\n%s", code, s.log())
	}
}
