package etc_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// checkLogrotate rotates the running service's log_file twice with the
// installed rule (its path and postrotate pointed at this test's service):
// the rule is valid, the service reopens log_file on the SIGHUP, and older
// weeks are compressed. The job's lines end in the compressed file.
func checkLogrotate(t *testing.T, logFile string, pid int, jobID string) {
	t.Helper()
	installed, err := os.ReadFile(logrotatePath)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	if out, err := runErr("", nil, "logrotate", "--debug", "--state", state, logrotatePath); err != nil || strings.Contains(out, "error:") {
		t.Fatalf("logrotate --debug %s: %v\n%s", logrotatePath, err, out)
	}
	const paths = "/tmp/ybapi.log /var/log/hubble-applianceapi/*.log {"
	const post = "systemctl kill --kill-whom=main --signal=HUP hubble-applianceapi.service >/dev/null 2>&1 || true"
	if !strings.Contains(string(installed), paths) || !strings.Contains(string(installed), post) {
		t.Fatalf("%s does not rotate the default log_file or signal the service:\n%s", logrotatePath, installed)
	}
	rule := strings.Replace(string(installed), paths, logFile+" {", 1)
	rule = strings.Replace(rule, post, "kill -HUP "+strconv.Itoa(pid), 1)
	ruleFile := filepath.Join(dir, "rule")
	if err := os.WriteFile(ruleFile, []byte(rule), 0o644); err != nil {
		t.Fatal(err)
	}
	for week := 1; week <= 2; week++ {
		if out, err := runErr("", nil, "logrotate", "--force", "--state", state, ruleFile); err != nil || strings.Contains(out, "error:") {
			t.Fatalf("logrotate (week %d): %v\n%s", week, err, out)
		}
		// The service reopened log_file: its reload lines are in the new one.
		deadline := time.Now().Add(10 * time.Second)
		for {
			b, _ := os.ReadFile(logFile)
			if strings.Contains(string(b), `msg=reloaded what=log_file`) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("week %d: the service did not reopen %s after SIGHUP:\n%s", week, logFile, b)
			}
			time.Sleep(50 * time.Millisecond) // polling the service's log
		}
	}
	if fi, err := os.Stat(logFile); err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("new log_file: %v, %v; want mode 0640", fi, err)
	}
	if _, err := os.Stat(logFile + ".1"); err != nil {
		t.Errorf("last week's log (delaycompress) not kept: %v", err)
	}
	out, err := exec.Command("gzip", "-dc", logFile+".2.gz").Output()
	if err != nil {
		t.Fatalf("the older week is not a compressed %s.2.gz: %v", logFile, err)
	}
	if !strings.Contains(string(out), jobID) {
		t.Errorf("the rotated logs do not name job %s", jobID)
	}
}
