package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// reply is one HTTP answer as curl saw it.
type reply struct {
	code   int
	header http.Header
	body   []byte
}

// curl runs the real curl binary with args (the URL among them) and parses
// its -i output. It fails the test when curl itself fails.
func curl(t testing.TB, args ...string) reply {
	t.Helper()
	r, err := tryCurl(args...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// curlError is curl's failure: its exit code and what it said.
type curlError struct {
	args   []string
	code   int
	stderr string
	err    error
}

func (e *curlError) Error() string {
	return fmt.Sprintf("curl %s: %v %s", strings.Join(e.args, " "), e.err, e.stderr)
}

// tryCurl is curl that returns curl's failure (*curlError) instead.
func tryCurl(args ...string) (reply, error) { return tryCurlVia(nil, args...) }

// tryCurlVia is tryCurl with curl started by the command prefix (e.g.
// nsenter into a network namespace); nil runs curl itself.
func tryCurlVia(prefix []string, args ...string) (reply, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	full := append(append(append([]string{}, prefix...), "curl", "-sS", "-i", "--max-time", "25"), args...)
	out, err := exec.CommandContext(ctx, full[0], full[1:]...).Output()
	if err != nil {
		ce := &curlError{args: args, code: -1, err: err}
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			ce.code, ce.stderr = ee.ExitCode(), string(ee.Stderr)
		}
		return reply{}, ce
	}
	r, err := parseReply(out)
	if err != nil {
		return reply{}, fmt.Errorf("curl %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return r, nil
}

// parseReply splits curl -i output into status, headers and body, skipping
// interim 1xx answers.
func parseReply(out []byte) (reply, error) {
	for {
		head, body, ok := bytes.Cut(out, []byte("\r\n\r\n"))
		if !ok {
			return reply{}, fmt.Errorf("no header block")
		}
		lines := strings.Split(string(head), "\r\n")
		f := strings.Fields(lines[0])
		if len(f) < 2 {
			return reply{}, fmt.Errorf("bad status line %q", lines[0])
		}
		code, err := strconv.Atoi(f[1])
		if err != nil {
			return reply{}, fmt.Errorf("bad status line %q", lines[0])
		}
		if code >= 100 && code < 200 {
			out = body
			continue
		}
		h := http.Header{}
		for _, l := range lines[1:] {
			k, v, _ := strings.Cut(l, ":")
			h.Add(strings.TrimSpace(k), strings.TrimSpace(v))
		}
		return reply{code: code, header: h, body: body}, nil
	}
}

// status is a Status JSON answer.
type status struct {
	ID      string `json:"Id"`
	Status  string `json:"Status"`
	Message string `json:"Message"`
}

var idRE = regexp.MustCompile(`^[0-9a-f]{32}$`)

// decodeStatus checks that body is exactly a Status JSON object: members
// Id, Status, Message in that order and nothing else, all strings.
func decodeStatus(t testing.TB, body []byte) status {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(body))
	var keys []string
	vals := map[string]string{}
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		t.Fatalf("status JSON %q: does not start with an object: %v", body, err)
	}
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			t.Fatalf("status JSON %q: %v", body, err)
		}
		v, err := dec.Token()
		if err != nil {
			t.Fatalf("status JSON %q: %v", body, err)
		}
		ks, _ := k.(string)
		vs, ok := v.(string)
		if !ok {
			t.Fatalf("status JSON %q: member %s is not a string", body, ks)
		}
		keys = append(keys, ks)
		vals[ks] = vs
	}
	if _, err := dec.Token(); err != nil {
		t.Fatalf("status JSON %q: %v", body, err)
	}
	if dec.More() {
		t.Fatalf("status JSON %q: trailing data", body)
	}
	if got := strings.Join(keys, ","); got != "Id,Status,Message" {
		t.Fatalf("status JSON %q: members %s, want Id,Status,Message", body, got)
	}
	return status{ID: vals["Id"], Status: vals["Status"], Message: vals["Message"]}
}

// req returns curl arguments: the service's own (credentials, CA
// certificate) followed by args.
func (s *service) req(args ...string) []string {
	return append(append([]string{}, s.curlArgs...), args...)
}

