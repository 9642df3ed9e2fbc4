package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/hubble/hubble-applianceapi/internal/engine"
	"github.com/hubble/hubble-applianceapi/internal/journal"
	"github.com/jackc/pgx/v5"
)

// A restore's write-ahead journal (engine.RestoreRequest.JournalDir) lets
// the next restore into the same schema undo what a restore that died left
// committed: the in-process undo cannot run after kill -9, out of memory or
// a power loss. Before step 1 commits, its transaction lists what the
// commit will leave (the objects it created, by OID; the tables it set
// aside; the roles it created; the schema's owner and privileges before)
// and its transaction id, and the record is made durable; before the last
// transaction commits, its id is recorded too. The next restore finds the
// record with its lock free, ends the dead restore's sessions (their
// application_name is the dead restore's own), asks the server whether
// those transactions committed, and drops exactly the recorded objects that
// still exist, moves the set-aside tables back and drops the roles: never
// an object the dead restore did not create. The record goes when the
// restore ends (done, or undone in-process).

const journalVersion = 1

type journalRecord struct {
	Version  int       `json:"version"`
	PID      int       `json:"pid"`
	Started  time.Time `json:"started"`
	Database string    `json:"database"` // cluster system identifier / database name
	Schema   string    `json:"schema"`   // the target schema
	// AppName is the application_name of every session of the restore.
	AppName       string          `json:"application_name"`
	SchemaOID     uint32          `json:"schema_oid,omitempty"`
	SchemaCreated bool            `json:"schema_created,omitempty"`
	Meta          *journalMeta    `json:"schema_before,omitempty"` // of an existing schema
	Hold          string          `json:"hold_schema,omitempty"`
	Held          []journalRel    `json:"held,omitempty"`
	Created       []journalObject `json:"created,omitempty"`
	Roles         []journalRole   `json:"roles,omitempty"`
	// ObjectsXid is step 1's transaction, FinalXid the last one's; 0 =
	// not about to commit yet.
	ObjectsXid int64 `json:"objects_xid,omitempty"`
	FinalXid   int64 `json:"final_xid,omitempty"`
}

type journalObject struct {
	ClassID uint32 `json:"classid"`
	ObjID   uint32 `json:"objid"`
	Name    string `json:"name"` // kind and identity, for people
}

type journalRel struct {
	OID     uint32 `json:"oid"`
	Name    string `json:"name"`
	Relkind string `json:"relkind"`
}

type journalRole struct {
	OID  uint32 `json:"oid"`
	Name string `json:"name"`
}

type journalMeta struct {
	Owner   string         `json:"owner"`
	Comment *string        `json:"comment"`
	Grants  []journalGrant `json:"grants"`
}

type journalGrant struct {
	Grantee   string `json:"grantee"`
	Privilege string `json:"privilege"`
	Grantable bool   `json:"grantable"`
}

// restoreJournal is the journal of the running restore; a nil one records
// nothing.
type restoreJournal struct {
	j    *journal.Journal
	path string
	rec  journalRecord
}

// sessionName is the application_name of one restore's sessions: ours,
// followed by an id of this restore (at most 63 bytes, the server's limit).
func sessionName(app string) string {
	suffix := " restore " + randomHex(6)
	if len(app) > 63-len(suffix) {
		app = app[:63-len(suffix)]
	}
	return app + suffix
}

// databaseIdentity names the target database across connection strings;
// a role that may not read the cluster's identifier falls back to the
// connection's host and port.
func (e *Engine) databaseIdentity(ctx context.Context, conn *pgx.Conn) (string, error) {
	var sys int64
	var db string
	err := conn.QueryRow(ctx, "SELECT system_identifier, current_database() FROM pg_catalog.pg_control_system()").Scan(&sys, &db)
	if err == nil {
		return fmt.Sprintf("%d/%s", sys, db), nil
	}
	if err := conn.QueryRow(ctx, "SELECT current_database()").Scan(&db); err != nil {
		return "", fmt.Errorf("query database identity: %w", err)
	}
	return fmt.Sprintf("%s:%d/%s", e.connCfg.Host, e.connCfg.Port, db), nil
}

func journalName(id, schema string) string {
	sum := sha256.Sum256([]byte(id + "\x00" + schema))
	return "restore-" + hex.EncodeToString(sum[:12])
}

// openJournal takes the journal of the target; dead is the record of a
// restore into it that died, nil if none. A restore into it that is running
// is a *engine.RestoreError.
func (e *Engine) openJournal(ctx context.Context, conn *pgx.Conn, req engine.RestoreRequest, app string) (rj *restoreJournal, dead *journalRecord, err error) {
	if req.JournalDir == "" {
		return nil, nil, nil
	}
	id, err := e.databaseIdentity(ctx, conn)
	if err != nil {
		return nil, nil, err
	}
	target := targetOf(req)
	name := journalName(id, target)
	j, prev, err := journal.Open(req.JournalDir, name)
	var busy *journal.BusyError
	if errors.As(err, &busy) {
		return nil, nil, &engine.RestoreError{Issue: engine.RestoreIssue{Object: "SCHEMA " + target,
			Reason: fmt.Sprintf("another restore into this schema is running (process %d); nothing was changed: wait for it to end", busy.PID)}}
	}
	if err != nil {
		return nil, nil, fmt.Errorf("restore journal: %w", err)
	}
	rj = &restoreJournal{j: j, path: filepath.Join(req.JournalDir, name+".json"), rec: journalRecord{
		Version: journalVersion, PID: os.Getpid(), Started: time.Now().UTC(), Database: id, Schema: target, AppName: app}}
	if prev == nil {
		return rj, nil, nil
	}
	dead, err = parseJournal(prev, id, target)
	if err != nil {
		j.Release()
		return nil, nil, fmt.Errorf("the journal %s of a restore into schema %q that died: %w; look at the schema for what it left, then remove the file", rj.path, target, err)
	}
	return rj, dead, nil
}

