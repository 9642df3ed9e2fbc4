package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hubble/hubble-applianceapi/internal/engine"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// loadData is step 2 when the indexes are built afterwards (a restore under
// another schema name): req.Workers connections each COPY one table at a
// time, largest first. Memory does not grow with a table's size: the data
// is streamed to the server. Each table's row count is checked against the
// manifest. Without ContinueOnError the first failure cancels the other
// loaders and is returned. With req.Verified the sessions hold their
// tables uncommitted until every load is done and the archive verified.
func (e *Engine) loadData(ctx context.Context, req engine.RestoreRequest, s *restoreScript, rec *issues) (int, int64, error) {
	target := targetOf(req)
	tables := append([]engine.RestoreTable(nil), req.Tables...)
	sort.SliceStable(tables, func(i, j int) bool { return tables[i].Bytes > tables[j].Bytes })
	var total int64
	for _, t := range tables {
		total += t.Bytes
	}
	workers := max(1, min(req.Workers, len(tables)))

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	jobs := make(chan engine.RestoreTable)
	var (
		wg       sync.WaitGroup
		loading  sync.WaitGroup // workers still loading (the commit barrier)
		done     atomic.Int64
		rows     atomic.Int64
		loaded   atomic.Int64
		firstErr error
		errOnce  sync.Once
		verify   = verifier(req)
	)
	fail := func(err error) {
		errOnce.Do(func() { firstErr = err; cancel(err) })
	}
	progress := func(n int64) {
		d := done.Add(n)
		if req.Progress != nil {
			req.Progress(d, total)
		}
	}
	for range workers {
		wg.Add(1)
		loading.Add(1)
		go func() {
			defer wg.Done()
			ses, err := newSession(ctx, req, e.connect)
			if err != nil {
				loading.Done()
				fail(err)
				for range jobs {
				}
				return
			}
			defer ses.close()
			for t := range jobs {
				if ctx.Err() != nil {
					continue
				}
				n, issue, err := ses.load(ctx, target, t, s.columns[t.File], progress)
				switch {
				case err != nil:
					fail(err)
				case issue != nil && !req.ContinueOnError:
					fail(&engine.RestoreError{Issue: *issue})
				case issue != nil:
					rec.add(*issue)
				default:
					rows.Add(n)
					loaded.Add(1)
				}
			}
			loading.Done()
			if ses.held && ctx.Err() == nil {
				loading.Wait()
				if err := ses.commit(ctx, verify); err != nil {
					fail(err)
				}
			}
		}()
	}
	for _, t := range tables {
		if ctx.Err() != nil {
			break
		}
		jobs <- t
	}
	close(jobs)
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		firstErr = context.Cause(ctx)
	}
	if firstErr == nil {
		// With no table to load the sessions had nothing to hold: the
		// archive's verdict is still what decides.
		firstErr = verify(ctx)
	}
	return int(loaded.Load()), rows.Load(), firstErr
}

