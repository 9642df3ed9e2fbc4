package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/hubble/hubble-applianceapi/internal/engine"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// executor runs statements on one connection inside a transaction. With
// cont (continue on error) each statement runs under a savepoint, so that
// a failure undoes only that statement and is recorded; without it the
// first failure is returned as a *engine.RestoreError.
type executor struct {
	conn  *pgx.Conn
	cont  bool
	rec   *issues
	ended bool // an entry ended the transaction it ran in
}

// issues collects failures from several goroutines.
type issues struct {
	mu   sync.Mutex
	list []engine.RestoreIssue
}

func (is *issues) add(i engine.RestoreIssue) {
	is.mu.Lock()
	is.list = append(is.list, i)
	is.mu.Unlock()
}

func (is *issues) all() []engine.RestoreIssue {
	is.mu.Lock()
	defer is.mu.Unlock()
	return append([]engine.RestoreIssue(nil), is.list...)
}

// entry runs one archive entry (sql, after its session setup) in the
// executor's transaction, which it must leave open: SQL that ended it
// (COMMIT, ROLLBACK) would leave the rest of the restore outside any
// transaction and its undo wrong, so it stops the restore.
func (x *executor) entry(ctx context.Context, e tocEntry, sql string) error {
	run := sql
	if e.Setup != "" {
		run = e.Setup + "\n" + sql
	}
	err := x.exec(ctx, e.String(), run)
	if st := x.conn.PgConn().TxStatus(); st == 'I' {
		x.ended = true
		if err == nil {
			err = failure(ctx, e.String(), sql, errors.New("the entry ended the restore's transaction"))
		}
	}
	return err
}

// exec runs one statement (or several, as one unit) about object.
func (x *executor) exec(ctx context.Context, object, sql string) error {
	if !x.cont {
		if err := x.raw(ctx, sql); err != nil {
			return failure(ctx, object, sql, err)
		}
		return nil
	}
	if err := x.raw(ctx, "SAVEPOINT hubble_restore_stmt"); err != nil {
		return failure(ctx, object, sql, err)
	}
	if err := x.raw(ctx, sql); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		x.rec.add(issueOf(object, sql, err))
		if rbErr := x.raw(ctx, "ROLLBACK TO SAVEPOINT hubble_restore_stmt"); rbErr != nil {
			return failure(ctx, object, sql, rbErr)
		}
		return nil
	}
	if err := x.raw(ctx, "RELEASE SAVEPOINT hubble_restore_stmt"); err != nil {
		return failure(ctx, object, sql, err)
	}
	return nil
}

// must runs a statement whose failure stops the restore in any mode (the
// restore's own bookkeeping: renames, schema creation).
func (x *executor) must(ctx context.Context, object, sql string) error {
	if err := x.raw(ctx, sql); err != nil {
		return failure(ctx, object, sql, err)
	}
	return nil
}

func (x *executor) raw(ctx context.Context, sql string) error {
	_, err := x.conn.PgConn().Exec(ctx, sql).ReadAll()
	return err
}

// failure turns err into a *engine.RestoreError, unless the context ended.
func failure(ctx context.Context, object, sql string, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return &engine.RestoreError{Issue: issueOf(object, sql, err)}
}

// issueOf describes a failed statement with the server's message.
func issueOf(object, sql string, err error) engine.RestoreIssue {
	reason := err.Error()
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		reason = pe.Message
		if pe.Detail != "" {
			reason += " (" + pe.Detail + ")"
		}
	}
	return engine.RestoreIssue{Object: object, Reason: reason, Statement: sql}
}

// renamer places the restored objects under the source schema's name
// while pg_restore's SQL runs, and back under the target name afterwards,
// inside the same transaction: the DDL is executed exactly as pg_dump wrote
// it, and the objects end up where ALTER SCHEMA ... RENAME puts them (OID
// references follow the rename; text such as function bodies does not).
// A schema already called like the source is moved aside meanwhile.
type renamer struct {
	source, target string
	aside          string // temporary name of an existing source schema, "" if none
}

func newRenamer(source, target string) *renamer {
	return &renamer{source: source, target: target, aside: "hubble_restore_aside_" + randomHex(6)}
}

// randomHex is n random bytes in hex, for names that must not collide.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (r *renamer) needed() bool { return r.source != r.target }

// enter renames target (which must exist) to source.
func (r *renamer) enter(ctx context.Context, x *executor, q querier) error {
	if !r.needed() {
		return nil
	}
	var sourceExists bool
	if err := q.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1)", r.source).Scan(&sourceExists); err != nil {
		return fmt.Errorf("look up schema %q: %w", r.source, err)
	}
	if sourceExists {
		if err := x.must(ctx, "SCHEMA "+r.source, "ALTER SCHEMA "+quoteIdent(r.source)+" RENAME TO "+quoteIdent(r.aside)); err != nil {
			return err
		}
	} else {
		r.aside = ""
	}
	return x.must(ctx, "SCHEMA "+r.target, "ALTER SCHEMA "+quoteIdent(r.target)+" RENAME TO "+quoteIdent(r.source))
}

// leave undoes enter.
func (r *renamer) leave(ctx context.Context, x *executor) error {
	if !r.needed() {
		return nil
	}
	if err := x.must(ctx, "SCHEMA "+r.target, "ALTER SCHEMA "+quoteIdent(r.source)+" RENAME TO "+quoteIdent(r.target)); err != nil {
		return err
	}
	if r.aside != "" {
		return x.must(ctx, "SCHEMA "+r.source, "ALTER SCHEMA "+quoteIdent(r.aside)+" RENAME TO "+quoteIdent(r.source))
	}
	return nil
}

// runEntries executes pg_restore's entries, each as one unit; the CREATE
// SCHEMA of the source schema becomes conditional (the schema exists:
// created beforehand, or the target's).
func runEntries(ctx context.Context, x *executor, list []tocEntry, source string) error {
	for _, e := range list {
		sql := e.SQL
		if e.Type == "SCHEMA" && e.Name == source {
			sql = createIfMissing(sql)
		}
		if strings.TrimSpace(sql) == "" {
			continue
		}
		if err := x.entry(ctx, e, sql); err != nil {
			return err
		}
	}
	return nil
}

// runPreamble runs pg_dump's session settings (search_path, check of
// function bodies, ...) that precede the first entry.
func runPreamble(ctx context.Context, x *executor, s tocSection) error {
	if strings.TrimSpace(s.Preamble) == "" {
		return nil
	}
	return x.must(ctx, "session settings", s.Preamble)
}