func parseJournal(b []byte, id, target string) (*journalRecord, error) {
	var rec journalRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return nil, fmt.Errorf("unreadable: %w", err)
	}
	if rec.Version != journalVersion || rec.Database != id || rec.Schema != target {
		return nil, fmt.Errorf("written by another version or for another target (version %d, %s, schema %q)", rec.Version, rec.Database, rec.Schema)
	}
	return &rec, nil
}

// peekJournal reads, for a plan, the record a dead restore into the target
// left, or the process of one that is running.
func (e *Engine) peekJournal(ctx context.Context, conn *pgx.Conn, req engine.RestoreRequest) (dead *journalRecord, running int, err error) {
	if req.JournalDir == "" {
		return nil, 0, nil
	}
	id, err := e.databaseIdentity(ctx, conn)
	if err != nil {
		return nil, 0, err
	}
	target := targetOf(req)
	prev, busy, err := journal.Peek(req.JournalDir, journalName(id, target))
	switch {
	case err != nil:
		return nil, 0, fmt.Errorf("restore journal: %w", err)
	case busy != nil:
		return nil, max(busy.PID, 1), nil
	case prev == nil:
		return nil, 0, nil
	}
	dead, err = parseJournal(prev, id, target)
	if err != nil {
		return nil, 0, fmt.Errorf("the journal of a restore into schema %q that died: %w", target, err)
	}
	return dead, 0, nil
}

func (rj *restoreJournal) write() error {
	b, err := json.MarshalIndent(rj.rec, "", " ")
	if err != nil {
		return err
	}
	return rj.j.Write(b)
}

// reset records that nothing of this restore is committed yet (after the
// leftovers of a dead one were undone).
func (rj *restoreJournal) reset() error {
	if rj == nil {
		return nil
	}
	return rj.write()
}

// objectsCommitting records, inside step 1's transaction tx and before it
// commits, what the commit will leave.
func (rj *restoreJournal) objectsCommitting(ctx context.Context, tx querier, u *undoPlan) error {
	if rj == nil {
		return nil
	}
	r := &rj.rec
	if err := tx.QueryRow(ctx, "SELECT oid, txid_current() FROM pg_catalog.pg_namespace WHERE nspname = $1", u.schema).
		Scan(&r.SchemaOID, &r.ObjectsXid); err != nil {
		return fmt.Errorf("restore journal: look up schema %q: %w", u.schema, err)
	}
	objs, err := listSchemaObjects(ctx, tx, u.schema)
	if err != nil {
		return fmt.Errorf("restore journal: %w", err)
	}
	r.Created = r.Created[:0]
	for _, o := range objs {
		if u.before == nil || !u.before.keep[o.id] {
			r.Created = append(r.Created, journalObject{ClassID: o.id.classid, ObjID: o.id.objid, Name: o.String()})
		}
	}
	r.SchemaCreated = u.before == nil
	if u.before != nil && u.before.meta != nil {
		m := u.before.meta
		r.Meta = &journalMeta{Owner: m.owner, Comment: m.comment}
		for _, g := range m.grants {
			r.Meta.Grants = append(r.Meta.Grants, journalGrant{Grantee: g.grantee, Privilege: g.privilege, Grantable: g.grantable})
		}
	}
	r.Hold, r.Held = u.hold, nil
	for _, c := range u.held {
		r.Held = append(r.Held, journalRel{OID: c.oid, Name: c.name, Relkind: c.relkind})
	}
	r.Roles = nil
	for _, role := range u.roles {
		var oid uint32
		if err := tx.QueryRow(ctx, "SELECT oid FROM pg_catalog.pg_roles WHERE rolname = $1", role).Scan(&oid); err != nil {
			return fmt.Errorf("restore journal: look up role %q: %w", role, err)
		}
		r.Roles = append(r.Roles, journalRole{OID: oid, Name: role})
	}
	return rj.write()
}

// finalCommitting records, inside the restore's last transaction and
// before it commits, its id: once it has committed the restore is done.
func (rj *restoreJournal) finalCommitting(ctx context.Context, tx querier) error {
	if rj == nil {
		return nil
	}
	if err := tx.QueryRow(ctx, "SELECT txid_current()").Scan(&rj.rec.FinalXid); err != nil {
		return fmt.Errorf("restore journal: %w", err)
	}
	return rj.write()
}

// commitSent tells whether step 1's transaction was about to commit.
func (rj *restoreJournal) commitSent() bool { return rj != nil && rj.rec.ObjectsXid != 0 }

// end removes the record (the restore is done or undone) and lets go.
func (rj *restoreJournal) end() error {
	if rj == nil {
		return nil
	}
	return rj.j.Close()
}

// keep lets go and keeps the record for the next restore (what it says
// may still be in the target).
func (rj *restoreJournal) keep() {
	if rj != nil {
		rj.j.Release()
	}
}