// execute is the original's `curl -X POST -d "" .../api/Backup/Execute`.
func (s *service) execute(t testing.TB) status {
	t.Helper()
	r := curl(t, s.req("-X", "POST", "-d", "", s.base+"/api/Backup/Execute")...)
	if r.code != http.StatusOK {
		t.Fatalf("Execute: HTTP %d %s", r.code, r.body)
	}
	st := decodeStatus(t, r.body)
	if !idRE.MatchString(st.ID) {
		t.Fatalf("Execute: Id %q is not 32 lower-case hex characters", st.ID)
	}
	return st
}

// status is the original's `curl ".../api/Backup/Status?id=ID"`.
func (s *service) status(t testing.TB, id string) status {
	t.Helper()
	r := curl(t, s.req(s.base+"/api/Backup/Status?id="+id)...)
	if r.code != http.StatusOK {
		t.Fatalf("Status %s: HTTP %d %s", id, r.code, r.body)
	}
	return decodeStatus(t, r.body)
}

// cancel is `curl -X POST ".../api/Backup/Cancel?id=ID"`.
func (s *service) cancel(t testing.TB, id string) status {
	t.Helper()
	r := curl(t, s.req("-X", "POST", s.base+"/api/Backup/Cancel?id="+id)...)
	if r.code != http.StatusOK {
		t.Fatalf("Cancel %s: HTTP %d %s", id, r.code, r.body)
	}
	return decodeStatus(t, r.body)
}

// record is the part of GET /api/Backup/Jobs/{id} the tests read.
type record struct {
	ID      string `json:"id"`
	Status  string `json:"status"`
	Phase   string `json:"phase"`
	Archive string `json:"archive"`
	Bytes   int64  `json:"bytes"`
	// Progress.Bytes is the table data copied.
	Progress struct {
		TablesDone  int   `json:"tables_done"`
		TablesTotal int   `json:"tables_total"`
		Bytes       int64 `json:"bytes"`
	} `json:"progress"`
}

func (s *service) record(t testing.TB, id string) record {
	t.Helper()
	r := curl(t, s.req(s.base+"/api/Backup/Jobs/"+id)...)
	if r.code != http.StatusOK {
		t.Fatalf("Jobs/%s: HTTP %d %s", id, r.code, r.body)
	}
	var rec record
	if err := json.Unmarshal(r.body, &rec); err != nil {
		t.Fatalf("Jobs/%s: %v: %s", id, err, r.body)
	}
	return rec
}

// pollInterval paces the polls; waiting is always bounded by a deadline.
const pollInterval = 50 * time.Millisecond

// waitStatus polls Status until it is want, failing on any terminal status
// other than want or when the deadline passes. It returns the statuses seen
// on the way, each once, in order.
func (s *service) waitStatus(t testing.TB, id, want string, within time.Duration) (status, []string) {
	t.Helper()
	deadline := time.Now().Add(within)
	var seen []string
	for {
		st := s.status(t, id)
		if len(seen) == 0 || seen[len(seen)-1] != st.Status {
			seen = append(seen, st.Status)
		}
		if st.Status == want {
			return st, seen
		}
		switch st.Status {
		case "Success", "Error", "Canceled", "LimitReached":
			t.Fatalf("job %s ended %s (%s), want %s; seen %v", id, st.Status, st.Message, want, seen)
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s still %s after %v, want %s; seen %v", id, st.Status, within, want, seen)
		}
		time.Sleep(pollInterval)
	}
}

// waitPhase polls the job record until the job executes in phase.
func (s *service) waitPhase(t testing.TB, id, phase string, within time.Duration) record {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		rec := s.record(t, id)
		if rec.Status == "Executing" && rec.Phase == phase {
			return rec
		}
		if rec.Status != "Queued" && rec.Status != "Executing" {
			t.Fatalf("job %s ended %s before phase %s", id, rec.Status, phase)
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s not in phase %s after %v (status %s, phase %s)", id, phase, within, rec.Status, rec.Phase)
		}
		time.Sleep(pollInterval)
	}
}
