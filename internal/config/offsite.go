package config

import (
	"fmt"
	"regexp"
	"strings"

	"filippo.io/age"
)

// Storage lists the off-site targets (SPEC section 9).
type Storage struct {
	Targets []Target `yaml:"targets"`
}

// Target is one off-site copy of every archive: an S3-compatible bucket.
type Target struct {
	Name     string `yaml:"name"`
	Type     string `yaml:"type"`
	Endpoint string `yaml:"endpoint"` // host:port or http(s)://host:port
	Bucket   string `yaml:"bucket"`
	Prefix   string `yaml:"prefix"` // archives are <prefix><file name>
	Region   string `yaml:"region"`
	// AccessKeyID falls back to AWS_ACCESS_KEY_ID, the secret to
	// AWS_SECRET_ACCESS_KEY; the secret itself never lives in the config.
	AccessKeyID         string    `yaml:"access_key_id"`
	SecretAccessKeyFile string    `yaml:"secret_access_key_file"`
	PathStyle           bool      `yaml:"path_style"`
	CAFile              string    `yaml:"ca_file"`
	SSE                 string    `yaml:"sse"` // "", "AES256" or "aws:kms"
	Optional            bool      `yaml:"optional"`
	Retention           Retention `yaml:"retention"`
}

// Location is how the target's archives are named: s3://bucket/prefix.
func (t Target) Location() string { return "s3://" + t.Bucket + "/" + t.Prefix }

// Encryption is encryption at rest with age.
type Encryption struct {
	// AgeRecipients are age public keys (age1...); when set, every archive
	// is encrypted to all of them and named <name>.tar.gz.age.
	AgeRecipients []string `yaml:"age_recipients"`
}

// Drill configures restore drills.
type Drill struct {
	DSN          string     `yaml:"dsn"`           // scratch database, never the source database
	Target       string     `yaml:"target"`        // scheduled drills take the newest archive here; "" = backup_dir
	IdentityFile string     `yaml:"identity_file"` // age identity for drills of encrypted archives
	Schedule     []Schedule `yaml:"schedule"`
}

var targetName = regexp.MustCompile(`^[a-z0-9-]+$`)

// validateOffsite checks the storage, encryption and drill sections.
func (c *Config) validateOffsite() error {
	seen := map[string]bool{}
	for i, t := range c.Storage.Targets {
		key := func(k string) string { return fmt.Sprintf("storage.targets[%d].%s", i, k) }
		bad := func(k, format string, a ...any) error { return &Error{Key: key(k), Reason: fmt.Sprintf(format, a...)} }
		switch {
		case !targetName.MatchString(t.Name):
			return bad("name", "must be lower-case letters, digits and '-', got %q", t.Name)
		case seen[t.Name]:
			return bad("name", "%q is used by another target", t.Name)
		case t.Type != "s3":
			return bad("type", "unsupported type %q (supported: s3)", t.Type)
		case strings.TrimSpace(t.Endpoint) == "":
			return bad("endpoint", "must not be empty")
		case strings.TrimSpace(t.Bucket) == "":
			return bad("bucket", "must not be empty")
		case strings.HasPrefix(t.Prefix, "/") || strings.Contains(t.Prefix, "//") || strings.Contains("/"+t.Prefix, "/../"):
			return bad("prefix", "must be a relative key prefix such as \"appliance-01/\", got %q", t.Prefix)
		case t.SSE != "" && t.SSE != "AES256" && t.SSE != "aws:kms":
			return bad("sse", "want \"\", \"AES256\" or \"aws:kms\", got %q", t.SSE)
		case t.Retention.KeepLast < 0:
			return bad("retention.keep_last", "must be 0 or more, got %d", t.Retention.KeepLast)
		case t.Retention.KeepDays < 0:
			return bad("retention.keep_days", "must be 0 or more, got %d", t.Retention.KeepDays)
		}
		seen[t.Name] = true
	}
	for i, r := range c.Encryption.AgeRecipients {
		if _, err := age.ParseRecipients(strings.NewReader(r)); err != nil || strings.Contains(strings.TrimSpace(r), "\n") {
			return &Error{Key: fmt.Sprintf("encryption.age_recipients[%d]", i), Reason: "not an age public key (age1...)"}
		}
	}
	for i, s := range c.Drill.Schedule {
		if strings.TrimSpace(s.Cron) == "" {
			return &Error{Key: fmt.Sprintf("drill.schedule[%d].cron", i), Reason: "must not be empty"}
		}
	}
	if _, ok := c.TargetByName(c.Drill.Target); c.Drill.Target != "" && !ok {
		return &Error{Key: "drill.target", Reason: fmt.Sprintf("no target named %q in storage.targets", c.Drill.Target)}
	}
	if len(c.Drill.Schedule) > 0 && strings.TrimSpace(c.Drill.DSN) == "" {
		return &Error{Key: "drill.dsn", Reason: "must name a scratch database when drill.schedule is set"}
	}
	if c.Drill.DSN != "" && strings.TrimSpace(c.Drill.DSN) == strings.TrimSpace(c.Database.DSN) {
		return &Error{Key: "drill.dsn", Reason: "must not be the source database (database.dsn): a drill restores into a scratch database"}
	}
	return nil
}

// TargetByName returns the target called name.
func (c *Config) TargetByName(name string) (Target, bool) {
	for _, t := range c.Storage.Targets {
		if t.Name == name {
			return t, true
		}
	}
	return Target{}, false
}
