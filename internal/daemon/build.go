package daemon

import (
	"fmt"
	"log/slog"

	"github.com/hubble/hubble-applianceapi/internal/backup"
	"github.com/hubble/hubble-applianceapi/internal/config"
	"github.com/hubble/hubble-applianceapi/internal/crypt"
	"github.com/hubble/hubble-applianceapi/internal/engine/postgres"
	"github.com/hubble/hubble-applianceapi/internal/fscheck"
	"github.com/hubble/hubble-applianceapi/internal/replication"
	"github.com/hubble/hubble-applianceapi/internal/storage/local"
)

// NewEngine builds the configured database engine. The password comes from
// database.password_file, else libpq's PGPASSWORD, never from argv.
func NewEngine(cfg *config.Config) (*postgres.Engine, error) {
	pw, err := config.ReadSecret(cfg.Database.PasswordFile)
	if err != nil {
		return nil, fmt.Errorf("database.password_file: %w", err)
	}
	return postgres.New(postgres.Config{DSN: cfg.Database.DSN, Password: pw, LockTimeout: cfg.Database.LockTimeout.D()})
}

// ReplicationTool is the configured export/import command, nil when
// replication is disabled.
func ReplicationTool(cfg *config.Config, export bool) *replication.Tool {
	if !cfg.Replication.Enabled {
		return nil
	}
	argv := cfg.Replication.ImportCommand
	if export {
		argv = cfg.Replication.ExportCommand
	}
	return &replication.Tool{Argv: argv, User: cfg.Replication.User, Env: cfg.Replication.Env}
}

// Warnings are the start-up warnings the configuration deserves on this
// machine (SPEC section 3: replication.user set while we do not run as root).
func Warnings(cfg *config.Config) []string {
	var out []string
	if t := ReplicationTool(cfg, true); t != nil {
		if w := t.Warning(); w != "" {
			out = append(out, w)
		}
	}
	return out
}

// NewPipeline builds the backup pipeline from the configuration; the CLI's
// foreground backup and the service use the same one.
func NewPipeline(cfg *config.Config, log *slog.Logger, version string) (*backup.Pipeline, error) {
	eng, err := NewEngine(cfg)
	if err != nil {
		return nil, err
	}
	recipients, err := crypt.Recipients(cfg.Encryption.AgeRecipients)
	if err != nil {
		return nil, err
	}
	copies, err := offsiteCopies(cfg)
	if err != nil {
		return nil, err
	}
	return &backup.Pipeline{
		Copies: copies,
		Engine: eng,
		Target: local.New(cfg.BackupDir),
		// Pre-flight runs on the request path (Execute): a hung NFS
		// backup_dir must answer after a deadline, not hang the API.
		FS:  fscheck.New(fscheck.DefaultTimeout),
		Log: log,
		Opts: backup.Options{
			BackupDir:   cfg.BackupDir,
			TempDir:     cfg.TempDir,
			MinFreeMB:   cfg.MinFreeMB,
			Schema:      cfg.Database.Schema,
			Parallel:    cfg.Database.Parallel,
			Level:       cfg.CompressionLevel,
			Replication: ReplicationTool(cfg, true),
			Version:     version,
			Recipients:  recipients,
		},
	}, nil
}
