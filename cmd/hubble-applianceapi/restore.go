package main

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/hubble/hubble-applianceapi/internal/config"
	"github.com/hubble/hubble-applianceapi/internal/daemon"
	"github.com/hubble/hubble-applianceapi/internal/engine"
	"github.com/hubble/hubble-applianceapi/internal/msg"
	"github.com/hubble/hubble-applianceapi/internal/restore"
)

func newRestoreCmd() *cobra.Command {
	var o struct {
		config, dsn, schema, step string
		identity                  string
		clean, continueOnError    bool
		dryRun                    bool
	}
	cmd := &cobra.Command{
		Use:   "restore ARCHIVE",
		Short: "Restore an archive (SPEC section 6); ARCHIVE may be s3://bucket/key",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if dsnHasPassword(o.dsn) {
				return errors.New("--dsn must not hold a password (arguments are visible to every user): use database.password_file or PGPASSWORD")
			}
			e, err := setup(o.config)
			if err != nil {
				return err
			}
			defer e.Close()
			cfg := e.cfg
			if o.dsn != "" {
				cfg.Database.DSN = o.dsn
			}
			eng, err := daemon.NewEngine(cfg)
			if err != nil {
				return err
			}
			src, err := daemon.OpenArchive(cmd.Context(), cfg, args[0], o.identity)
			if err != nil {
				return err
			}
			defer src.Close()
			opts := restore.Options{
				Archive:         args[0],
				Source:          src,
				TempDir:         cfg.TempDir,
				Schema:          o.schema,
				Step:            o.step,
				Clean:           o.clean,
				ContinueOnError: o.continueOnError,
				DryRun:          o.dryRun,
				Parallel:        cfg.Database.Parallel,
				Replication:     daemon.ReplicationTool(cfg, false),
				JournalDir:      restore.JournalDir(cfg.StateDir, cfg.TempDir, e.log),
			}
			if !o.dryRun {
				dir := cfg.TempDir
				if cfg.LogFile != "" {
					dir = filepath.Dir(cfg.LogFile)
				}
				opts.OutputFile = filepath.Join(dir, restore.OutputName)
			}
			if opts.Replication != nil && o.step != restore.StepDatabase {
				opts.DestinationSchemas = cfg.Replication.DestinationSchemas
				if opts.DestinationPassword, err = config.ReadSecret(cfg.Replication.DestinationPasswordFile); err != nil {
					return fmt.Errorf("replication.destination_password_file: %w", err)
				}
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			r := &restore.Restorer{Engine: eng, Log: e.log, Out: cmd.OutOrStdout(), Progress: restoreProgress()}
			_, err = r.Run(ctx, opts)
			var ce *engine.ConnectError
			switch {
			case err == nil:
				return nil
			case errors.Is(err, restore.ErrRestoredWithErrors):
				return &exitError{code: 2, err: err}
			case ctx.Err() != nil:
				return fmt.Errorf("restore canceled: %w", err)
			case errors.As(err, &ce):
				return msg.NoConnection(ce.Error(), err)
			}
			return err
		},
	}
	f := cmd.Flags()
	addConfigFlag(cmd, &o.config)
	f.StringVar(&o.dsn, "dsn", "", "target database (default: database.dsn of the configuration); no password here")
	f.StringVar(&o.schema, "schema", "", "restore under this schema name")
	f.StringVar(&o.step, "step", "all", "replication, database or all")
	f.BoolVar(&o.clean, "clean", false, "replace non-empty conflicting tables")
	f.BoolVar(&o.continueOnError, "continue-on-error", false, "record failing statements and go on (exit 2)")
	f.BoolVar(&o.dryRun, "dry-run", false, "print the plan only")
	f.StringVar(&o.identity, "identity", "", "age identity file that decrypts an encrypted archive (.tar.gz.age)")
	return cmd
}

// dsnHasPassword reports a password inside a connection string given on
// the command line.
func dsnHasPassword(dsn string) bool {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		if u, err := url.Parse(dsn); err == nil {
			if _, ok := u.User.Password(); ok {
				return true
			}
			return u.Query().Has("password")
		}
		return strings.Contains(dsn, "password=")
	}
	return strings.Contains(strings.ToLower(dsn), "password")
}

// restoreProgress draws a byte bar of the data load on a terminal.
func restoreProgress() func(done, total int64) {
	if !term.IsTerminal(int(os.Stderr.Fd())) {
		return nil
	}
	var once sync.Once
	var bar *progressbar.ProgressBar
	return func(done, total int64) {
		once.Do(func() {
			bar = progressbar.NewOptions64(total, progressbar.OptionSetWriter(os.Stderr),
				progressbar.OptionSetDescription("loading data"), progressbar.OptionShowBytes(true),
				progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionClearOnFinish())
		})
		_ = bar.Set64(done)
	}
}