// load copies one table; with ContinueOnError a failure is recorded. In a
// held session the table's builds run right after, in the same
// transaction (no other session may touch the table before the commit);
// it returns how many.
func (p *pipeline) load(ctx context.Context, ses *session, t engine.RestoreTable) (int, error) {
	progress := func(n int64) {
		d := p.done.Add(n)
		if p.req.Progress != nil {
			p.req.Progress(d, p.total)
		}
	}
	striped := stripeable(p.req, t, p.total, max(1, p.req.Workers))
	var n int64
	var issue *engine.RestoreIssue
	var err error
	if striped {
		n, issue, err = p.loadStriped(ctx, ses, t, progress)
	} else {
		n, issue, err = ses.load(ctx, p.target, t, p.script.columns[t.File], progress)
	}
	switch {
	case err != nil:
		return 0, err
	case issue == nil:
		p.rows.Add(n)
		p.loaded.Add(1)
	case !p.req.ContinueOnError:
		return 0, &engine.RestoreError{Issue: *issue}
	default:
		p.rec.add(*issue)
	}
	if !ses.held {
		return 0, nil
	}
	key := t.Schema + "." + t.Name
	p.mu.Lock()
	if p.holders == nil {
		p.holders = map[*session]bool{}
	}
	p.holders[ses] = true
	var builds []*postJob
	if !striped {
		// A striped table's builds wait for every session loading it
		// to commit: they are released to all workers (finished).
		builds = p.waiting[key]
		delete(p.waiting, key)
	}
	p.mu.Unlock()
	x := &executor{conn: ses.conn, cont: p.req.ContinueOnError, rec: p.rec}
	if len(builds) > 0 && p.e.localServer() && max(1, p.req.Workers) >= runtime.NumCPU() {
		// The database shares this machine's cores with the other
		// sessions' loads: parallel index build workers would only add
		// their coordination to the CPU the loads need (about 5 % of a
		// restore's CPU on 2 cores). The last loads' builds keep them.
		p.mu.Lock()
		others := p.loading > 1
		p.mu.Unlock()
		if others != ses.serialBuilds {
			set := "RESET max_parallel_maintenance_workers"
			if others {
				set = "SET max_parallel_maintenance_workers = 0"
			}
			if err := ses.exec(ctx, set); err != nil {
				return 0, failure(ctx, "TABLE "+t.Schema+"."+t.Name, set, err)
			}
			ses.serialBuilds = others
		}
	}
	for _, j := range builds {
		for _, e := range j.entries {
			if err := x.entry(ctx, e, e.SQL); err != nil {
				return 0, err
			}
		}
	}
	return len(builds), nil
}

