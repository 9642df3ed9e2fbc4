package main

import (
	"fmt"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/hubble/hubble-applianceapi/internal/archive"
	"github.com/hubble/hubble-applianceapi/internal/storage/local"
)

func newListCmd() *cobra.Command {
	var configFlag string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the archives in the backup directory, newest first",
		Args:  cobra.NoArgs,
		RunE: withConfig(&configFlag, func(cmd *cobra.Command, _ []string, e *env) error {
			entries, err := local.New(e.cfg.BackupDir).List(cmd.Context())
			if err != nil {
				return err
			}
			type row struct {
				name string
				t    time.Time
				seq  int
				size int64
			}
			var rows []row
			for _, en := range entries {
				if t, seq, ok := archive.ParseName(en.Name); ok {
					rows = append(rows, row{en.Name, t, seq, en.Size})
				}
			}
			sort.Slice(rows, func(i, j int) bool {
				if !rows[i].t.Equal(rows[j].t) {
					return rows[i].t.After(rows[j].t)
				}
				return rows[i].seq > rows[j].seq
			})
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ARCHIVE\tTIME (UTC)\tBYTES")
			for _, r := range rows {
				fmt.Fprintf(tw, "%s\t%s\t%d\n", r.name, r.t.Format("2006-01-02 15:04:05"), r.size)
			}
			return tw.Flush()
		}),
	}
	addConfigFlag(cmd, &configFlag)
	return cmd
}
