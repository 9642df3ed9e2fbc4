package backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"time"

	"filippo.io/age"

	"github.com/hubble/hubble-applianceapi/internal/archive"
	"github.com/hubble/hubble-applianceapi/internal/crypt"
	"github.com/hubble/hubble-applianceapi/internal/engine"
	"github.com/hubble/hubble-applianceapi/internal/flock"
	"github.com/hubble/hubble-applianceapi/internal/msg"
	"github.com/hubble/hubble-applianceapi/internal/replication"
	"github.com/hubble/hubble-applianceapi/internal/storage"
)

// stagePrefix starts every staging folder in temp_dir; the job id follows,
// so a restarted service can find a dead job's leftovers.
const stagePrefix = "hubble-backup-"

// Options are the pipeline's settings (from the config file).
type Options struct {
	BackupDir   string // where Target publishes; checked by pre-flight
	TempDir     string
	MinFreeMB   int64
	Schema      string
	Parallel    int
	Level       int
	Replication *replication.Tool // nil = replication disabled
	Version     string            // tool version written to the manifest
	// Recipients, when set, encrypt the archive at rest (age): it is
	// published as <name>.tar.gz.age.
	Recipients []age.Recipient
}

// Pipeline runs backups. Its fields are set once; Run is safe to call from
// several goroutines.
type Pipeline struct {
	Engine engine.Engine
	Target storage.Target
	FS     FS
	Log    *slog.Logger
	Opts   Options
	Now    func() time.Time
	// Copies are the off-site targets every published archive is copied
	// to, in this order.
	Copies []Copy
}

// Progress is reported while a backup runs.
type Progress struct {
	Phase       string // preflight, replication, snapshot, data, publish
	TablesDone  int
	TablesTotal int
	Bytes       int64 // table data copied so far
}

// Result describes a published archive.
type Result struct {
	Name   string // archive file name in the target
	Bytes  int64  // archive size
	SHA256 string // of the whole archive file
	Tables int
	Rows   int64
	// Location is where the archive lives in Target; Copies where its
	// off-site copies do (those that succeeded).
	Location string
	Copies   []string
	// Warnings name the optional targets that failed.
	Warnings []string
}

func (p *Pipeline) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

// Preflight runs the cheap checks (directories, free space).
func (p *Pipeline) Preflight() error {
	return Preflight(p.FS, p.Opts.BackupDir, p.Opts.TempDir, p.Opts.MinFreeMB)
}

// Cleanup removes what a job with id left in temp_dir and the target, for
// jobs a dead process left unfinished.
// The process groups the job's children ran in are killed first: a child
// whose parent died with -9 may still run.
func (p *Pipeline) Cleanup(ctx context.Context, id string) error {
	return errors.Join(
		flock.RemoveDead(p.Opts.TempDir, stagePrefix+id+"-*"),
		p.Target.RemovePartials(ctx, id))
}

// SweepOrphans removes what backups of dead processes left (see Run), for
// the service's start.
func (p *Pipeline) SweepOrphans(ctx context.Context) { p.sweepOrphans(ctx, p.Log) }

// sweepOrphans removes what backups of dead processes left in temp_dir and
// the target: a foreground backup killed with -9 has no job store that
// would clean up after it, and its partial archive can be large. Work in
// progress (its lock is held) is never touched.
func (p *Pipeline) sweepOrphans(ctx context.Context, log *slog.Logger) {
	dirs, err := flock.RemoveAbandoned(p.Opts.TempDir, stagePrefix)
	for _, d := range dirs {
		log.Info("removed staging folder of a dead backup", "folder", d)
	}
	if err != nil {
		log.Warn("remove staging folders of dead backups", "error", err)
	}
	removed, err := p.Target.RemoveOrphans(ctx)
	for _, name := range removed {
		log.Info("removed partial archive of a dead backup", "file", name)
	}
	if err != nil {
		log.Warn("remove partial archives of dead backups", "error", err)
	}
}

