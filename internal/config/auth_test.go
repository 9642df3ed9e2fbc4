package config

import (
	"strings"
	"testing"
)

// hashOfSecret is bcrypt("secret") at the minimum cost.
const hashOfSecret = "$2a$04$FmGlqe5aLVI..vMPesU6leMIih/pSnOjIdc1JjUt8T6lj2Bi8AmAu"

const sha256OfToken = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08" // sha256("test")

func TestParse_Access(t *testing.T) {
	y := `
auth:
  users:
    - name: admin
      password_hash: "` + hashOfSecret + `"
  tokens:
    - name: nightly
      token_sha256: "` + sha256OfToken + `"
tls:
  cert_file: /etc/hubble/cert.pem
  key_file: /etc/hubble/key.pem
`
	c, _, err := Parse(strings.NewReader(y), []string{"HUBBLE_TLS_KEY_FILE=/run/key.pem"})
	if err != nil {
		t.Fatal(err)
	}
	if !c.Auth.Configured() || !c.TLS.Enabled() {
		t.Errorf("Configured %v, TLS enabled %v, want both", c.Auth.Configured(), c.TLS.Enabled())
	}
	if c.Auth.Users[0].Name != "admin" || c.Auth.Users[0].PasswordHash != hashOfSecret ||
		c.Auth.Tokens[0].Name != "nightly" || c.Auth.Tokens[0].TokenSHA256 != sha256OfToken {
		t.Errorf("parsed %+v", c.Auth)
	}
	if c.TLS.CertFile != "/etc/hubble/cert.pem" || c.TLS.KeyFile != "/run/key.pem" {
		t.Errorf("tls %+v, want the key file overridden by HUBBLE_TLS_KEY_FILE", c.TLS)
	}

	d, _, err := Parse(strings.NewReader("auth: {users: [], tokens: []}\ntls: {}\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if d.Auth.Configured() || d.TLS.Enabled() {
		t.Error("empty auth and tls blocks count as configured")
	}
}

func TestParse_AccessErrors(t *testing.T) {
	user := func(name, hash string) string {
		return "auth:\n  users:\n    - name: " + name + "\n      password_hash: \"" + hash + "\"\n"
	}
	token := func(name, sum string) string {
		return "auth:\n  tokens:\n    - name: " + name + "\n      token_sha256: \"" + sum + "\"\n"
	}
	tests := []struct {
		name, yaml, wantKey string
		secret              string // must not appear in the message
	}{
		{"empty user name", user(`""`, hashOfSecret), "auth.users[0].name", ""},
		{"colon in user name", user(`"a:b"`, hashOfSecret), "auth.users[0].name", ""},
		{"plain password instead of hash", user("admin", "hunter2"), "auth.users[0].password_hash", "hunter2"},
		{"short token hash", token("nightly", "abc"), "auth.tokens[0].token_sha256", ""},
		{"token hash not hex", token("nightly", strings.Repeat("z", 64)), "auth.tokens[0].token_sha256", ""},
		{"duplicate user", "auth:\n  users:\n    - {name: a, password_hash: \"" + hashOfSecret + "\"}\n    - {name: a, password_hash: \"" + hashOfSecret + "\"}\n", "auth.users[1].name", ""},
		{"user and token share a name", "auth:\n  users:\n    - {name: a, password_hash: \"" + hashOfSecret + "\"}\n  tokens:\n    - {name: a, token_sha256: \"" + sha256OfToken + "\"}\n", "auth.tokens[0].name", ""},
		{"unknown auth key", "auth:\n  user: []\n", "user", ""},
		{"cert without key", "tls:\n  cert_file: /c.pem\n", "tls.key_file", ""},
		{"key without cert", "tls:\n  key_file: /k.pem\n", "tls.cert_file", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Parse(strings.NewReader(tt.yaml), nil)
			if err == nil || !strings.Contains(err.Error(), tt.wantKey) {
				t.Fatalf("error %v, want one naming %q", err, tt.wantKey)
			}
			if tt.secret != "" && strings.Contains(err.Error(), tt.secret) {
				t.Errorf("error %q shows the value", err)
			}
		})
	}
}
