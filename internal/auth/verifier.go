package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// User is an HTTP Basic account.
type User struct {
	Name         string
	PasswordHash string // bcrypt
}

// Token is a Bearer token, known only by its sha256.
type Token struct {
	Name   string
	SHA256 string // hex
}

// Options tune a Verifier; zero values take the defaults.
type Options struct {
	Throttle *Throttle    // nil: NewThrottle(ThrottleOptions{})
	Logger   *slog.Logger // failed attempts, without credentials; nil: discarded
}

// Verifier checks the credentials of a request against the configured users
// and tokens. It is safe for concurrent use.
type Verifier struct {
	users    []user
	tokens   []token
	dummy    []byte // bcrypt hash checked for unknown users, so they take as long as known ones
	throttle *Throttle
	log      *slog.Logger
	cache    *okCache
}

type user struct {
	name string
	hash []byte
}

type token struct {
	name string
	sum  []byte
}

// New returns a Verifier for users and tokens, which must be valid (the
// configuration checks them); it fails on a hash it cannot use.
func New(users []User, tokens []Token, opts Options) (*Verifier, error) {
	v := &Verifier{throttle: opts.Throttle, log: opts.Logger, cache: newOKCache(okCacheSize, okCacheTTL)}
	if v.throttle == nil {
		v.throttle = NewThrottle(ThrottleOptions{})
	}
	if v.log == nil {
		v.log = slog.New(slog.DiscardHandler)
	}
	cost := bcrypt.MinCost
	for _, u := range users {
		c, err := bcrypt.Cost([]byte(u.PasswordHash))
		if err != nil {
			// bcrypt's error quotes part of the value: not shown.
			return nil, fmt.Errorf("password hash of user %q is not a bcrypt hash", u.Name)
		}
		cost = max(cost, c)
		v.users = append(v.users, user{name: u.Name, hash: []byte(u.PasswordHash)})
	}
	for _, t := range tokens {
		sum, err := hex.DecodeString(t.SHA256)
		if err != nil || len(sum) != sha256.Size {
			return nil, fmt.Errorf("sha256 of token %q: not 64 hexadecimal characters", t.Name)
		}
		v.tokens = append(v.tokens, token{name: t.Name, sum: sum})
	}
	if len(v.users) > 0 {
		var pw [16]byte
		_, _ = rand.Read(pw[:])
		dummy, err := bcrypt.GenerateFromPassword([]byte(hex.EncodeToString(pw[:])), cost)
		if err != nil {
			return nil, fmt.Errorf("prepare password check: %w", err)
		}
		v.dummy = dummy
	}
	return v, nil
}

// Verify returns the name of the user or token whose valid credentials r
// carries. ok is false when r carries none (answered at once) or wrong ones.
// A client with recent failures first waits its delay (see Throttle); if the
// request's context ends meanwhile, ok is false.
func (v *Verifier) Verify(r *http.Request) (name string, ok bool) {
	scheme, cred, found := strings.Cut(r.Header.Get("Authorization"), " ")
	if !found && scheme == "" {
		return "", false
	}
	client := ClientKey(r.RemoteAddr)
	if err := v.throttle.Wait(r.Context(), client); err != nil {
		return "", false
	}
	cred = strings.TrimSpace(cred)
	switch {
	case strings.EqualFold(scheme, "Basic"):
		scheme = "basic"
		if u, pw, valid := r.BasicAuth(); valid {
			name, ok = v.checkUser(u, pw)
		}
	case strings.EqualFold(scheme, "Bearer"):
		scheme = "bearer"
		name, ok = v.checkToken(cred)
	default:
		scheme = "other"
	}
	if ok {
		v.throttle.Succeed(client)
		return name, true
	}
	n := v.throttle.Fail(client)
	v.log.Warn("authentication failed", "client", client, "scheme", scheme, "recent_failures", n)
	return "", false
}

// checkUser compares the name with every user (no early exit) and the
// password with bcrypt, the dummy hash standing in for an unknown name.
func (v *Verifier) checkUser(name, password string) (string, bool) {
	idx := -1
	for i, u := range v.users {
		if subtle.ConstantTimeCompare([]byte(name), []byte(u.name)) == 1 {
			idx = i
		}
	}
	hash := v.dummy
	if idx >= 0 {
		hash = v.users[idx].hash
	}
	if hash == nil {
		return "", false // no users configured: Basic never succeeds
	}
	key := v.cache.key(name, password, hash)
	if v.cache.hit(key) {
		return name, true
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(password)) != nil || idx < 0 {
		return "", false
	}
	v.cache.add(key)
	return v.users[idx].name, true
}

// checkToken compares the token's sha256 with every configured one, without
// an early exit.
func (v *Verifier) checkToken(tok string) (string, bool) {
	if tok == "" {
		return "", false
	}
	sum := sha256.Sum256([]byte(tok))
	name, found := "", 0
	for _, t := range v.tokens {
		if subtle.ConstantTimeCompare(sum[:], t.sum) == 1 {
			name, found = t.name, 1
		}
	}
	return name, found == 1
}

// Cache of recently verified passwords: bcrypt is deliberately slow (tens of
// milliseconds), and a browser sends its Basic credentials with every
// request (the console polls). Entries are keyed by an HMAC under a key
// drawn at start, so the cache holds no fast hash of a password that a
// memory dump could crack.
const (
	okCacheSize = 256
	okCacheTTL  = 5 * time.Minute
)

type okCache struct {
	secret [32]byte
	size   int
	ttl    time.Duration
	mu     sync.Mutex
	m      map[string]time.Time // key -> expiry
}

func newOKCache(size int, ttl time.Duration) *okCache {
	c := &okCache{size: size, ttl: ttl, m: make(map[string]time.Time)}
	_, _ = rand.Read(c.secret[:])
	return c
}

func (c *okCache) key(name, password string, hash []byte) string {
	mac := hmac.New(sha256.New, c.secret[:])
	for _, p := range [][]byte{[]byte(name), []byte(password), hash} {
		mac.Write(p)
		mac.Write([]byte{0})
	}
	return string(mac.Sum(nil))
}

func (c *okCache) hit(key string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	exp, ok := c.m[key]
	if ok && time.Now().After(exp) {
		delete(c.m, key)
		return false
	}
	return ok
}

func (c *okCache) add(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.size {
		now := time.Now()
		for k, exp := range c.m {
			if now.After(exp) {
				delete(c.m, k)
			}
		}
		if len(c.m) >= c.size {
			clear(c.m)
		}
	}
	c.m[key] = time.Now().Add(c.ttl)
}
