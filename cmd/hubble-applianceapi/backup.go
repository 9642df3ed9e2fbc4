package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/hubble/hubble-applianceapi/internal/backup"
	"github.com/hubble/hubble-applianceapi/internal/daemon"
	"github.com/hubble/hubble-applianceapi/internal/jobs"
)

func newBackupCmd() *cobra.Command {
	var configFlag string
	cmd := &cobra.Command{
		Use:   "backup",
		Short: "Run one backup in the foreground; prints the archive's path last",
		Args:  cobra.NoArgs,
		RunE: withConfig(&configFlag, func(cmd *cobra.Command, _ []string, e *env) error {
			p, err := daemon.NewPipeline(e.cfg, e.log, version)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			res, err := p.Run(ctx, jobs.NewID(), progressReporter())
			if err != nil {
				if ctx.Err() != nil {
					return fmt.Errorf("backup canceled: %w", context.Cause(ctx))
				}
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), filepath.Join(e.cfg.BackupDir, res.Name))
			return nil
		}),
	}
	addConfigFlag(cmd, &configFlag)
	return cmd
}

// progressReporter draws a bar on a terminal and nothing otherwise (cron
// mails and CI logs stay clean).
func progressReporter() func(backup.Progress) {
	if !term.IsTerminal(int(os.Stderr.Fd())) {
		return nil
	}
	var bar *progressbar.ProgressBar
	return func(pr backup.Progress) {
		if pr.Phase != "data" || pr.TablesTotal == 0 {
			return
		}
		if bar == nil {
			bar = progressbar.NewOptions(pr.TablesTotal, progressbar.OptionSetWriter(os.Stderr),
				progressbar.OptionSetDescription("tables"), progressbar.OptionShowCount(),
				progressbar.OptionClearOnFinish())
		}
		bar.Set(pr.TablesDone)
	}
}
