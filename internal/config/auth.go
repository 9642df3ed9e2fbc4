package config

import (
	"encoding/hex"
	"fmt"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// Auth is SPEC section 8's access control: HTTP Basic users and Bearer
// tokens. With neither configured the original's endpoints stay open and
// the rest answers loopback clients only.
type Auth struct {
	Users  []User  `yaml:"users"`
	Tokens []Token `yaml:"tokens"`
}

// User is one HTTP Basic account (browsers, curl -u, PowerShell -Credential).
type User struct {
	Name         string `yaml:"name"`
	PasswordHash string `yaml:"password_hash"` // bcrypt, from `hubble-applianceapi passwd`
}

// Token is one Bearer token for schedulers; only its sha256 is stored.
type Token struct {
	Name        string `yaml:"name"`
	TokenSHA256 string `yaml:"token_sha256"` // hex
}

// TLS serves the API over HTTPS when both files are set; the pair is read
// again on SIGHUP.
type TLS struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// Configured reports whether any user or token is configured, which switches
// every endpoint but GET /api/ and GET /healthz to "credentials required".
func (a Auth) Configured() bool { return len(a.Users) > 0 || len(a.Tokens) > 0 }

// Enabled reports whether the API is served over HTTPS.
func (t TLS) Enabled() bool { return t.CertFile != "" || t.KeyFile != "" }

// validateAccess checks the auth and tls blocks. Names are unique across
// users and tokens so a job record's "started_by" names one credential.
func (c *Config) validateAccess() error {
	seen := map[string]string{}
	name := func(key, n string) error {
		switch {
		case strings.TrimSpace(n) == "":
			return &Error{Key: key, Reason: "must not be empty"}
		case n != strings.TrimSpace(n) || strings.ContainsAny(n, ":\x00\r\n\t"):
			return &Error{Key: key, Reason: fmt.Sprintf("%q must not contain ':', control characters or surrounding blanks", n)}
		case seen[n] != "":
			return &Error{Key: key, Reason: fmt.Sprintf("%q is already the name of %s", n, seen[n])}
		}
		seen[n] = key
		return nil
	}
	for i, u := range c.Auth.Users {
		key := fmt.Sprintf("auth.users[%d]", i)
		if err := name(key+".name", u.Name); err != nil {
			return err
		}
		// Never echo the value: a password pasted here by mistake must not
		// reach a log.
		if _, err := bcrypt.Cost([]byte(u.PasswordHash)); err != nil {
			return &Error{Key: key + ".password_hash", Reason: "is not a bcrypt hash (make one with `hubble-applianceapi passwd`)"}
		}
	}
	for i, tk := range c.Auth.Tokens {
		key := fmt.Sprintf("auth.tokens[%d]", i)
		if err := name(key+".name", tk.Name); err != nil {
			return err
		}
		if b, err := hex.DecodeString(tk.TokenSHA256); err != nil || len(b) != 32 {
			return &Error{Key: key + ".token_sha256", Reason: "must be 64 hexadecimal characters (the sha256 of the token, e.g. `printf %s TOKEN | sha256sum`)"}
		}
	}
	switch {
	case c.TLS.CertFile != "" && c.TLS.KeyFile == "":
		return &Error{Key: "tls.key_file", Reason: "must be set when tls.cert_file is"}
	case c.TLS.KeyFile != "" && c.TLS.CertFile == "":
		return &Error{Key: "tls.cert_file", Reason: "must be set when tls.key_file is"}
	}
	return nil
}
