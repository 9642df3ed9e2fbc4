package restore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hubble/hubble-applianceapi/internal/archive"
	"github.com/hubble/hubble-applianceapi/internal/engine"
	"github.com/hubble/hubble-applianceapi/internal/flock"
	"github.com/hubble/hubble-applianceapi/internal/msg"
	"github.com/hubble/hubble-applianceapi/internal/replication"
)

// Steps of --step.
const (
	StepAll         = "all"
	StepReplication = "replication"
	StepDatabase    = "database"
)

// stagePrefix starts the staging folder's name in temp_dir.
const stagePrefix = "hubble-restore-"

// ErrRestoredWithErrors is returned (wrapped) when a restore under
// ContinueOnError finished but some statements failed (exit code 2).
var ErrRestoredWithErrors = errors.New("restored with errors")

// Options are one restore's settings (flags and configuration).
type Options struct {
	// Archive names the archive (a path, or s3://... for messages when
	// Source is set).
	Archive string
	// Source, when set, is the opened archive (a local file, an object in
	// a bucket, or the decryption of either); else Archive is opened as a
	// local file.
	Source          Archive
	TempDir         string
	Schema          string // target schema; "" = the archive's
	Step            string // StepAll (default), StepReplication, StepDatabase
	Clean           bool
	ContinueOnError bool
	DryRun          bool
	Parallel        int
	// OutputFile receives every failing statement (restore_output.txt next
	// to the log); "" writes none.
	OutputFile string
	// Replication is the import command; nil = replication disabled.
	Replication         *replication.Tool
	DestinationSchemas  []string
	DestinationPassword string // never logged
	// MaxBytes bounds what the archive may expand to; 0 = the free space
	// of TempDir.
	MaxBytes int64
	// JournalDir holds the write-ahead journals that let a restore undo
	// what one into the same schema that died (kill -9) left, and refuse to
	// run beside a live one (engine.RestoreRequest.JournalDir); "" = none.
	JournalDir string
}

// Archive is an opened archive read at any offset, its size known: a local
// file, an S3 object, or an encrypted one's plaintext.
type Archive interface {
	io.ReaderAt
	Size() int64
}

// Restorer runs restores.
type Restorer struct {
	Engine engine.Restorer
	Log    *slog.Logger
	Out    io.Writer // plan and summary (stdout)
	// Progress, if set, follows the data load (bytes of data files).
	Progress func(done, total int64)
}

// Result is what a restore did.
type Result struct {
	Manifest *archive.Manifest
	// Replication step.
	Imported       bool
	RolesCreated   []string // destination login roles created
	SchemasCreated []string // destination schemas created
	// Database step.
	Database engine.RestoreResult
	Plan     engine.RestorePlan
}