// Run performs one backup for job id. On any error or cancellation nothing
// is left in temp_dir or the target and every connection is closed.
func (p *Pipeline) Run(ctx context.Context, id string, report func(Progress)) (Result, error) {
	if report == nil {
		report = func(Progress) {}
	}
	log := p.Log.With("job", id)
	start := p.now().UTC()
	log.Info("backup started", "schema", p.Opts.Schema, "backup_dir", p.Opts.BackupDir)
	res, err := p.run(ctx, id, start, log, report)
	if err == nil {
		res, err = p.copyOffsite(ctx, id, res, log, report)
	}
	if err != nil {
		if ctx.Err() != nil {
			log.Warn("backup canceled", "reason", context.Cause(ctx), "error", err)
			return Result{}, ctx.Err()
		}
		log.Error("backup failed", "error", err)
		return Result{}, err
	}
	log.Info("backup finished", "archive", res.Location, "bytes", res.Bytes, "tables", res.Tables, "rows", res.Rows,
		"copies", res.Copies, "seconds", p.now().Sub(start).Seconds())
	return res, nil
}

func (p *Pipeline) run(ctx context.Context, id string, start time.Time, log *slog.Logger, report func(Progress)) (res Result, err error) {
	report(Progress{Phase: "preflight"})
	if err := p.Preflight(); err != nil {
		return res, err
	}
	if info, err := p.Engine.Check(ctx, p.Opts.Schema); err != nil {
		return res, p.CheckError(err, info.Database)
	}

	p.sweepOrphans(ctx, log)
	work, err := flock.MkdirTemp(p.Opts.TempDir, stagePrefix+id+"-")
	if err != nil {
		return res, fmt.Errorf("create staging folder in %s: %w", p.Opts.TempDir, err)
	}
	defer work.Release()
	stage := work.Path
	// Every child (pg_dump, pg_restore, the export) is recorded in the
	// staging folder's mark, so a sweep after a kill -9 kills what is left.
	ctx = engine.WithProcessRecorder(ctx, work)

	var replFile string
	if p.Opts.Replication != nil {
		report(Progress{Phase: "replication"})
		// The replication user may pass through the staging folder to its
		// own export folder, not list or read anything else in it.
		if err := os.Chmod(stage, 0o711); err != nil {
			return res, err
		}
		dir := filepath.Join(stage, filepath.FromSlash(archive.DirReplication))
		if err := os.Mkdir(dir, 0o700); err != nil {
			return res, err
		}
		replFile = filepath.Join(stage, filepath.FromSlash(archive.ReplicationFile))
		log.Info("exporting replication repository", "file", replFile)
		if err := p.Opts.Replication.Export(ctx, replFile); err != nil {
			return res, err
		}
	}

	report(Progress{Phase: "snapshot"})
	snap, err := p.Engine.Snapshot(ctx, p.Opts.Schema, p.Opts.Parallel)
	if err != nil {
		return res, p.CheckError(err, "")
	}
	defer snap.Close()
	info := snap.Info()
	tables := snap.Tables()
	taken := map[string]bool{}
	names := make([]string, len(tables))
	for i, t := range tables {
		names[i] = archive.DataFileName(t.Schema, t.Name, taken)
	}
	dataDir := filepath.Join(stage, filepath.FromSlash(archive.DirDatabase))
	if err := os.Mkdir(dataDir, 0o700); err != nil {
		return res, err
	}
	log.Info("snapshot taken", "tables", len(tables), "server_version", info.ServerVersion)

	suffix := ""
	if len(p.Opts.Recipients) > 0 {
		suffix = archive.EncryptedSuffix
	}
	obj, err := p.Target.Create(ctx, id, func(seq int) string { return archive.Name(start, seq) + suffix })
	if err != nil {
		return res, err
	}
	defer func() {
		if err != nil {
			obj.Abort()
		}
	}()
	sum := &hashCounter{h: sha256.New(), w: obj}
	var sink io.Writer = sum
	var enc io.WriteCloser
	if len(p.Opts.Recipients) > 0 {
		if enc, err = crypt.Encrypt(sum, p.Opts.Recipients); err != nil {
			return res, err
		}
		sink = enc
	}
	aw, err := archive.NewWriter(sink, p.Opts.Level)
	if err != nil {
		return res, err
	}
	m := &archive.Manifest{
		FormatVersion: archive.FormatVersion,
		Tool:          "hubble-applianceapi",
		ToolVersion:   p.Opts.Version,
		Engine:        info.Engine,
		ServerVersion: info.ServerVersion,
		ClientVersion: info.ClientVersion,
		Database:      info.Database,
		Schema:        info.Schema,
		SnapshotTime:  info.SnapshotTime,
		Job:           id,
	}
	if replFile != "" {
		if err := aw.AddDir(archive.DirReplication); err != nil {
			return res, err
		}
		f, err := aw.AddFile(ctx, archive.ReplicationFile, replFile)
		if err != nil {
			return res, err
		}
		m.Files = append(m.Files, f)
	}
	if err := aw.AddDir(archive.DirDatabase); err != nil {
		return res, err
	}
	// The scripts come before the tables in the archive, but the engine
	// may still be rendering them (pg_dump) when the tables' copy starts:
	// they are added before the first table is.
	scripts := func(ctx context.Context) error {
		files, err := snap.Files(ctx, names)
		if err != nil {
			return p.CheckError(err, "")
		}
		for _, ef := range files {
			f, err := aw.AddBytes(ctx, path.Join(archive.DirDatabase, ef.Name), ef.Data)
			if err != nil {
				return err
			}
			m.Files = append(m.Files, f)
		}
		return nil
	}

	entries, err := p.copyTables(ctx, snap, tables, names, dataDir, aw, scripts, report)
	if err != nil {
		return res, err
	}
	if err := snap.Verify(ctx); err != nil {
		return res, err
	}
	m.Tables = entries
	// The snapshot's connections are no longer needed; release them before
	// the (possibly slow, NFS) publish.
	snap.Close()

	var copied int64
	for _, t := range entries {
		copied += t.Bytes
	}
	report(Progress{Phase: "publish", TablesDone: len(tables), TablesTotal: len(tables), Bytes: copied})
	m.CreatedTime = p.now().UTC()
	if err := aw.Finish(ctx, m); err != nil {
		return res, err
	}
	if enc != nil {
		if err := enc.Close(); err != nil {
			return res, fmt.Errorf("finish archive encryption: %w", err)
		}
	}
	name, err := obj.Commit(ctx)
	if err != nil {
		if errors.Is(err, storage.ErrCommit) {
			return res, msg.UnableToMove(err)
		}
		return res, err
	}
	res = Result{Name: name, Bytes: sum.n, SHA256: hex.EncodeToString(sum.h.Sum(nil)), Tables: len(tables),
		Location: p.Target.Location(name)}
	for _, t := range entries {
		res.Rows += t.Rows
	}
	return res, nil
}

// CheckError maps engine failures to the SPEC section 7 messages.
func (p *Pipeline) CheckError(err error, database string) error {
	var ce *engine.ConnectError
	switch {
	case errors.As(err, &ce):
		return msg.NoConnection(ce.Error(), err)
	case errors.Is(err, engine.ErrSchemaNotFound):
		return msg.NoSchema(p.Opts.Schema, database)
	}
	return err
}

// hashCounter hashes and counts the archive bytes on their way to the target.
type hashCounter struct {
	h hash.Hash
	w io.Writer
	n int64
}

func (hc *hashCounter) Write(b []byte) (int, error) {
	n, err := hc.w.Write(b)
	hc.h.Write(b[:n])
	hc.n += int64(n)
	return n, err
}
