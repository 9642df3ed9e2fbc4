// Package engine declares the seam between the backup/restore pipelines and a
// database engine (PostgreSQL first, Actian Vector later), and owns the helper
// that runs an engine's vendor command-line tools safely.
//
// It imports no sibling internal package: engines know nothing about archives,
// jobs or storage targets.
package engine

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"time"
)

// ErrSchemaNotFound is returned by Engine.Check when the schema is absent.
var ErrSchemaNotFound = errors.New("schema not found")

// ErrSnapshotLost is wrapped by Snapshot.CopyOut and Snapshot.Verify when the
// snapshot's consistency can no longer be proven (the session that held it
// and its locks is gone): the backup must fail rather than publish tables
// read without that protection.
var ErrSnapshotLost = errors.New("snapshot lost")

// ConnectError reports that the database could not be reached. DSN is the
// connection string with any password removed.
type ConnectError struct {
	DSN string
	Err error
}

func (e *ConnectError) Error() string { return "connect to " + e.DSN + ": " + e.Err.Error() }
func (e *ConnectError) Unwrap() error { return e.Err }

// Info describes the database a snapshot or check was taken from.
type Info struct {
	Engine        string    `json:"engine"`         // "postgres"
	ServerVersion string    `json:"server_version"` // e.g. "15.18"
	ClientVersion string    `json:"client_version"` // version of the vendor dump tool used for DDL
	Database      string    `json:"database"`
	Schema        string    `json:"schema"`
	SnapshotTime  time.Time `json:"snapshot_time"`
}

// Table is one relation whose rows are copied. Names are unquoted.
type Table struct {
	Schema  string
	Name    string
	Columns []string // copied columns in order; generated columns left out
	Bytes   int64    // size estimate used to schedule the largest tables first
}

// File is an engine-produced file that goes into the archive's database
// folder beside the data files (copy.in, copy.out, a schema dump, ...).
type File struct {
	Name string
	Data []byte
}

// Engine is a database engine the backup pipeline drives.
type Engine interface {
	// Check connects and confirms that schema exists. It returns a
	// *ConnectError when the database is unreachable and an error wrapping
	// ErrSchemaNotFound when the schema is absent.
	Check(ctx context.Context, schema string) (Info, error)
	// Snapshot opens one consistent read view of schema, shared by workers
	// connections. The caller must Close it.
	Snapshot(ctx context.Context, schema string, workers int) (Snapshot, error)
}

// Snapshot is a consistent view of one schema.
type Snapshot interface {
	Info() Info
	// Tables lists the tables whose rows are copied, largest first.
	Tables() []Table
	// CopyOut streams the rows of t in the engine's plain text COPY format to
	// w and returns the row count. Safe for as many concurrent calls as the
	// snapshot has workers; memory does not grow with the table's size.
	CopyOut(ctx context.Context, t Table, w io.Writer) (rows int64, err error)
	// Verify confirms, once every table was copied, that the snapshot and
	// its locks still hold; an error wrapping ErrSnapshotLost says they did not.
	Verify(ctx context.Context) error
	// Files renders the engine's scripts (copy.in, copy.out, ...) given the
	// data file name of each table, in the order of Tables().
	Files(ctx context.Context, dataFiles []string) ([]File, error)
	// Close ends the snapshot and closes every connection it opened.
	Close() error
}

// RestoreTable is one table's data file of an archive to load.
type RestoreTable struct {
	Schema string // as in the archive (the source schema)
	Name   string
	File   string // data file name inside RestoreRequest.Dir
	Rows   int64  // row count the manifest declares
	Bytes  int64
}

// RestoreRequest describes one database restore of an archive.
type RestoreRequest struct {
	// Dir is the extracted database folder (copy.in, schema dump and, unless
	// Open is set, the data files).
	Dir          string
	SourceSchema string // the archive's schema
	TargetSchema string // where it goes; "" = SourceSchema
	Tables       []RestoreTable
	Workers      int  // parallel data loaders
	Clean        bool // replace non-empty conflicting tables
	// ContinueOnError records each failing statement and goes on; without
	// it the first failure stops the restore and undoes what it created.
	ContinueOnError bool
	// Progress, if set, is called as table data is loaded (bytes of data
	// files read so far, out of the total), from several goroutines.
	Progress func(done, total int64)
	// Log receives the duration of each phase; nil discards.
	Log *slog.Logger

	// Open, if set, opens a table's data instead of reading File from Dir:
	// straight from the archive, checked against its manifest while it is
	// read. A mismatch is an error from Read (in place of io.EOF); any
	// error from the data stops the restore, even with ContinueOnError.
	Open func(ctx context.Context, t RestoreTable) (io.ReadCloser, error)
	// Verified, if set, says that the data is not yet trusted: the loaded
	// tables are then committed only after every table has been loaded and
	// Verified has returned nil. It is called once, after the last load, and
	// returns the archive's verdict (an error stops and undoes the restore);
	// until then no loaded row is visible to other sessions.
	Verified func(ctx context.Context) error
	// JournalDir holds the restores' write-ahead journals (in state_dir):
	// what a restore may leave committed is recorded there before it
	// commits, under a lock its process holds, so that the next restore into
	// the same schema of the same database undoes what a restore that died
	// (kill -9, power loss) left, and two restores never run into one
	// schema at once. "" = no journal.
	JournalDir string
}

