// Package drill owns restore drills: an archive is restored into a fresh
// schema of a scratch database, every table's row count and the sha256 of
// its data (exported again with COPY, as the backup exported it) are
// checked against the manifest, and everything the drill created is
// dropped. A drill proves an archive would come back, not only that its
// bytes are intact.
package drill

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/hubble/hubble-applianceapi/internal/archive"
	"github.com/hubble/hubble-applianceapi/internal/engine"
	"github.com/hubble/hubble-applianceapi/internal/restore"
)

// SchemaPrefix starts the name of every schema a drill creates.
const SchemaPrefix = "hubble_drill_"

// Scratch is the engine of the scratch database (drill.dsn).
type Scratch interface {
	engine.Engine
	engine.Restorer
	// DatabaseID identifies the database across DSN spellings.
	DatabaseID(ctx context.Context) (string, error)
	// DropScratch drops schema (and everything in it) and the roles.
	DropScratch(ctx context.Context, schema string, roles []string) error
	// ScratchSchemas lists the schemas whose name starts with prefix.
	ScratchSchemas(ctx context.Context, prefix string) ([]string, error)
}

// staleAfter is the age past which a scratch schema is taken for the
// leftover of a drill that was killed (no drill runs that long).
const staleAfter = 24 * time.Hour

// ErrSourceDatabase is returned when drill.dsn reaches the source database.
var ErrSourceDatabase = errors.New("drill.dsn reaches the source database (database.dsn): a drill restores into a scratch database only")

// Drill runs drills.
type Drill struct {
	Scratch Scratch
	// SourceID, if set, identifies the source database; a drill is refused
	// when the scratch database is the same one.
	SourceID func(ctx context.Context) (string, error)
	TempDir  string
	Parallel int
	Log      *slog.Logger
	Now      func() time.Time
}

// Result is what a drill found.
type Result struct {
	Archive  string // where the archive lives
	Database string
	Schema   string // the scratch schema (dropped again)
	Tables   int
	Rows     int64
	Duration time.Duration
	// Problems name each table whose rows or data differ from the manifest.
	Problems []string
}

// Message is the one-line outcome of a drill that passed.
func (r *Result) Message() string {
	return fmt.Sprintf("Drill passed: %s restored into a scratch schema of database '%s' and checked against its manifest "+
		"(%d tables, %d rows, every row count and data checksum matches) in %.1f s; the scratch schema was dropped.",
		r.Archive, r.Database, r.Tables, r.Rows, r.Duration.Seconds())
}

// Run restores src (named name) into a fresh schema, checks it, and drops
// what it created, whatever the outcome.
func (d *Drill) Run(ctx context.Context, src restore.Archive, name string) (*Result, error) {
	log := d.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := time.Now
	if d.Now != nil {
		now = d.Now
	}
	start := now()
	if d.SourceID != nil {
		if err := d.notSource(ctx, log); err != nil {
			return nil, err
		}
	}
	d.dropStale(ctx, start, log)
	res := &Result{Archive: name, Schema: SchemaPrefix + start.UTC().Format(stampLayout) + "_" + randHex(3)}
	log = log.With("archive", name, "scratch_schema", res.Schema)
	log.Info("drill started")
	r := &restore.Restorer{Engine: d.Scratch, Log: log}
	rr, err := r.Run(ctx, restore.Options{
		Archive: name, Source: src, TempDir: d.TempDir, Schema: res.Schema, Step: restore.StepDatabase, Parallel: d.Parallel,
	})
	var roles []string
	if rr != nil {
		roles = rr.Database.RolesCreated
		res.Database = rr.Database.Plan.Database
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if derr := d.Scratch.DropScratch(cctx, res.Schema, roles); derr != nil {
			log.Error("drill: drop the scratch schema", "error", derr)
		} else {
			log.Info("drill: scratch schema dropped", "roles_dropped", roles)
		}
	}()
	if err != nil {
		return res, fmt.Errorf("drill of %s failed: the restore failed: %w", name, err)
	}
	if err := d.check(ctx, rr.Manifest, res); err != nil {
		return res, fmt.Errorf("drill of %s failed: %w", name, err)
	}
	res.Duration = now().Sub(start)
	if len(res.Problems) > 0 {
		return res, fmt.Errorf("drill of %s failed: %d of %d tables differ from the manifest: %s",
			name, len(res.Problems), len(rr.Manifest.Tables), strings.Join(res.Problems, "; "))
	}
	log.Info("drill passed", "tables", res.Tables, "rows", res.Rows, "seconds", res.Duration.Seconds())
	return res, nil
}