// Run performs the restore. Its error is nil on success, wraps
// ErrRestoredWithErrors when ContinueOnError let failures through, and is
// anything else on failure (a *engine.RestoreError when a statement stopped
// the database step, after undoing what it created).
func (r *Restorer) Run(ctx context.Context, o Options) (*Result, error) {
	if r.Out == nil {
		r.Out = io.Discard
	}
	if r.Log == nil {
		r.Log = slog.New(slog.DiscardHandler)
	}
	switch o.Step {
	case "":
		o.Step = StepAll
	case StepAll, StepReplication, StepDatabase:
	default:
		return nil, fmt.Errorf("--step %q: want replication, database or all", o.Step)
	}
	if o.Step == StepReplication && o.Replication == nil {
		return nil, errors.New("--step replication: replication is disabled in the configuration (replication.enabled)")
	}
	if fi, err := os.Stat(o.TempDir); err != nil || !fi.IsDir() {
		return nil, msg.NoDirectory(o.TempDir)
	}
	SweepOrphans(o.TempDir, r.Log)
	work, err := flock.MkdirTemp(o.TempDir, stagePrefix)
	if err != nil {
		return nil, fmt.Errorf("create staging folder in %s: %w", o.TempDir, err)
	}
	defer work.Release()
	stage := work.Path
	// Every child (psql, pg_restore, the import) is recorded in the staging
	// folder's mark, so a sweep after a kill -9 kills what is left.
	ctx = engine.WithProcessRecorder(ctx, work)
	start := time.Now()
	src, err := r.openSource(ctx, o, stage)
	if err != nil {
		return nil, err
	}
	defer src.close()
	m := src.m
	res := &Result{Manifest: m}
	log := r.Log.With("archive", o.Archive)
	if src.streamed() {
		log.Info("archive index and scripts verified; tables are verified as they are loaded", "tables", len(m.Tables),
			"bytes", m.TotalBytes(), "folder", stage, "seconds", time.Since(start).Seconds())
	} else {
		log.Info("archive verified and extracted", "tables", len(m.Tables), "bytes", m.TotalBytes(), "folder", stage,
			"seconds", time.Since(start).Seconds())
	}
	log.Info("restore started", "schema", m.Schema, "target_schema", targetSchema(o, m), "step", o.Step, "dry_run", o.DryRun)

	// Whatever has effects outside the held loads (the replication import,
	// or more tables than may be held) waits for the whole archive's
	// verdict; the loads then only stream the data.
	replicating := o.Step != StepDatabase && o.Replication != nil
	if src.streamed() && (replicating || o.DryRun || len(m.Tables) > maxHeldTables) {
		start := time.Now()
		if err := src.verifyRest(ctx); err != nil {
			return nil, src.dataRefused(err)
		}
		log.Info("archive verified", "seconds", time.Since(start).Seconds())
	}
	if o.Step != StepDatabase && o.Replication != nil {
		if err := r.replicationStep(ctx, o, m, stage, res, log); err != nil {
			return res, err
		}
		if o.Step == StepReplication {
			fmt.Fprintln(r.Out, "Replication step done. Re-run the replication tasks now (the schema's views may depend on the replicated tables),")
			fmt.Fprintln(r.Out, "then restore the database with: hubble-applianceapi restore "+o.Archive+" --step database")
			return res, nil
		}
	}
	return res, r.databaseStep(ctx, o, src, stage, res, log)
}

// SweepOrphans removes what restores of dead processes left in tempDir: a
// restore killed with -9 leaves its staging folder, and children (psql, the
// import) whose process groups its mark recorded; they are killed first.
// Folders of restores still running are never touched.
func SweepOrphans(tempDir string, log *slog.Logger) {
	dirs, err := flock.RemoveAbandoned(tempDir, stagePrefix)
	for _, d := range dirs {
		log.Info("removed staging folder of a dead restore", "folder", d)
	}
	if err != nil {
		log.Warn("remove staging folders of dead restores", "error", err)
	}
}

