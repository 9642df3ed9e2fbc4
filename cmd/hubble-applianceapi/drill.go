package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/hubble/hubble-applianceapi/internal/daemon"
)

func newDrillCmd() *cobra.Command {
	var configFlag, target, identity string
	cmd := &cobra.Command{
		Use:   "drill [ARCHIVE]",
		Short: "Restore the newest archive (or ARCHIVE) into a scratch schema of drill.dsn, check it against its manifest, drop it",
		Args:  cobra.MaximumNArgs(1),
		RunE: withConfig(&configFlag, func(cmd *cobra.Command, args []string, e *env) error {
			d, err := daemon.NewDrill(e.cfg, e.log)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			arg := ""
			if len(args) == 1 {
				arg = args[0]
			}
			res, err := daemon.RunDrill(ctx, e.cfg, d, target, arg, identity)
			if err != nil {
				if res != nil {
					for _, p := range res.Problems {
						fmt.Fprintln(cmd.ErrOrStderr(), "differs:", p)
					}
				}
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), res.Message())
			return nil
		}),
	}
	addConfigFlag(cmd, &configFlag)
	cmd.Flags().StringVar(&target, "target", "", "take the newest archive of this off-site target (storage.targets) instead of backup_dir")
	cmd.Flags().StringVar(&identity, "identity", "", "age identity file for encrypted archives (default drill.identity_file)")
	return cmd
}
