package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/hubble/hubble-applianceapi/internal/archive"
	"github.com/hubble/hubble-applianceapi/internal/daemon"
	"github.com/hubble/hubble-applianceapi/internal/retention"
)

func newPruneCmd() *cobra.Command {
	var configFlag string
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "prune",
		Short: "Apply the retention rules to the backup directory and to each off-site target",
		Args:  cobra.NoArgs,
		RunE: withConfig(&configFlag, func(cmd *cobra.Command, _ []string, e *env) error {
			p, err := daemon.NewPipeline(e.cfg, e.log, version)
			if err != nil {
				return err
			}
			verb := "removed"
			if dryRun {
				verb = "would remove"
			}
			var errs []error
			any := false
			for _, sc := range daemon.RetentionScopes(e.cfg, p) {
				removed, err := retention.Apply(cmd.Context(), sc.Store, sc.Rules, time.Now(), archive.ParseName, dryRun, e.log)
				for _, name := range removed {
					fmt.Fprintln(cmd.OutOrStdout(), verb+":", sc.Store.Location(name))
					any = true
				}
				if err != nil {
					errs = append(errs, fmt.Errorf("%s: %w", sc.Name, err))
				}
			}
			if !any {
				fmt.Fprintln(cmd.OutOrStdout(), "nothing to remove")
			}
			return errors.Join(errs...)
		}),
	}
	addConfigFlag(cmd, &configFlag)
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "only list what would be removed")
	return cmd
}
