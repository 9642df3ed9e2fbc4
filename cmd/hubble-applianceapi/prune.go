package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/hubble/hubble-applianceapi/internal/archive"
	"github.com/hubble/hubble-applianceapi/internal/retention"
)

func newPruneCmd() *cobra.Command {
	var configFlag string
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "prune",
		Short: "Apply the retention rules to the backup directory",
		Args:  cobra.NoArgs,
		RunE: withConfig(&configFlag, func(cmd *cobra.Command, _ []string, e *env) error {
			rules := retention.Rules{KeepLast: e.cfg.Retention.KeepLast, KeepDays: e.cfg.Retention.KeepDays}
			removed, err := retention.Apply(cmd.Context(), e.cfg.BackupDir, rules, time.Now(), archive.ParseName, dryRun, e.log)
			verb := "removed"
			if dryRun {
				verb = "would remove"
			}
			for _, name := range removed {
				fmt.Fprintln(cmd.OutOrStdout(), verb+":", name)
			}
			if len(removed) == 0 {
				fmt.Fprintln(cmd.OutOrStdout(), "nothing to remove")
			}
			return err
		}),
	}
	addConfigFlag(cmd, &configFlag)
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "only list what would be removed")
	return cmd
}
