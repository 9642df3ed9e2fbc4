package restore

import (
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hubble/hubble-applianceapi/internal/archive"
	"github.com/hubble/hubble-applianceapi/internal/engine"
)

// OutputName is the file, next to the log file, that receives every failing
// statement of a restore.
const OutputName = "restore_output.txt"

// writeOutput writes restore_output.txt: a header, then each failing
// statement with its object and the server's reason ("grep ERROR" finds
// them, as in the original runbook's output.txt).
func writeOutput(o Options, m *archive.Manifest, res engine.RestoreResult) error {
	if o.OutputFile == "" {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "restore of %s (schema %s, snapshot %s) into schema %s at %s\n", o.Archive, m.Schema,
		m.SnapshotTime.UTC().Format(time.RFC3339), targetSchema(o, m), time.Now().UTC().Format(time.RFC3339))
	fmt.Fprintf(&b, "%d errors\n", len(res.Issues))
	for _, is := range res.Issues {
		fmt.Fprintf(&b, "\nERROR: %s: %s\n", is.Object, is.Reason)
		if is.Statement != "" {
			fmt.Fprintf(&b, "STATEMENT: %s\n", is.Statement)
		}
	}
	return os.WriteFile(o.OutputFile, []byte(b.String()), 0o640)
}

// printSummary prints what the database step did; stopErr is the failure
// that stopped it, if any.
func printSummary(w io.Writer, o Options, m *archive.Manifest, res engine.RestoreResult, stopErr error) {
	target := targetSchema(o, m)
	printDeadRestore(w, target, res.DeadRestore, false)
	switch {
	case stopErr != nil && res.DeadRestore != nil && len(res.DeadRestore.NotUndone) > 0:
		fmt.Fprintf(w, "Restore of schema %s stopped before any change of its own.\n", target)
	case stopErr != nil && len(res.NotUndone) > 0:
		fmt.Fprintf(w, "Restore of schema %s stopped; its undo could not remove or put back %d objects (see below): remove them before a retry.\n",
			target, len(res.NotUndone))
	case stopErr != nil:
		fmt.Fprintf(w, "Restore of schema %s stopped; what it had created was removed, a retry starts clean.\n", target)
	default:
		fmt.Fprintf(w, "Restored %s into database %s, schema %s: %d tables, %d rows.\n", o.Archive, res.Plan.Database, target, res.Tables, res.Rows)
	}
	fmt.Fprintf(w, "%d errors\n", len(res.Issues))
	for _, is := range res.Issues {
		fmt.Fprintf(w, "  %s: %s\n", is.Object, is.Reason)
	}
	if len(res.NotUndone) > 0 {
		fmt.Fprintln(w, "Not undone:")
		for _, n := range res.NotUndone {
			fmt.Fprintf(w, "  %s\n", n)
		}
	}
	if len(res.Dropped) > 0 {
		fmt.Fprintf(w, "Dropped and recreated: %s\n", strings.Join(res.Dropped, ", "))
	}
	if len(res.RolesCreated) > 0 {
		fmt.Fprintf(w, "Roles created (NOLOGIN): %s\n", strings.Join(res.RolesCreated, ", "))
	}
	if len(res.Plan.FunctionsNamingSchema) > 0 {
		fmt.Fprintf(w, "Functions whose bodies name the original schema %q (not rewritten):\n", m.Schema)
		for _, f := range res.Plan.FunctionsNamingSchema {
			fmt.Fprintf(w, "  %s\n", f)
		}
	}
	if o.OutputFile != "" && len(res.Issues) > 0 {
		fmt.Fprintf(w, "Every failing statement: %s\n", o.OutputFile)
	}
}

