package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// The credentials of the access tests.
const (
	adminPassword = "Adm1n-pa55word-e2e"
	tokenValue    = "t0ken-for-the-nightly-scheduler-e2e"
	wrongPassword = "wr0ng-guess-e2e"
	fakeArchive   = "hubble_schema_backup_2026_01_01_00_00_00.tar.gz"
)

// authYAML configures the user admin and the token nightly.
func authYAML(t testing.TB) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(adminPassword), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(tokenValue))
	return fmt.Sprintf("auth:\n  users:\n    - name: admin\n      password_hash: %q\n  tokens:\n    - name: nightly\n      token_sha256: %q\n",
		h, hex.EncodeToString(sum[:]))
}

// credential is one way a client authenticates, as curl arguments.
type credential struct {
	name string
	args []string
}

var credentials = []credential{
	{"none", nil},
	{"wrong", []string{"-u", "admin:" + wrongPassword}},
	{"basic", []string{"-u", "admin:" + adminPassword}},
	{"bearer", []string{"-H", "Authorization: Bearer " + tokenValue}},
}

// accessEndpoint is one endpoint of the service and the code it answers
// when it lets the request through.
type accessEndpoint struct {
	name, method, path string
	code               int
}

func accessEndpoints(id string) []accessEndpoint {
	return []accessEndpoint{
		{"root", "GET", "/api/", 200},
		{"execute", "POST", "/api/Backup/Execute", 200},
		{"status", "GET", "/api/Backup/Status?id=" + id, 200},
		{"cancel", "POST", "/api/Backup/Cancel?id=" + id, 200},
		{"jobs", "GET", "/api/Backup/Jobs", 200},
		{"job", "GET", "/api/Backup/Jobs/" + id, 200},
		{"healthz", "GET", "/healthz", 200},
		{"readyz", "GET", "/readyz", 503}, // min_free_mb cannot be met: not ready
		{"metrics", "GET", "/metrics", 200},
		{"console", "GET", "/", 200},
		{"console asset", "GET", "/console/static/app.js", 200},
		{"console overview", "GET", "/console/api/overview", 200},
		{"console archives", "GET", "/console/api/archives", 200},
		{"console download", "GET", "/console/archives/" + fakeArchive, 200},
		{"console verify", "POST", "/console/api/archives/" + fakeArchive + "/verify", 200},
		{"console job log", "GET", "/console/api/jobs/" + id + "/log", 200},
	}
}

// want is SPEC section 8's rule: the code an endpoint answers a client.
func (ep accessEndpoint) want(configured, loopback bool, cred string) int {
	if configured {
		if ep.name == "root" || ep.name == "healthz" || cred == "basic" || cred == "bearer" {
			return ep.code
		}
		return http.StatusUnauthorized
	}
	switch ep.name {
	case "root", "execute", "status", "cancel":
		return ep.code
	}
	if loopback {
		return ep.code
	}
	return http.StatusForbidden
}

// TestAccess_Matrix drives every endpoint of the real service with curl,
// from a loopback and from a non-loopback address, with no, wrong, Basic
// and Bearer credentials, with and without users and tokens configured, and
// checks each answer against SPEC section 8. Wrong credentials slow the
// client's next attempt; the correct ones that follow still pass.
func TestAccess_Matrix(t *testing.T) {
	requireNetns(t)
	for _, configured := range []bool{false, true} {
		name := "no credentials configured"
		if configured {
			name = "users and tokens configured"
		}
		t.Run(name, func(t *testing.T) {
			extra := ""
			if configured {
				extra = authYAML(t)
			}
			e := newEnv(t, options{extra: extra})
			archive := []byte("not really an archive, but named like one")
			if err := os.WriteFile(filepath.Join(e.backupDir, fakeArchive), archive, 0o644); err != nil {
				t.Fatal(err)
			}
			s := e.startWith(t, startOptions{netns: true, env: append([]string{"HUBBLE_MIN_FREE_MB=1000000000"}, nsEnv...)})
			ns := s.netns(t)
			port := s.port(t)
			loop, remote := "http://127.0.0.1:"+port, "http://"+nsRemote+":"+port

			seed, err := tryCurlVia(ns, "-X", "POST", "-d", "", "-u", "admin:"+adminPassword, loop+"/api/Backup/Execute")
			if err != nil {
				t.Fatal(err)
			}
			id := decodeStatus(t, seed.body).ID
			if !idRE.MatchString(id) {
				t.Fatalf("seed job: %s", seed.body)
			}

			checked := 0
			for _, ep := range accessEndpoints(id) {
				for _, client := range []string{loop, remote} {
					for _, cred := range credentials {
						args := append([]string{"-X", ep.method}, cred.args...)
						if ep.method == "POST" {
							args = append(args, "-d", "")
						}
						r, err := tryCurlVia(ns, append(args, client+ep.path)...)
						if err != nil {
							t.Fatal(err)
						}
						want := ep.want(configured, client == loop, cred.name)
						what := fmt.Sprintf("%s %s from %s with %s credentials", ep.method, ep.path, client, cred.name)
						if r.code != want {
							t.Errorf("%s: HTTP %d, want %d: %.200s", what, r.code, want, r.body)
							continue
						}
						checked++
						switch want {
						case http.StatusUnauthorized:
							if st := decodeStatus(t, r.body); !strings.HasPrefix(st.Message, "Authentication is required") {
								t.Errorf("%s: message %q", what, st.Message)
							}
							if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), `Basic realm="hubble-applianceapi"`) {
								t.Errorf("%s: challenge %q", what, r.header.Values("WWW-Authenticate"))
							}
						case http.StatusForbidden:
							if st := decodeStatus(t, r.body); !strings.Contains(st.Message, "loopback") {
								t.Errorf("%s: message %q", what, st.Message)
							}
						}
						if ep.name == "console download" && want == 200 && !bytes.Equal(r.body, archive) {
							t.Errorf("%s: downloaded %q", what, r.body)
						}
					}
				}
			}
			t.Logf("%d answers as SPEC section 8 says", checked)

			// Nothing secret reaches the log, in the file or on stderr.
			logText, _ := os.ReadFile(e.logFile)
			basic := base64.StdEncoding.EncodeToString([]byte("admin:" + adminPassword))
			for _, secret := range []string{adminPassword, tokenValue, wrongPassword, basic} {
				if bytes.Contains(logText, []byte(secret)) || strings.Contains(s.log(), secret) {
					t.Errorf("the log shows a credential (%.6s...)", secret)
				}
			}
			warning := "access control: no auth.users or auth.tokens configured"
			if strings.Contains(string(logText), warning) == configured {
				t.Errorf("start-up warning %q present = %v with credentials configured = %v", warning, !configured, configured)
			}
			if configured && !strings.Contains(string(logText), "authentication failed") {
				t.Error("failed attempts are not logged")
			}
		})
	}
}