// DeadRestore is what a restore that died (kill -9, out of memory, power
// loss) left in the target, found by the next restore into it through its
// journal.
type DeadRestore struct {
	PID     int
	Started time.Time
	// Finished: it had committed all its work (it died after); nothing was
	// left to undo.
	Finished bool
	Removed  []string // the objects it had created, dropped (a plan: to drop)
	PutBack  []string // the tables it had set aside, moved back (a plan: to move)
	// NotUndone names what could not be removed or put back (then the
	// restore stops, and the journal is kept for the next run).
	NotUndone []string
}

// RestoreConflict is a table of the archive that already exists in the target.
type RestoreConflict struct {
	Table      string   // qualified, quoted name in the target
	Rows       bool     // it holds rows
	Dependents []string // other objects that depend on it (views, ...)
	Action     string   // what the restore does with it
	Blocking   bool     // stops the restore (non-empty or depended on, without --clean)
}

// RestorePlan is what a restore would do, found without changing anything.
type RestorePlan struct {
	Database     string
	TargetSchema string
	SchemaExists bool
	Conflicts    []RestoreConflict
	MissingRoles []string // roles the archive's objects name that the target lacks
	// MissingObjects names the objects outside the schema (tables the
	// replication tasks create, extensions, access methods, ...) that the
	// archive's objects need and the target lacks; the restore stops before
	// any change while there are any. Empty for archives that do not list
	// what they need.
	MissingObjects []string
	// ObjectsChecked is false for an archive that does not list the
	// objects outside the schema it needs (written by an older release).
	ObjectsChecked bool
	// FunctionsNamingSchema lists functions whose bodies name the source
	// schema (not rewritten when restoring under another name).
	FunctionsNamingSchema []string
	// DeadRestore is what a restore into the same schema that died left and
	// this one would undo first; nil if none.
	DeadRestore *DeadRestore
	// RunningPID is the process of a restore into the same schema that is
	// running now (a restore would be refused); 0 if none.
	RunningPID int
}

// RestoreIssue is one failing statement: the object it concerns and the
// server's reason; Statement is the SQL (or operation) that failed.
type RestoreIssue struct {
	Object    string
	Reason    string
	Statement string
}

// RestoreResult is what a restore did.
type RestoreResult struct {
	Plan         RestorePlan
	Issues       []RestoreIssue
	RolesCreated []string
	Tables       int
	Rows         int64
	Dropped      []string // conflicting tables (and dependents) dropped and recreated
	// NotUndone names, after a failed restore, what its undo could not
	// remove or put back; empty when the target is as it was before.
	NotUndone []string
	// DeadRestore is what an earlier restore into the same schema that died
	// had left, undone before this one began; nil if none.
	DeadRestore *DeadRestore
}

// RestoreError is the failure that stopped a restore run without
// ContinueOnError; the restore undid what it had created (except what
// RestoreResult.NotUndone names).
type RestoreError struct {
	Issue RestoreIssue
}

func (e *RestoreError) Error() string {
	return "restore " + e.Issue.Object + ": " + e.Issue.Reason
}

// Restorer is the restore side of an engine.
type Restorer interface {
	// PlanRestore inspects the target and the extracted archive; it
	// changes nothing.
	PlanRestore(ctx context.Context, req RestoreRequest) (RestorePlan, error)
	// Restore creates the objects, loads the data, then builds indexes and
	// constraints. Without ContinueOnError a failure returns a
	// *RestoreError after undoing what was created; with it the failures
	// are in RestoreResult.Issues.
	Restore(ctx context.Context, req RestoreRequest) (RestoreResult, error)
	// PrepareReplicationTarget creates, if missing, a login role named
	// schema with password and CONNECT on the database, and a schema of that
	// name it owns. It reports what it created.
	PrepareReplicationTarget(ctx context.Context, schema, password string) (roleCreated, schemaCreated bool, err error)
}
