package e2e

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// A storm of 1,000 calls from 32 clients at once: Execute, Status, Cancel,
// the job list, the root, metrics.
func TestFaults_Storm(t *testing.T) {
	sc := newScenario(t, "a storm of 1,000 calls (32 clients at once)",
		"no 5xx, every answer well-formed; every job final with a reason; nothing left; the next backup succeeds", 1, 50)
	fe := newFaultEnv(t, options{}, "0.2")
	s := fe.start(t)
	defer stopService(s)
	var latency []time.Duration
	codes := map[string]int{}
	for i := range sc.n {
		sc.run(i, func() error {
			var (
				mu   sync.Mutex
				ids  []string
				errs []error
			)
			pick := func() string {
				mu.Lock()
				defer mu.Unlock()
				if len(ids) == 0 || sc.rnd.IntN(10) == 0 {
					return fmt.Sprintf("%032x", sc.rnd.Uint64())
				}
				return ids[sc.rnd.IntN(len(ids))]
			}
			calls := make(chan string, 1000)
			for range 1000 {
				var c string
				switch r := sc.rnd.IntN(100); {
				case r < 25:
					c = "POST /api/Backup/Execute"
				case r < 60:
					c = "GET /api/Backup/Status?id=" + "%s"
				case r < 75:
					c = "POST /api/Backup/Cancel?id=" + "%s"
				case r < 85:
					c = "GET /api/Backup/Jobs?limit=50"
				case r < 95:
					c = "GET /api/"
				default:
					c = "GET /metrics"
				}
				calls <- c
			}
			close(calls)
			var wg sync.WaitGroup
			for range 32 {
				wg.Go(func() {
					for c := range calls {
						method, path, _ := strings.Cut(c, " ")
						if strings.Contains(path, "%s") {
							path = fmt.Sprintf(path, pick())
						}
						start := time.Now()
						code, b, err := s.call(method, path)
						mu.Lock()
						latency = append(latency, time.Since(start))
						codes[fmt.Sprint(code)]++
						switch {
						case err != nil:
							errs = append(errs, fmt.Errorf("%s: %w", c, err))
						case code >= 500:
							errs = append(errs, fmt.Errorf("%s %s: HTTP %d %s", method, path, code, b))
						case !json.Valid(b) && path != "/metrics":
							errs = append(errs, fmt.Errorf("%s %s: HTTP %d, not JSON: %q", method, path, code, b))
						case method == "POST" && path == "/api/Backup/Execute":
							var st status
							if json.Unmarshal(b, &st) == nil && st.ID != "" {
								ids = append(ids, st.ID)
							}
						}
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			for _, id := range ids {
				if _, err := s.waitTerminal(id, 3*time.Minute); err != nil {
					errs = append(errs, err)
				}
			}
			if len(errs) > 5 {
				errs = append(errs[:5], fmt.Errorf("and %d more", len(errs)-5))
			}
			errs = append(errs, fe.settled(s), fe.verifyArchives(2), fe.nextBackup(s))
			return errors.Join(errs...)
		})
	}
	sc.note("answers by HTTP code: %s; latency %s", countOutcomes(codes), durations(latency))
}

// rawRequest sends bytes to addr and returns the status line of the answer
// ("" when the server closed without answering).
func rawRequest(addr string, req []byte, within time.Duration) (string, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(within))
	// The server may close early (a limit): its answer may still be there.
	_, _ = c.Write(req)
	// The client is done (or hangs up mid-body): the server sees the end.
	_ = c.(*net.TCPConn).CloseWrite()
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil && line == "" {
		if errors.Is(err, io.EOF) {
			return "", nil
		}
		return "", err
	}
	return strings.TrimSpace(line), nil
}

// Hostile HTTP at the socket: what curl would not send.
func TestFaults_HostileHTTP(t *testing.T) {
	sc := newScenario(t, "hostile HTTP (malformed requests at the socket, slowloris)",
		"a 4xx or a closed connection, never a 5xx or a crash; the service keeps answering; the next backup succeeds", 0, 0)
	fe := newFaultEnv(t, options{}, "0")
	s := fe.start(t)
	defer stopService(s)
	addr := strings.TrimPrefix(s.base, "http://")
	long := strings.Repeat("a", 70<<10)
	reqs := []struct{ name, raw string }{
		{"bad escape in id", "GET /api/Backup/Status?id=%zz HTTP/1.1\r\nHost: x\r\n\r\n"},
		{"unknown method", "BREW /api/ HTTP/1.1\r\nHost: x\r\n\r\n"},
		{"no Host (HTTP/1.1)", "GET /api/ HTTP/1.1\r\n\r\n"},
		{"HTTP/1.0", "GET /api/ HTTP/1.0\r\n\r\n"},
		{"HTTP/2 preface on HTTP/1", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"},
		{"garbage", "\x00\x01\x02\xff\xfe\r\n\r\n"},
		{"70 KB URL", "GET /api/Backup/Status?id=" + long + " HTTP/1.1\r\nHost: x\r\n\r\n"},
		{"70 KB header", "GET /api/ HTTP/1.1\r\nHost: x\r\nX-A: " + long + "\r\n\r\n"},
		{"10,000 headers", "GET /api/ HTTP/1.1\r\nHost: x\r\n" + strings.Repeat("X-B: 1\r\n", 10000) + "\r\n"},
		{"path traversal", "GET /api/../../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n"},
		{"NUL in path", "GET /api/Backup/Status%00?id=1 HTTP/1.1\r\nHost: x\r\n\r\n"},
		{"CRLF in query", "GET /api/Backup/Status?id=1%0d%0aX:1 HTTP/1.1\r\nHost: x\r\n\r\n"},
		{"non-UTF-8 id", "GET /api/Backup/Status?id=%ff%fe HTTP/1.1\r\nHost: x\r\n\r\n"},
		{"bad chunk size", "POST /api/Backup/Cancel HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"},
		{"Content-Length and chunked", "POST /api/Backup/Cancel HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
		{"negative Content-Length", "POST /api/Backup/Execute HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n"},
		{"huge Content-Length, no body", "POST /api/Backup/Execute HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n"},
		{"short body (client hangs up)", "POST /api/Backup/Cancel HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"id\""},
		{"JSON nesting bomb", "POST /api/Backup/Cancel HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 20000\r\n\r\n" + strings.Repeat("[", 20000)},
		{"limit overflow", "GET /api/Backup/Jobs?limit=99999999999999999999999 HTTP/1.1\r\nHost: x\r\n\r\n"},
		{"before malformed", "GET /api/Backup/Jobs?before=%zz&status=%00 HTTP/1.1\r\nHost: x\r\n\r\n"},
		{"pipelined requests", strings.Repeat("GET /api/ HTTP/1.1\r\nHost: x\r\n\r\n", 100)},
	}
	answers := map[string]int{}
	for i, r := range reqs {
		sc.run(i, func() error {
			line, err := rawRequest(addr, []byte(r.raw), 15*time.Second)
			if f := strings.Fields(line); len(f) >= 2 {
				answers[f[1]]++
			} else {
				answers["closed"]++
			}
			if err != nil && !errors.Is(err, net.ErrClosed) && !strings.Contains(err.Error(), "connection reset") {
				return fmt.Errorf("%s: %v", r.name, err)
			}
			if f := strings.Fields(line); len(f) >= 2 && strings.HasPrefix(f[1], "5") {
				return fmt.Errorf("%s: answered %q", r.name, line)
			}
			if code, _, err := s.call("GET", "/api/"); err != nil || code != http.StatusOK {
				return fmt.Errorf("%s: the service no longer answers: %d %v", r.name, code, err)
			}
			return nil
		})
	}
	sc.run(len(reqs), func() error { return slowloris(s, addr) })
	sc.run(len(reqs)+1, func() error { return errors.Join(fe.settled(s), fe.nextBackup(s)) })
	sc.note("%d malformed requests (answers: %s), slowloris (50 connections), then a backup", len(reqs), countOutcomes(answers))
}

// slowloris holds 50 connections sending a header byte at a time while a
// client keeps asking for Status: it must keep getting answers at once.
func slowloris(s *service, addr string) error {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 50 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return err
		}
		wg.Go(func() {
			defer c.Close()
			c.Write([]byte("GET /api/ HTTP/1.1\r\nHost: x\r\n"))
			for {
				select {
				case <-stop:
					return
				case <-time.After(100 * time.Millisecond):
					if _, err := c.Write([]byte("X")); err != nil {
						return
					}
				}
			}
		})
	}
	defer func() { close(stop); wg.Wait() }()
	var worst time.Duration
	for range 20 {
		start := time.Now()
		code, _, err := s.call("GET", "/api/")
		if err != nil || code != http.StatusOK {
			return fmt.Errorf("under slowloris GET /api/: %d %v", code, err)
		}
		worst = max(worst, time.Since(start))
		time.Sleep(100 * time.Millisecond) // pacing the probes
	}
	if worst > 2*time.Second {
		return fmt.Errorf("under slowloris an answer took %v", worst)
	}
	return nil
}
