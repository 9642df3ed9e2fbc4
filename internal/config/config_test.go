package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParse_Defaults(t *testing.T) {
	c, warn, err := Parse(strings.NewReader(""), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(warn) != 0 {
		t.Errorf("warnings: %v", warn)
	}
	if diff := cmp.Diff(Default(), *c, cmp.AllowUnexported()); diff != "" {
		t.Errorf("defaults differ (-want +got):\n%s", diff)
	}
}

func TestParse_SpecSample(t *testing.T) {
	y := `
listen: ":5001"
backup_dir: /import/dbbackup
temp_dir: /tmp
min_free_mb: 10
database:
  engine: postgres
  dsn: "host=localhost dbname=db"
  password_file: /etc/pw
  schema: hubble
  parallel: 4
replication:
  enabled: false
  export_command: ["repctl", "exportrepository", "json_file={file}"]
  destination_schemas: [a, b]
  env: {REPCTL_DATA: /opt/attunity/replicate/data, LC_ALL: C}
schedule:
  - cron: "0 2 * * *"
    timezone: UTC
notify:
  webhook_url: http://x/hook
  headers: {X-Token: abc}
  timeout: 3s
  stale_after: 36h
`
	c, _, err := Parse(strings.NewReader(y), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != ":5001" || c.Database.Parallel != 4 || c.Replication.Enabled || c.Notify.Timeout.D() != 3*time.Second ||
		c.Notify.StaleAfter.D() != 36*time.Hour || len(c.Schedule) != 1 || c.Notify.Headers["X-Token"] != "abc" ||
		len(c.Replication.DestinationSchemas) != 2 || c.Replication.Env["REPCTL_DATA"] != "/opt/attunity/replicate/data" {
		t.Errorf("unexpected %+v", c)
	}
}

func TestParse_Errors(t *testing.T) {
	tests := []struct {
		name, yaml string
		env        []string
		wantKey    string // substring the error must contain
	}{
		{"unknown key", "bogus: 1\n", nil, "bogus"},
		{"unknown nested key", "database:\n  dsnn: x\n", nil, "dsnn"},
		{"bad int", "min_free_mb: lots\n", nil, "min_free_mb"},
		{"parallel zero", "database:\n  parallel: 0\n", nil, "database.parallel"},
		{"level", "compression_level: 10\n", nil, "compression_level"},
		{"engine", "database:\n  engine: mysql\n", nil, "database.engine"},
		{"relative dir", "backup_dir: backups\n", nil, "backup_dir"},
		{"listen", "listen: 5000\n", nil, "listen"},
		{"duration", "notify:\n  timeout: soon\n", nil, "timeout"},
		{"no placeholder", "replication:\n  export_command: [repctl, exportrepository]\n", nil, "replication.export_command"},
		{"env name", "replication:\n  env: {\"A-B\": x}\n", nil, "replication.env"},
		{"env bad int", "", []string{"HUBBLE_MIN_FREE_MB=x"}, "HUBBLE_MIN_FREE_MB"},
		{"env bad bool", "", []string{"HUBBLE_REPLICATION_ENABLED=maybe"}, "replication.enabled"},
		{"env invalid value", "", []string{"HUBBLE_MAX_CONCURRENT_JOBS=0"}, "max_concurrent_jobs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Parse(strings.NewReader(tt.yaml), tt.env)
			if err == nil || !strings.Contains(err.Error(), tt.wantKey) {
				t.Fatalf("error %v, want one naming %q", err, tt.wantKey)
			}
		})
	}
}

func TestParse_Env(t *testing.T) {
	env := []string{
		"HUBBLE_DATABASE_DSN=postgres://x@y/z",
		"HUBBLE_DATABASE_PASSWORD_FILE=/run/pw",
		"HUBBLE_BACKUP_DIR=/srv/b",
		"HUBBLE_MIN_FREE_MB=5",
		"HUBBLE_REPLICATION_ENABLED=false",
		"HUBBLE_NOTIFY_STALE_AFTER=2h",
		"HUBBLE_CONFIG=/ignored",
		"HUBBLE_TEST_DSN=ignored",
		"HUBBLE_NO_SUCH_KEY=1",
		"PATH=/bin",
	}
	c, warn, err := Parse(strings.NewReader("backup_dir: /a\n"), env)
	if err != nil {
		t.Fatal(err)
	}
	if c.Database.DSN != "postgres://x@y/z" || c.Database.PasswordFile != "/run/pw" || c.BackupDir != "/srv/b" ||
		c.MinFreeMB != 5 || c.Replication.Enabled || c.Notify.StaleAfter.D() != 2*time.Hour {
		t.Errorf("overrides not applied: %+v", c)
	}
	if len(warn) != 1 || !strings.Contains(warn[0], "HUBBLE_NO_SUCH_KEY") {
		t.Errorf("warnings = %v, want one for HUBBLE_NO_SUCH_KEY", warn)
	}
}

func TestEnvVars_NoListsOrMaps(t *testing.T) {
	for _, v := range EnvVars() {
		for _, bad := range []string{"HUBBLE_SCHEDULE", "HUBBLE_NOTIFY_HEADERS", "HUBBLE_REPLICATION_EXPORT_COMMAND", "HUBBLE_AUTH"} {
			if v.Name == bad {
				t.Errorf("%s must not be overridable", bad)
			}
		}
	}
}

func TestLoad_UnreadableFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "missing.yaml")
	_, _, err := Load(p, nil)
	if err == nil || !strings.Contains(err.Error(), p) || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err = %v, want one naming %s", err, p)
	}
}

func TestReadSecret(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct{ content, want string }{
		{"s3cret\n", "s3cret"}, {"s3cret", "s3cret"}, {"a b\n\n", "a b\n"}, {"pw\r\n", "pw"},
	} {
		p := filepath.Join(dir, "pw")
		if err := os.WriteFile(p, []byte(tt.content), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := ReadSecret(p)
		if err != nil || got != tt.want {
			t.Errorf("ReadSecret(%q) = %q, %v; want %q", tt.content, got, err, tt.want)
		}
	}
}

func TestPath(t *testing.T) {
	t.Setenv("HUBBLE_CONFIG", "/from/env")
	if got := Path("/flag"); got != "/flag" {
		t.Errorf("Path(flag) = %s", got)
	}
	if got := Path(""); got != "/from/env" {
		t.Errorf("Path(\"\") = %s", got)
	}
}
