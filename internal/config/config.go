package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"time"

	"go.yaml.in/yaml/v3"
)

// DefaultPath is used when neither --config nor HUBBLE_CONFIG is given.
const DefaultPath = "/etc/hubble-applianceapi/config.yaml"

// Config is the whole configuration file.
type Config struct {
	Listen            string      `yaml:"listen"`
	BackupDir         string      `yaml:"backup_dir"`
	TempDir           string      `yaml:"temp_dir"`
	MinFreeMB         int64       `yaml:"min_free_mb"`
	LogFile           string      `yaml:"log_file"`
	StateDir          string      `yaml:"state_dir"`
	MaxConcurrentJobs int         `yaml:"max_concurrent_jobs"`
	MaxQueuedJobs     int         `yaml:"max_queued_jobs"`
	JobHistoryDays    int         `yaml:"job_history_days"`
	Database          Database    `yaml:"database"`
	Replication       Replication `yaml:"replication"`
	CompressionLevel  int         `yaml:"compression_level"`
	Schedule          []Schedule  `yaml:"schedule"`
	Retention         Retention   `yaml:"retention"`
	Notify            Notify      `yaml:"notify"`
	Storage           Storage     `yaml:"storage"`
	Encryption        Encryption  `yaml:"encryption"`
	Drill             Drill       `yaml:"drill"`
	Auth              Auth        `yaml:"auth"`
	TLS               TLS         `yaml:"tls"`
}

// Database is the database the schema is backed up from.
type Database struct {
	Engine       string `yaml:"engine"`
	DSN          string `yaml:"dsn"`
	PasswordFile string `yaml:"password_file"`
	Schema       string `yaml:"schema"`
	Parallel     int    `yaml:"parallel"`
	// LockTimeout bounds each wait for a lock on the schema's tables (a
	// session holding or awaiting a conflicting lock, e.g. an ALTER TABLE):
	// the backup fails with the reason instead of hanging.
	LockTimeout Duration `yaml:"lock_timeout"`
}

// Replication is the replication tool whose repository is exported.
type Replication struct {
	Enabled       bool     `yaml:"enabled"`
	ExportCommand []string `yaml:"export_command"`
	ImportCommand []string `yaml:"import_command"`
	User          string   `yaml:"user"`
	// Env is added to the commands' environment, which is otherwise only an
	// allowlist (PATH, LANG, LC_*, TZ, the user's HOME/USER/LOGNAME).
	Env                     map[string]string `yaml:"env"`
	DestinationSchemas      []string          `yaml:"destination_schemas"`
	DestinationPasswordFile string            `yaml:"destination_password_file"`
}

// Schedule is one built-in cron entry.
type Schedule struct {
	Cron     string `yaml:"cron"`
	Timezone string `yaml:"timezone"`
}

// Retention rules for archives in backup_dir.
type Retention struct {
	KeepLast int `yaml:"keep_last"`
	KeepDays int `yaml:"keep_days"`
}

// Notify configures webhook alerts.
type Notify struct {
	WebhookURL string            `yaml:"webhook_url"`
	Headers    map[string]string `yaml:"headers"`
	Timeout    Duration          `yaml:"timeout"`
	Retries    int               `yaml:"retries"`
	OnSuccess  bool              `yaml:"on_success"`
	StaleAfter Duration          `yaml:"stale_after"`
}

// Duration is a time.Duration written as "10s"; "" is zero.
type Duration time.Duration

// UnmarshalYAML accepts Go duration strings.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	if err := d.set(s); err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	return nil
}

func (d *Duration) set(s string) error {
	if s == "" {
		*d = 0
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("not a duration (e.g. 10s, 36h): %q", s)
	}
	*d = Duration(v)
	return nil
}

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Default returns the configuration used for keys the file leaves out.
func Default() Config {
	return Config{
		Listen:            ":5000",
		BackupDir:         "/import/dbbackup",
		TempDir:           "/tmp",
		MinFreeMB:         2048,
		LogFile:           "/tmp/ybapi.log",
		StateDir:          "/var/lib/hubble-applianceapi",
		MaxConcurrentJobs: 1,
		MaxQueuedJobs:     1,
		JobHistoryDays:    90,
		Database: Database{
			Engine:      "postgres",
			DSN:         "postgres://hubble@localhost:5432/db?sslmode=disable",
			Schema:      "hubble",
			Parallel:    2,
			LockTimeout: Duration(2 * time.Minute),
		},
		Replication: Replication{
			Enabled:       true,
			ExportCommand: []string{"repctl", "exportrepository", "json_file={file}"},
			ImportCommand: []string{"repctl", "importrepository", "json_file={file}"},
			User:          "attunity",
		},
		CompressionLevel: 6,
		Notify: Notify{
			Timeout: Duration(10 * time.Second),
			Retries: 3,
		},
	}
}

// Path resolves the configuration file: the flag, else $HUBBLE_CONFIG, else
// DefaultPath.
func Path(flag string) string {
	if flag != "" {
		return flag
	}
	if p := os.Getenv("HUBBLE_CONFIG"); p != "" {
		return p
	}
	return DefaultPath
}

// Load reads the file at path, applies environment overrides from environ
// (os.Environ() form) and validates. Warnings (unknown HUBBLE_* variables)
// are returned beside the config; they are not errors.
func Load(path string, environ []string) (*Config, []string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read config file %s: %w", path, err)
	}
	c, warnings, err := Parse(bytes.NewReader(data), environ)
	if err != nil {
		return nil, warnings, fmt.Errorf("config file %s: %w", path, err)
	}
	return c, warnings, nil
}

// Parse is Load without the file: tests feed it a reader.
func Parse(r io.Reader, environ []string) (*Config, []string, error) {
	c := Default()
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, nil, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return nil, nil, fmt.Errorf("parse: %s", nameKeys(data, err.Error()))
	}
	warnings, err := applyEnv(&c, environ)
	if err != nil {
		return nil, warnings, err
	}
	if err := c.Validate(); err != nil {
		return nil, warnings, err
	}
	return &c, warnings, nil
}

var lineRef = regexp.MustCompile(`line (\d+):`)

// nameKeys rewrites the YAML decoder's "line N:" references into
// "line N (key a.b):" so every error names the key, as SPEC section 2 asks.
func nameKeys(data []byte, msg string) string {
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil {
		return msg
	}
	keys := map[int]string{}
	var visit func(n *yaml.Node, prefix string)
	visit = func(n *yaml.Node, prefix string) {
		switch n.Kind {
		case yaml.DocumentNode, yaml.SequenceNode:
			for i, c := range n.Content {
				p := prefix
				if n.Kind == yaml.SequenceNode {
					p = fmt.Sprintf("%s[%d]", prefix, i)
				}
				visit(c, p)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				key := n.Content[i].Value
				if prefix != "" {
					key = prefix + "." + key
				}
				if _, seen := keys[n.Content[i].Line]; !seen {
					keys[n.Content[i].Line] = key
				}
				visit(n.Content[i+1], key)
			}
		}
	}
	visit(&doc, "")
	return lineRef.ReplaceAllStringFunc(msg, func(m string) string {
		n, _ := strconv.Atoi(lineRef.FindStringSubmatch(m)[1])
		if k, ok := keys[n]; ok {
			return fmt.Sprintf("line %d (key %s):", n, k)
		}
		return m
	})
}