// commitHeld commits a held session once every load is done and the
// archive is verified.
func (p *pipeline) commitHeld(ctx context.Context, ses *session) error {
	if !ses.held {
		return nil
	}
	for {
		p.mu.Lock()
		loading, wake := p.loading, p.wake
		p.mu.Unlock()
		if loading == 0 {
			break
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err := ses.commit(ctx, p.verify); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.holders, ses)
	p.advance()
	close(p.wake)
	p.wake = make(chan struct{})
	return nil
}

// verifier returns req.Verified wrapped to run once (nil: always nil).
func verifier(req engine.RestoreRequest) func(context.Context) error {
	var once sync.Once
	var err error
	return func(ctx context.Context) error {
		if req.Verified == nil {
			return nil
		}
		once.Do(func() { err = req.Verified(ctx) })
		return err
	}
}

// session is one loading connection. Without req.Verified each table is
// loaded in its own transaction and committed at once. With it, the
// session's tables are loaded in one transaction that commit ends, after
// the archive's verdict: TRUNCATE gives each table a new, private file that
// other sessions see only from the commit on (and keeps COPY FREEZE
// possible), so nothing unverified is ever visible.
type session struct {
	req     engine.RestoreRequest
	connect func(context.Context) (*pgx.Conn, error)
	conn    *pgx.Conn
	hold    bool // req.Verified set
	held    bool // a held transaction is open
	// serialBuilds: max_parallel_maintenance_workers is 0 (while other
	// loads run; see pipeline.load).
	serialBuilds bool
}

// newSession opens a session with connect.
func newSession(ctx context.Context, req engine.RestoreRequest, connect func(context.Context) (*pgx.Conn, error)) (*session, error) {
	conn, err := connect(ctx)
	if err != nil {
		return nil, err
	}
	return &session{req: req, connect: connect, conn: conn, hold: req.Verified != nil}, nil
}

// close ends the connection; a held transaction not committed is rolled
// back with it.
func (s *session) close() { closeConn(s.conn) }

// sourceError is a failure of a table's data (unreadable, or not what the
// manifest says): never a statement's issue, it stops the restore.
type sourceError struct {
	file string
	err  error
}

func (e *sourceError) Error() string { return "read data file " + e.file + ": " + e.err.Error() }
func (e *sourceError) Unwrap() error { return e.err }

// load streams one table's data into it and returns the row count. A
// failing statement is returned as an issue (the session can go on), a
// failing source or connection as an error. The table was created by this
// restore and is empty: it is truncated and loaded with FREEZE in one
// transaction, so the rows are written frozen and their pages all-visible,
// and the index builds and first queries do not rewrite every page to set
// hint bits (pg_restore -j truncates before its COPY too; FREEZE goes one
// step further).
func (s *session) load(ctx context.Context, schema string, t engine.RestoreTable, cols []string, progress func(int64)) (int64, *engine.RestoreIssue, error) {
	return s.loadAs(ctx, schema, t, cols, progress, true)
}

// loadAs is load, converting to COPY binary if convert and the table's
// columns allow.
func (s *session) loadAs(ctx context.Context, schema string, t engine.RestoreTable, cols []string, progress func(int64),
	convert bool) (int64, *engine.RestoreIssue, error) {
	if s.conn.IsClosed() { // a failure closed it (possible only with ContinueOnError)
		conn, err := s.connect(ctx)
		if err != nil {
			return 0, nil, err
		}
		s.conn = conn
	}
	table := quoteIdent(schema, t.Name)
	sql := "COPY " + table
	if len(cols) > 0 {
		sql += " (" + columnList(cols) + ")"
	}
	object := "TABLE " + schema + "." + t.Name
	statement := "COPY " + table + " FROM " + t.File
	begin, end, undo := "BEGIN; TRUNCATE ONLY "+table, "COMMIT", "ROLLBACK"
	if s.hold {
		if !s.held {
			if err := s.exec(ctx, "BEGIN"); err != nil {
				return 0, nil, failure(ctx, object, "BEGIN", err)
			}
			s.held = true
		}
		// A savepoint keeps a failing table from taking the session's
		// other tables with it (ContinueOnError goes on without it).
		begin, end, undo = "SAVEPOINT hubble_load; TRUNCATE ONLY "+table, "RELEASE SAVEPOINT hubble_load",
			"ROLLBACK TO SAVEPOINT hubble_load"
	}
	var kinds []colKind
	if convert {
		kinds = s.copyKinds(ctx, schema, t.Name, cols)
	}
	var sent atomic.Int64 // this attempt's bytes, taken back if it is undone
	counted := func(n int64) { sent.Add(n); progress(n) }
	for {
		tag, refused, err := s.copyIn(ctx, t, sql, kinds, begin, counted)
		if refused != nil {
			// Text in a form the conversion does not take: the table
			// is loaded again, as text, after its first attempt is undone.
			progress(-sent.Swap(0))
			loggerFrom(ctx).Warn("table loaded as COPY text", "table", object, "reason", refused.Error())
			again := undo
			if s.hold {
				again += "; RELEASE SAVEPOINT hubble_load"
			}
			if err := s.exec(ctx, again); err != nil {
				return s.failed(ctx, object, statement, undo, err)
			}
			kinds = nil
			continue
		}
		var serr *sourceError
		if errors.As(err, &serr) {
			return 0, nil, err
		}
		if err != nil {
			return s.failed(ctx, object, statement, undo, err)
		}
		if err := s.exec(ctx, end); err != nil {
			return s.failed(ctx, object, statement, undo, err)
		}
		if n := tag.RowsAffected(); n != t.Rows {
			return n, &engine.RestoreIssue{Object: object, Statement: statement,
				Reason: fmt.Sprintf("row count mismatch: %d rows loaded, the manifest says %d", n, t.Rows)}, nil
		}
		return tag.RowsAffected(), nil, nil
	}
}

// copyIn runs begin and the COPY of t's data: as COPY binary converted from
// the text when kinds is set, else as the text. refused is set when the
// conversion refused a value (nothing else is then reported: the COPY is
// to be undone and run again as text); a failing source is a *sourceError.
func (s *session) copyIn(ctx context.Context, t engine.RestoreTable, sql string, kinds []colKind, begin string,
	progress func(int64)) (pgconn.CommandTag, *transcodeError, error) {
	src, err := s.open(ctx, t)
	if err != nil {
		return pgconn.CommandTag{}, nil, &sourceError{file: t.File, err: err}
	}
	r := &sourceReader{r: src, c: src, report: progress}
	defer r.Close()
	if err := s.exec(ctx, begin); err != nil {
		return pgconn.CommandTag{}, nil, err
	}
	var in io.Reader = r
	var bin *copyBinaryReader
	if kinds != nil {
		bin = newCopyBinaryReader(r, kinds)
		in, sql = bin, sql+" FROM STDIN WITH (FORMAT binary, FREEZE)"
	} else {
		sql += " FROM STDIN WITH (FREEZE)"
	}
	tag, err := s.conn.PgConn().CopyFrom(ctx, in, sql)
	if err != nil && bin != nil && ctx.Err() == nil && r.failure() == nil {
		if refused := bin.refusal(); refused != nil {
			return tag, refused, nil
		}
	}
	if err != nil && ctx.Err() == nil {
		// Damaged data often fails COPY before its checksum is reached:
		// the rest is read, and damage, if any, is the failure to report.
		r.drain()
	}
	if serr := r.failure(); serr != nil {
		return tag, nil, &sourceError{file: t.File, err: serr}
	}
	return tag, nil, err
}

// open opens a table's data: req.Open's stream, or the extracted file.
func (s *session) open(ctx context.Context, t engine.RestoreTable) (io.ReadCloser, error) {
	if s.req.Open != nil {
		return s.req.Open(ctx, t)
	}
	return os.Open(filepath.Join(s.req.Dir, t.File))
}

// failed undoes a failed table's transaction (or savepoint) and returns
// its issue; a canceled restore is an error. A held transaction that
// cannot go on is an error too: the tables it held are lost.
func (s *session) failed(ctx context.Context, object, statement, undo string, err error) (int64, *engine.RestoreIssue, error) {
	if ctx.Err() != nil {
		return 0, nil, ctx.Err()
	}
	issue := issueOf(object, statement, err)
	if !s.conn.IsClosed() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if _, rerr := s.conn.PgConn().Exec(rctx, undo).ReadAll(); rerr != nil {
			_ = s.conn.Close(rctx)
		}
	}
	if s.held && s.conn.IsClosed() {
		return 0, nil, &engine.RestoreError{Issue: issue}
	}
	return 0, &issue, nil
}

