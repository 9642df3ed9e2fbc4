package main

import (
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/hubble/hubble-applianceapi/internal/daemon"
)

func newServeCmd() *cobra.Command {
	var configFlag string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the daemon: REST API, job queue, scheduler",
		Args:  cobra.NoArgs,
		RunE: withConfig(&configFlag, func(cmd *cobra.Command, _ []string, e *env) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			// SIGHUP (logrotate's postrotate) reopens log_file.
			return daemon.Run(ctx, e.cfg, e.log, version, daemon.Reloader{Name: "log_file", Reload: e.out.Reopen})
		}),
	}
	addConfigFlag(cmd, &configFlag)
	return cmd
}
