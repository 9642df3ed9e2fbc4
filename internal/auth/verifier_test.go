package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/hubble/hubble-applianceapi/internal/testlog"
)

const (
	password = "correct horse"
	tokenVal = "s3cr3t-token-value"
)

// fakeClock is a clock tests move by hand; its Sleep advances it instead of
// waiting, and records what was waited.
type fakeClock struct {
	now    time.Time
	waited []time.Duration
}

func (c *fakeClock) Now() time.Time { return c.now }

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.waited = append(c.waited, d)
	c.now = c.now.Add(d)
	return nil
}

func newVerifier(t *testing.T, users bool, tokens bool) (*Verifier, *fakeClock, *testlog.Buffer) {
	t.Helper()
	var us []User
	var ts []Token
	if users {
		h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		us = []User{{Name: "admin", PasswordHash: string(h)}, {Name: "operator", PasswordHash: string(h)}}
	}
	if tokens {
		sum := sha256.Sum256([]byte(tokenVal))
		ts = []Token{{Name: "nightly", SHA256: hex.EncodeToString(sum[:])}}
	}
	clk := &fakeClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	var buf testlog.Buffer
	v, err := New(us, ts, Options{
		Throttle: NewThrottle(ThrottleOptions{Now: clk.Now, Sleep: clk.Sleep}),
		Logger:   slog.New(slog.NewTextHandler(&buf, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	return v, clk, &buf
}

func TestVerifier_Verify(t *testing.T) {
	tests := []struct {
		name          string
		users, tokens bool
		header        string
		basic         []string // user, password: set with SetBasicAuth
		want          string
		ok            bool
	}{
		{name: "none", users: true, tokens: true},
		{name: "basic", users: true, basic: []string{"admin", password}, want: "admin", ok: true},
		{name: "second user", users: true, basic: []string{"operator", password}, want: "operator", ok: true},
		{name: "basic wrong password", users: true, basic: []string{"admin", "wrong"}},
		{name: "basic unknown user", users: true, basic: []string{"root", password}},
		{name: "basic empty", users: true, basic: []string{"", ""}},
		{name: "basic name case matters", users: true, basic: []string{"Admin", password}},
		{name: "basic with only tokens", tokens: true, basic: []string{"admin", password}},
		{name: "basic not base64", users: true, header: "Basic !!!"},
		{name: "bearer", tokens: true, header: "Bearer " + tokenVal, want: "nightly", ok: true},
		{name: "bearer scheme any case", tokens: true, header: "bEaReR " + tokenVal, want: "nightly", ok: true},
		{name: "bearer wrong", tokens: true, header: "Bearer " + tokenVal + "x"},
		{name: "bearer empty", tokens: true, header: "Bearer "},
		{name: "bearer with only users", users: true, header: "Bearer " + tokenVal},
		{name: "token as basic password", users: true, tokens: true, basic: []string{"nightly", tokenVal}},
		{name: "other scheme", users: true, tokens: true, header: "Digest " + tokenVal},
		{name: "scheme only", users: true, tokens: true, header: "Bearer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, _, logs := newVerifier(t, tt.users, tt.tokens)
			r := httptest.NewRequest("GET", "/api/Backup/Jobs", nil)
			r.RemoteAddr = "192.0.2.7:4000"
			if tt.basic != nil {
				r.SetBasicAuth(tt.basic[0], tt.basic[1])
			} else if tt.header != "" {
				r.Header.Set("Authorization", tt.header)
			}
			got, ok := v.Verify(r)
			if got != tt.want || ok != tt.ok {
				t.Fatalf("Verify = %q, %v; want %q, %v", got, ok, tt.want, tt.ok)
			}
			failed := !ok && (tt.basic != nil || tt.header != "")
			if failed != strings.Contains(logs.String(), "authentication failed") {
				t.Errorf("failure logged %v, want %v: %s", !failed, failed, logs)
			}
			for _, secret := range []string{password, tokenVal, "wrong", "root", "Admin"} {
				if strings.Contains(logs.String(), secret) {
					t.Errorf("the log shows %q: %s", secret, logs)
				}
			}
		})
	}
}

// TestVerifier_DelayNeverRefuses: failures slow the client's next attempts,
// growing to the cap; correct credentials still pass (after the wait) and
// reset the delay; another client is not slowed.
func TestVerifier_DelayNeverRefuses(t *testing.T) {
	v, clk, _ := newVerifier(t, true, true)
	attempt := func(remote, pw string) bool {
		r := httptest.NewRequest("GET", "/metrics", nil)
		r.RemoteAddr = remote
		r.SetBasicAuth("admin", pw)
		_, ok := v.Verify(r)
		return ok
	}
	const attacker, other = "192.0.2.66:1000", "198.51.100.1:1000"
	for range 7 {
		if attempt(attacker, "guess") {
			t.Fatal("a wrong password passed")
		}
	}
	want := []time.Duration{200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond,
		1600 * time.Millisecond, 3200 * time.Millisecond, 5 * time.Second}
	if !slices.Equal(clk.waited, want) {
		t.Fatalf("waits %v, want %v", clk.waited, want)
	}
	clk.waited = nil
	if !attempt(other, password) || len(clk.waited) != 0 {
		t.Errorf("another client waited %v", clk.waited)
	}
	if !attempt(attacker, password) {
		t.Fatal("correct credentials refused after failures")
	}
	if !slices.Equal(clk.waited, []time.Duration{5 * time.Second}) {
		t.Errorf("correct credentials after 7 failures waited %v, want the capped 5s", clk.waited)
	}
	clk.waited = nil
	attempt(attacker, "guess")
	if attempt(attacker, password); !slices.Equal(clk.waited, []time.Duration{200 * time.Millisecond}) {
		t.Errorf("after a success the delay restarted at %v, want 200ms", clk.waited)
	}
}

func TestVerifier_WaitCanceled(t *testing.T) {
	v, _, _ := newVerifier(t, true, false)
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "192.0.2.1:1"
	r.SetBasicAuth("admin", "bad")
	v.Verify(r)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r.SetBasicAuth("admin", password)
	if _, ok := v.Verify(r.WithContext(ctx)); ok {
		t.Error("a request whose client left passed")
	}
}

func TestThrottle_Forget(t *testing.T) {
	clk := &fakeClock{now: time.Unix(1e9, 0)}
	th := NewThrottle(ThrottleOptions{Now: clk.Now, Sleep: clk.Sleep, Forget: time.Minute, MaxClients: 2})
	th.Fail("a")
	th.Fail("a")
	if d := th.Delay("a"); d != 400*time.Millisecond {
		t.Fatalf("delay %v after 2 failures", d)
	}
	clk.now = clk.now.Add(time.Minute)
	if d := th.Delay("a"); d != 0 {
		t.Errorf("delay %v after the forget window", d)
	}
	if n := th.Fail("a"); n != 1 {
		t.Errorf("failures %d after the window, want a fresh 1", n)
	}
	th.Fail("b")
	th.Fail("c") // over MaxClients: the least recent ("a") is dropped
	if th.Delay("a") != 0 || th.Delay("c") == 0 {
		t.Errorf("eviction kept a (%v) or lost c (%v)", th.Delay("a"), th.Delay("c"))
	}
}

func TestClientKey(t *testing.T) {
	tests := map[string]string{
		"192.0.2.1:5000":         "192.0.2.1",
		"[::ffff:192.0.2.1]:80":  "192.0.2.1",
		"[2001:db8:1:2:3::4]:80": "2001:db8:1:2::/64",
		"[2001:db8:1:2:ff::]:1":  "2001:db8:1:2::/64",
		"[fe80::1%eth0]:1":       "fe80::/64",
		"junk":                   "junk",
	}
	for in, want := range tests {
		if got := ClientKey(in); got != want {
			t.Errorf("ClientKey(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNew_BadHashes(t *testing.T) {
	if _, err := New([]User{{Name: "a", PasswordHash: "plain"}}, nil, Options{}); err == nil || strings.Contains(err.Error(), "plain") {
		t.Errorf("New with a plain password: %v", err)
	}
	if _, err := New(nil, []Token{{Name: "t", SHA256: "abc"}}, Options{}); err == nil {
		t.Error("New with a short token hash succeeded")
	}
}