// TestAccess_CrossSite: a state-changing request whose Origin is another
// site, or whose Sec-Fetch-Site is cross-site, is refused even with a
// browser's stored credentials, and starts or cancels nothing; requests with
// neither header (curl, PowerShell, schedulers) are unaffected.
func TestAccess_CrossSite(t *testing.T) {
	for _, configured := range []bool{false, true} {
		t.Run(fmt.Sprintf("credentials configured %v", configured), func(t *testing.T) {
			extra := ""
			var cred []string
			if configured {
				extra, cred = authYAML(t), []string{"-u", "admin:" + adminPassword}
			}
			e := newEnv(t, options{extra: extra})
			s := e.start(t, "HUBBLE_MIN_FREE_MB=1000000000")
			post := func(path string, headers ...string) reply {
				args := append([]string{"-X", "POST", "-d", ""}, cred...)
				for _, h := range headers {
					args = append(args, "-H", h)
				}
				return curl(t, append(args, s.base+path)...)
			}
			jobs := func() int {
				r := curl(t, append(append([]string{}, cred...), s.base+"/api/Backup/Jobs")...)
				return strings.Count(string(r.body), `"id":`)
			}
			seed := decodeStatus(t, post("/api/Backup/Execute").body).ID
			before := jobs()
			const refusal = "Cross-site request refused: a request that changes something must come from this service's own pages or from a client that is not a browser."
			for _, tt := range []struct {
				path    string
				headers []string
			}{
				{"/api/Backup/Execute", []string{"Origin: https://evil.example"}},
				{"/api/Backup/Execute", []string{"Sec-Fetch-Site: cross-site"}},
				{"/api/Backup/Execute", []string{"Origin: https://evil.example", "Sec-Fetch-Site: cross-site", "Sec-Fetch-Mode: navigate"}},
				{"/api/Backup/Cancel?id=" + seed, []string{"Origin: null"}},
				{"/console/api/archives/" + fakeArchive + "/verify", []string{"Sec-Fetch-Site: cross-site"}},
			} {
				r := post(tt.path, tt.headers...)
				if r.code != http.StatusForbidden {
					t.Errorf("POST %s with %q: HTTP %d, want 403: %s", tt.path, tt.headers, r.code, r.body)
					continue
				}
				if st := decodeStatus(t, r.body); st.Message != refusal {
					t.Errorf("POST %s with %q: message %q", tt.path, tt.headers, st.Message)
				}
			}
			if n := jobs(); n != before {
				t.Errorf("refused requests changed the job list: %d jobs, was %d", n, before)
			}
			host := strings.TrimPrefix(s.base, "http://")
			for _, headers := range [][]string{nil, {"Origin: http://" + host}, {"Sec-Fetch-Site: same-origin", "Origin: http://" + host}} {
				if r := post("/api/Backup/Execute", headers...); r.code != http.StatusOK {
					t.Errorf("POST Execute with %q: HTTP %d: %s", headers, r.code, r.body)
				}
			}
			r := curl(t, append(append([]string{}, cred...), "-H", "Sec-Fetch-Site: cross-site", s.base+"/api/Backup/Status?id="+seed)...)
			if r.code != http.StatusOK {
				t.Errorf("a cross-site read of Status: HTTP %d", r.code)
			}

			// DNS rebinding: a name some DNS points at 127.0.0.1 does not open
			// the loopback-only endpoints (credentials, when configured, are
			// what counts then).
			port := strings.TrimPrefix(host, "127.0.0.1:")
			for name, want := range map[string]int{"evil.example:" + port: http.StatusForbidden, "localhost:" + port: http.StatusOK} {
				if configured {
					want = http.StatusOK
				}
				r := curl(t, append(append([]string{}, cred...), "-H", "Host: "+name, s.base+"/api/Backup/Jobs")...)
				if r.code != want {
					t.Errorf("Jobs asked for as %s: HTTP %d, want %d: %s", name, r.code, want, r.body)
				}
			}
		})
	}
}