func (r *Restorer) limit(o Options) (int64, error) {
	if o.MaxBytes > 0 {
		return o.MaxBytes, nil
	}
	var st unix.Statfs_t
	if err := unix.Statfs(o.TempDir, &st); err != nil {
		return 0, msg.UnknownDrive(o.TempDir, err)
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}

func targetSchema(o Options, m *archive.Manifest) string {
	if o.Schema != "" {
		return o.Schema
	}
	return m.Schema
}

func hasFile(m *archive.Manifest, p string) bool {
	for _, f := range m.Files {
		if f.Path == p {
			return true
		}
	}
	return false
}

// replicationStep imports the repository export and prepares the
// destination schemas.
func (r *Restorer) replicationStep(ctx context.Context, o Options, m *archive.Manifest, stage string, res *Result, log *slog.Logger) error {
	file := filepath.Join(stage, filepath.FromSlash(archive.ReplicationFile))
	has := hasFile(m, archive.ReplicationFile)
	if o.DryRun {
		if has {
			fmt.Fprintf(r.Out, "Replication: would import %s with: %s (as user %q)\n", archive.ReplicationFile,
				strings.Join(o.Replication.Argv, " "), o.Replication.RunsAs())
		} else {
			fmt.Fprintln(r.Out, "Replication: the archive holds no repository export; nothing to import")
		}
		for _, s := range o.DestinationSchemas {
			fmt.Fprintf(r.Out, "Replication: would create login role and schema %q if missing\n", s)
		}
		return nil
	}
	if has {
		log.Info("importing replication repository", "file", file, "user", o.Replication.RunsAs())
		if err := o.Replication.Import(ctx, file); err != nil {
			return err
		}
		res.Imported = true
		fmt.Fprintln(r.Out, "Replication repository imported.")
	} else {
		log.Warn("archive holds no replication export; import skipped")
		fmt.Fprintln(r.Out, "The archive holds no replication export; import skipped.")
	}
	for _, s := range o.DestinationSchemas {
		roleMade, schemaMade, err := r.Engine.PrepareReplicationTarget(ctx, s, o.DestinationPassword)
		if err != nil {
			return err
		}
		if roleMade {
			res.RolesCreated = append(res.RolesCreated, s)
		}
		if schemaMade {
			res.SchemasCreated = append(res.SchemasCreated, s)
		}
		log.Info("replication destination ready", "schema", s, "role_created", roleMade, "schema_created", schemaMade)
	}
	if len(res.RolesCreated) > 0 {
		fmt.Fprintf(r.Out, "Login roles created: %s\n", strings.Join(res.RolesCreated, ", "))
	}
	if len(res.SchemasCreated) > 0 {
		fmt.Fprintf(r.Out, "Schemas created: %s\n", strings.Join(res.SchemasCreated, ", "))
	}
	return nil
}

// request builds the engine's request from the manifest.
func request(o Options, m *archive.Manifest, stage string) engine.RestoreRequest {
	req := engine.RestoreRequest{
		Dir:             filepath.Join(stage, filepath.FromSlash(archive.DirDatabase)),
		SourceSchema:    m.Schema,
		TargetSchema:    targetSchema(o, m),
		Workers:         o.Parallel,
		Clean:           o.Clean,
		ContinueOnError: o.ContinueOnError,
		JournalDir:      o.JournalDir,
	}
	for _, t := range m.Tables {
		req.Tables = append(req.Tables, engine.RestoreTable{
			Schema: t.Schema, Name: t.Table, File: path.Base(t.File), Rows: t.Rows, Bytes: t.Bytes,
		})
	}
	return req
}

func (r *Restorer) databaseStep(ctx context.Context, o Options, src *source, stage string, res *Result, log *slog.Logger) error {
	m := src.m
	req := request(o, m, stage)
	if src.streamed() {
		req.Open = src.openTable
		if !src.allVerified() {
			req.Verified = src.verifyRest
		}
	}
	for _, t := range m.Tables {
		if path.Dir(t.File) != archive.DirDatabase {
			return fmt.Errorf("archive %s refused: data file %s is not in %s/", o.Archive, t.File, archive.DirDatabase)
		}
	}
	if o.DryRun {
		plan, err := r.Engine.PlanRestore(ctx, req)
		if err != nil {
			return err
		}
		res.Plan = plan
		printPlan(r.Out, o, m, plan)
		return nil
	}
	req.Progress, req.Log = r.Progress, log
	start := time.Now()
	dbRes, err := r.Engine.Restore(ctx, req)
	res.Database, res.Plan = dbRes, dbRes.Plan
	var stop *engine.RestoreError
	if errors.As(err, &stop) {
		dbRes.Issues = append(dbRes.Issues, stop.Issue)
	}
	if err != nil && stop == nil {
		return src.dataRefused(err)
	}
	if werr := writeOutput(o, m, dbRes); werr != nil {
		log.Error("write restore output", "error", werr)
	}
	printSummary(r.Out, o, m, dbRes, err)
	for _, is := range dbRes.Issues {
		log.Error("restore statement failed", "object", is.Object, "reason", is.Reason)
	}
	if err != nil {
		log.Error("restore failed", "error", err)
		return err
	}
	if len(dbRes.Issues) > 0 {
		log.Warn("restore finished with errors", "errors", len(dbRes.Issues))
		return fmt.Errorf("%w: %d errors (see %s)", ErrRestoredWithErrors, len(dbRes.Issues), o.OutputFile)
	}
	log.Info("restore finished", "tables", dbRes.Tables, "rows", dbRes.Rows, "database_seconds", time.Since(start).Seconds())
	return nil
}