// printPlan prints what a restore would do (--dry-run).
func printPlan(w io.Writer, o Options, m *archive.Manifest, p engine.RestorePlan) {
	target := targetSchema(o, m)
	fmt.Fprintln(w, "Restore plan (dry run: nothing is changed)")
	fmt.Fprintf(w, "Archive: %s (schema %s, %s %s, snapshot %s)\n", o.Archive, m.Schema, m.Engine, m.ServerVersion,
		m.SnapshotTime.UTC().Format(time.RFC3339))
	state := "exists"
	if !p.SchemaExists {
		state = "will be created"
	}
	fmt.Fprintf(w, "Target: database %s, schema %s (%s)\n", p.Database, target, state)
	if p.RunningPID != 0 {
		fmt.Fprintf(w, "Another restore into this schema is running (process %d): the restore would be refused until it ends.\n", p.RunningPID)
	}
	printDeadRestore(w, target, p.DeadRestore, true)
	steps := []string{}
	if o.Step != StepDatabase && o.Replication != nil {
		steps = append(steps, "replication")
	}
	steps = append(steps, "database (objects, data with "+fmt.Sprint(max(1, o.Parallel))+" workers, indexes and constraints)")
	fmt.Fprintf(w, "Steps: %s\n", strings.Join(steps, ", then "))
	var rows int64
	for _, t := range m.Tables {
		rows += t.Rows
	}
	fmt.Fprintf(w, "Tables: %d, %d rows\n", len(m.Tables), rows)
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', tabwriter.AlignRight)
	for _, t := range m.Tables {
		fmt.Fprintf(tw, "  %s\t%d rows\t\n", t.Name, t.Rows)
	}
	tw.Flush()
	if len(p.Conflicts) == 0 {
		fmt.Fprintln(w, "Conflicts: none")
	} else {
		fmt.Fprintf(w, "Conflicts: %d\n", len(p.Conflicts))
		for _, c := range p.Conflicts {
			fmt.Fprintf(w, "  %s: %s\n", c.Table, c.Action)
			if len(c.Dependents) > 0 {
				fmt.Fprintf(w, "    depended on by: %s\n", strings.Join(c.Dependents, ", "))
			}
		}
	}
	blocked := false
	for _, c := range p.Conflicts {
		blocked = blocked || c.Blocking
	}
	if blocked {
		fmt.Fprintln(w, "The restore would stop before any change (use --clean to replace the conflicting tables).")
	}
	switch {
	case len(p.MissingObjects) > 0:
		fmt.Fprintf(w, "Objects outside the schema the archive's objects need, missing in the target: %d\n", len(p.MissingObjects))
		for _, m := range p.MissingObjects {
			fmt.Fprintf(w, "  %s\n", m)
		}
		fmt.Fprintln(w, "The restore would stop before any change: create them first (on an appliance: re-run the replication tasks).")
	case p.ObjectsChecked:
		fmt.Fprintln(w, "Objects outside the schema the archive's objects need: all present")
	default:
		fmt.Fprintln(w, "Objects outside the schema the archive's objects need: not listed in this archive (made by an older release)")
	}
	if len(p.MissingRoles) > 0 {
		fmt.Fprintf(w, "Roles to create (NOLOGIN): %s\n", strings.Join(p.MissingRoles, ", "))
	}
	if len(p.FunctionsNamingSchema) > 0 {
		fmt.Fprintf(w, "Functions whose bodies name the original schema %q (not rewritten): %s\n", m.Schema, strings.Join(p.FunctionsNamingSchema, ", "))
	}
}

// printDeadRestore says what a restore into the same schema that died had
// left, and what this one did (or, in a plan, would do) about it.
func printDeadRestore(w io.Writer, target string, dr *engine.DeadRestore, plan bool) {
	if dr == nil {
		return
	}
	who := fmt.Sprintf("A restore into schema %s died (process %d, started %s)", target, dr.PID, dr.Started.UTC().Format(time.RFC3339))
	verb, moved := "was removed first", "put back"
	if plan {
		verb, moved = "would be removed first", "would be put back first"
	}
	switch {
	case dr.Finished:
		fmt.Fprintf(w, "%s after finishing its work: nothing of it to undo.\n", who)
		return
	case len(dr.Removed)+len(dr.PutBack) == 0 && len(dr.NotUndone) == 0:
		fmt.Fprintf(w, "%s before committing anything: nothing of it to undo.\n", who)
		return
	}
	fmt.Fprintf(w, "%s; what it left %s:\n", who, verb)
	for _, r := range dr.Removed {
		fmt.Fprintf(w, "  %s\n", r)
	}
	if len(dr.PutBack) > 0 {
		fmt.Fprintf(w, "Tables it had set aside, %s: %s\n", moved, strings.Join(dr.PutBack, ", "))
	}
	if len(dr.NotUndone) > 0 {
		fmt.Fprintln(w, "What it left that could not be undone (remove it, then restore again):")
		for _, n := range dr.NotUndone {
			fmt.Fprintf(w, "  %s\n", n)
		}
	}
}