// commit ends the held transaction once the archive is verified.
func (s *session) commit(ctx context.Context, verify func(context.Context) error) error {
	if !s.held {
		return nil
	}
	if err := verify(ctx); err != nil {
		return err
	}
	if err := s.exec(ctx, "COMMIT"); err != nil {
		return failure(ctx, "SCHEMA "+targetOf(s.req), "COMMIT", err)
	}
	s.held = false
	return nil
}

func (s *session) exec(ctx context.Context, sql string) error {
	_, err := s.conn.PgConn().Exec(ctx, sql).ReadAll()
	return err
}

// sourceReader reports the bytes read and remembers the source's own
// failure: COPY then fails with the server's "COPY from stdin failed",
// and the cause worth reporting is this one. pgx may still be reading it
// when CopyFrom returns with an error: reads and Close are serialized.
type sourceReader struct {
	r      io.Reader
	c      io.Closer
	report func(int64)

	mu     sync.Mutex
	err    error
	closed bool
}

var errSourceClosed = errors.New("read data: closed")

func (p *sourceReader) Read(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return 0, errSourceClosed
	}
	n, err := p.r.Read(b)
	if n > 0 {
		p.report(int64(n))
	}
	if err != nil && !errors.Is(err, io.EOF) && p.err == nil {
		p.err = err
	}
	return n, err
}

// failure is the source's own error, if it failed.
func (p *sourceReader) failure() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// drain reads the rest of the source, so that it is checked to its end.
func (p *sourceReader) drain() {
	_, _ = io.Copy(io.Discard, p)
}

// Close closes the source (once every read is over).
func (p *sourceReader) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.c == nil {
		return nil
	}
	p.closed = true
	return p.c.Close()
}
