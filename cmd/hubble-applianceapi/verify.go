package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/hubble/hubble-applianceapi/internal/archive"
)

func newVerifyCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "verify ARCHIVE",
		Short: "Check gzip/tar integrity and every manifest checksum (no database needed)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := os.Open(args[0])
			if err != nil {
				return fmt.Errorf("open archive: %w", err)
			}
			defer f.Close()
			st, err := f.Stat()
			if err != nil {
				return fmt.Errorf("open archive: %w", err)
			}
			rep, err := archive.Verify(cmd.Context(), f, st.Size(), archive.Limits{})
			out := cmd.OutOrStdout()
			if rep != nil {
				for _, p := range rep.Problems {
					fmt.Fprintln(cmd.ErrOrStderr(), "damaged:", p)
				}
			}
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			m := rep.Manifest
			fmt.Fprintf(out, "%s: intact (%d tables, %d files, %d bytes uncompressed; schema %s, %s %s, snapshot %s)\n",
				args[0], len(m.Tables), rep.Files, rep.Bytes, m.Schema, m.Engine, m.ServerVersion, m.SnapshotTime.UTC().Format("2006-01-02 15:04:05Z"))
			return nil
		},
	}
}
