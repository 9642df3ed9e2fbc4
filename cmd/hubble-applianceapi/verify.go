package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hubble/hubble-applianceapi/internal/archive"
	"github.com/hubble/hubble-applianceapi/internal/config"
	"github.com/hubble/hubble-applianceapi/internal/daemon"
)

func newVerifyCmd() *cobra.Command {
	var configFlag, identity string
	cmd := &cobra.Command{
		Use:   "verify ARCHIVE",
		Short: "Check gzip/tar integrity and every manifest checksum (no database needed); ARCHIVE may be s3://bucket/key",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			// A local archive needs no configuration; s3:// needs the
			// target's settings.
			var cfg *config.Config
			if strings.HasPrefix(args[0], "s3://") {
				c, _, err := config.Load(config.Path(configFlag), os.Environ())
				if err != nil {
					return err
				}
				cfg = c
			}
			src, err := daemon.OpenArchive(cmd.Context(), cfg, args[0], identity)
			if err != nil {
				return err
			}
			defer src.Close()
			rep, err := archive.Verify(cmd.Context(), src, src.Size(), archive.Limits{})
			out := cmd.OutOrStdout()
			if rep != nil {
				for _, p := range rep.Problems {
					fmt.Fprintln(cmd.ErrOrStderr(), "damaged:", p)
				}
			}
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			fmt.Fprintf(out, "%s: intact (%s)\n", args[0], rep.Summary())
			return nil
		},
	}
	addConfigFlag(cmd, &configFlag)
	cmd.Flags().StringVar(&identity, "identity", "", "age identity file that decrypts an encrypted archive (.tar.gz.age)")
	return cmd
}
