package config

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// Error names the configuration key whose value is wrong.
type Error struct {
	Key    string
	Reason string
}

func (e *Error) Error() string { return e.Key + ": " + e.Reason }

// Validate checks every value; the first bad key is reported by name.
func (c *Config) Validate() error {
	bad := func(key, format string, a ...any) error {
		return &Error{Key: key, Reason: fmt.Sprintf(format, a...)}
	}
	if err := c.validateAccess(); err != nil {
		return err
	}
	if _, port, err := net.SplitHostPort(c.Listen); err != nil || port == "" {
		return bad("listen", "want address:port such as \":5000\", got %q", c.Listen)
	}
	for key, dir := range map[string]string{"backup_dir": c.BackupDir, "temp_dir": c.TempDir, "state_dir": c.StateDir} {
		if !filepath.IsAbs(dir) {
			return bad(key, "must be an absolute path, got %q", dir)
		}
	}
	if c.LogFile != "" && !filepath.IsAbs(c.LogFile) {
		return bad("log_file", "must be an absolute path, got %q", c.LogFile)
	}
	switch {
	case c.MinFreeMB < 0:
		return bad("min_free_mb", "must be 0 or more, got %d", c.MinFreeMB)
	case c.MaxConcurrentJobs < 1:
		return bad("max_concurrent_jobs", "must be 1 or more, got %d", c.MaxConcurrentJobs)
	case c.MaxQueuedJobs < 0:
		return bad("max_queued_jobs", "must be 0 or more, got %d", c.MaxQueuedJobs)
	case c.JobHistoryDays < 1:
		return bad("job_history_days", "must be 1 or more, got %d", c.JobHistoryDays)
	case c.Database.Engine != "postgres":
		return bad("database.engine", "unsupported engine %q (supported: postgres)", c.Database.Engine)
	case strings.TrimSpace(c.Database.DSN) == "":
		return bad("database.dsn", "must not be empty")
	case strings.TrimSpace(c.Database.Schema) == "":
		return bad("database.schema", "must not be empty")
	case c.Database.Parallel < 1 || c.Database.Parallel > 64:
		return bad("database.parallel", "must be between 1 and 64, got %d", c.Database.Parallel)
	case c.Database.LockTimeout < Duration(time.Millisecond):
		return bad("database.lock_timeout", "must be at least 1ms, got %s", c.Database.LockTimeout.D())
	case c.CompressionLevel < 1 || c.CompressionLevel > 9:
		return bad("compression_level", "must be between 1 and 9, got %d", c.CompressionLevel)
	case c.Retention.KeepLast < 0:
		return bad("retention.keep_last", "must be 0 or more, got %d", c.Retention.KeepLast)
	case c.Retention.KeepDays < 0:
		return bad("retention.keep_days", "must be 0 or more, got %d", c.Retention.KeepDays)
	case c.Notify.Retries < 0:
		return bad("notify.retries", "must be 0 or more, got %d", c.Notify.Retries)
	case c.Notify.Timeout < 0:
		return bad("notify.timeout", "must not be negative")
	case c.Notify.StaleAfter < 0:
		return bad("notify.stale_after", "must not be negative")
	}
	if c.Notify.WebhookURL != "" && !strings.HasPrefix(c.Notify.WebhookURL, "http://") && !strings.HasPrefix(c.Notify.WebhookURL, "https://") {
		return bad("notify.webhook_url", "must be an http:// or https:// URL")
	}
	if c.Replication.Enabled {
		if err := checkCommand("replication.export_command", c.Replication.ExportCommand); err != nil {
			return err
		}
		if err := checkCommand("replication.import_command", c.Replication.ImportCommand); err != nil {
			return err
		}
	}
	for i, s := range c.Schedule {
		if strings.TrimSpace(s.Cron) == "" {
			return bad(fmt.Sprintf("schedule[%d].cron", i), "must not be empty")
		}
	}
	for name := range c.Replication.Env {
		if !envVarName.MatchString(name) {
			return bad("replication.env", "%q is not an environment variable name (letters, digits, _; not starting with a digit)", name)
		}
	}
	for i, s := range c.Replication.DestinationSchemas {
		if strings.TrimSpace(s) == "" {
			return bad(fmt.Sprintf("replication.destination_schemas[%d]", i), "must not be empty")
		}
	}
	return c.validateOffsite()
}

var envVarName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func checkCommand(key string, argv []string) error {
	if len(argv) == 0 || strings.TrimSpace(argv[0]) == "" {
		return &Error{Key: key, Reason: "must name a program"}
	}
	for _, a := range argv {
		if strings.Contains(a, "{file}") {
			return nil
		}
	}
	return &Error{Key: key, Reason: "must contain the {file} placeholder"}
}

// ReadSecret reads a password file: the whole file, one trailing newline
// trimmed. An empty path yields "".
func ReadSecret(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read password file %s: %w", path, err)
	}
	s := strings.TrimSuffix(string(b), "\n")
	return strings.TrimSuffix(s, "\r"), nil
}
