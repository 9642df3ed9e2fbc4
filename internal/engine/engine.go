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
	"time"
)

// ErrSchemaNotFound is returned by Engine.Check when the schema is absent.
var ErrSchemaNotFound = errors.New("schema not found")

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
	// Files renders the engine's scripts (copy.in, copy.out, ...) given the
	// data file name of each table, in the order of Tables().
	Files(ctx context.Context, dataFiles []string) ([]File, error)
	// Close ends the snapshot and closes every connection it opened.
	Close() error
}