const stampLayout = "20060102_150405"

// dropStale drops the scratch schemas of drills killed more than a day
// ago (their names carry their start time); a drill still running is
// younger than that.
func (d *Drill) dropStale(ctx context.Context, now time.Time, log *slog.Logger) {
	names, err := d.Scratch.ScratchSchemas(ctx, SchemaPrefix)
	if err != nil {
		log.Warn("drill: list leftover scratch schemas", "error", err)
		return
	}
	for _, n := range names {
		stamp := strings.TrimPrefix(n, SchemaPrefix)
		if len(stamp) < len(stampLayout) {
			continue
		}
		t, err := time.Parse(stampLayout, stamp[:len(stampLayout)])
		if err != nil || now.Sub(t) < staleAfter {
			continue
		}
		if err := d.Scratch.DropScratch(ctx, n, nil); err != nil {
			log.Warn("drill: drop a leftover scratch schema", "schema", n, "error", err)
			continue
		}
		log.Info("drill: dropped the scratch schema a killed drill left", "schema", n)
	}
}

func (d *Drill) notSource(ctx context.Context, log *slog.Logger) error {
	src, err := d.SourceID(ctx)
	if err != nil {
		// The scratch schema is fresh and uniquely named either way;
		// an unreachable source database does not stop a drill.
		log.Warn("drill: cannot identify the source database", "error", err)
		return nil
	}
	scratch, err := d.Scratch.DatabaseID(ctx)
	if err != nil {
		return fmt.Errorf("drill: scratch database (drill.dsn): %w", err)
	}
	if scratch == src {
		return ErrSourceDatabase
	}
	return nil
}

// check exports every restored table as the backup did and compares its
// rows and sha256 with the manifest's.
func (d *Drill) check(ctx context.Context, m *archive.Manifest, res *Result) error {
	snap, err := d.Scratch.Snapshot(ctx, res.Schema, 1)
	if err != nil {
		return fmt.Errorf("read back the restored schema: %w", err)
	}
	defer snap.Close()
	byName := map[string]engine.Table{}
	for _, t := range snap.Tables() {
		byName[t.Name] = t
	}
	for _, mt := range m.Tables {
		t, ok := byName[mt.Table]
		if !ok {
			res.Problems = append(res.Problems, fmt.Sprintf("%s: missing after the restore", mt.Name))
			continue
		}
		h := sha256.New()
		rows, err := snap.CopyOut(ctx, t, h)
		if err != nil {
			return fmt.Errorf("read back %s: %w", mt.Name, err)
		}
		res.Tables++
		res.Rows += rows
		switch sum := hex.EncodeToString(h.Sum(nil)); {
		case rows != mt.Rows:
			res.Problems = append(res.Problems, fmt.Sprintf("%s: %d rows restored, the manifest says %d", mt.Name, rows, mt.Rows))
		case sum != mt.SHA256:
			res.Problems = append(res.Problems, fmt.Sprintf("%s: data checksum %s after the restore, the manifest says %s", mt.Name, sum[:12], short(mt.SHA256)))
		}
	}
	return nil
}

func short(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = io.ReadFull(rand.Reader, b)
	return hex.EncodeToString(b)
}
