package config

import (
	"strings"
	"testing"
)

// FuzzParse: any file content either parses into a valid configuration or
// fails with an error; it never panics, and a success always validates.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"", "listen: \":5000\"\n", "database:\n  parallel: 4\n", "schedule:\n  - cron: \"0 2 * * *\"\n",
		"notify:\n  timeout: 10s\n", "auth:\n  users: []\n", "a: [1, {b: c}]\n", "listen: !!binary aGk=\n",
		"database: &a {dsn: x}\nreplication: *a\n", "min_free_mb: 99999999999999999999\n",
	} {
		f.Add(seed, "HUBBLE_MIN_FREE_MB=5")
	}
	f.Fuzz(func(t *testing.T, yaml, env string) {
		c, _, err := Parse(strings.NewReader(yaml), strings.Split(env, "\n"))
		if err != nil {
			return
		}
		if verr := c.Validate(); verr != nil {
			t.Fatalf("Parse accepted an invalid config: %v", verr)
		}
	})
}
