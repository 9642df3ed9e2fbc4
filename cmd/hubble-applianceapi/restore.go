package main

import (
	"errors"

	"github.com/spf13/cobra"
)

func newRestoreCmd() *cobra.Command {
	var o struct {
		config, dsn, schema, step string
		clean, continueOnError    bool
		dryRun                    bool
	}
	cmd := &cobra.Command{
		Use:   "restore ARCHIVE",
		Short: "Restore an archive (SPEC section 6)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return errors.New("restore: not available in this build yet")
		},
	}
	f := cmd.Flags()
	addConfigFlag(cmd, &o.config)
	f.StringVar(&o.dsn, "dsn", "", "target database (default: database.dsn of the configuration)")
	f.StringVar(&o.schema, "schema", "", "restore under this schema name")
	f.StringVar(&o.step, "step", "all", "replication, database or all")
	f.BoolVar(&o.clean, "clean", false, "replace non-empty conflicting tables")
	f.BoolVar(&o.continueOnError, "continue-on-error", false, "record failing statements and go on (exit 2)")
	f.BoolVar(&o.dryRun, "dry-run", false, "print the plan only")
	return cmd
}
