package main

import (
	"fmt"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/hubble/hubble-applianceapi/internal/archive"
	"github.com/hubble/hubble-applianceapi/internal/daemon"
	"github.com/hubble/hubble-applianceapi/internal/storage"
	"github.com/hubble/hubble-applianceapi/internal/storage/local"
)

func newListCmd() *cobra.Command {
	var configFlag, target string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the archives in the backup directory (or one off-site target), newest first",
		Args:  cobra.NoArgs,
		RunE: withConfig(&configFlag, func(cmd *cobra.Command, _ []string, e *env) error {
			var tg storage.Target = local.New(e.cfg.BackupDir)
			if target != "" {
				t, ok := e.cfg.TargetByName(target)
				if !ok {
					return fmt.Errorf("--target %s: no such target in storage.targets", target)
				}
				s3t, err := daemon.NewTarget(e.cfg, t)
				if err != nil {
					return err
				}
				tg = s3t
			}
			rows, err := newestFirst(cmd, tg)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ARCHIVE\tTIME (UTC)\tBYTES\tLOCATION")
			for _, r := range rows {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", r.name, r.t.Format("2006-01-02 15:04:05"), r.size, tg.Location(r.name))
			}
			return tw.Flush()
		}),
	}
	addConfigFlag(cmd, &configFlag)
	cmd.Flags().StringVar(&target, "target", "", "list this off-site target (storage.targets) instead of backup_dir")
	return cmd
}

type archiveRow struct {
	name string
	t    time.Time
	seq  int
	size int64
}

// newestFirst lists the archives of tg (encrypted ones too), newest first.
func newestFirst(cmd *cobra.Command, tg storage.Target) ([]archiveRow, error) {
	entries, err := tg.List(cmd.Context())
	if err != nil {
		return nil, err
	}
	var rows []archiveRow
	for _, en := range entries {
		if t, seq, ok := archive.ParseName(en.Name); ok {
			rows = append(rows, archiveRow{en.Name, t, seq, en.Size})
		}
	}
	sort.Slice(rows, func(i, j int) bool {
		if !rows[i].t.Equal(rows[j].t) {
			return rows[i].t.After(rows[j].t)
		}
		if rows[i].seq != rows[j].seq {
			return rows[i].seq > rows[j].seq
		}
		return rows[i].name < rows[j].name
	})
	return rows, nil
}
