package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hubble/hubble-applianceapi/internal/engine"
)

// A table larger than its share of the workers (more than the total data
// divided by the workers) would keep one connection busy long after the
// others ran out of tables: a COPY runs on one server process. Such a table
// is striped: its COPY text is cut between rows into chunks that several
// sessions COPY at once, each worker joining as soon as it has nothing else
// to load. The source is still read once, in order, so it is verified as
// any other (the archive's Entry hashes it as it goes).
//
// A striped table is loaded without TRUNCATE and FREEZE (several sessions
// insert into it; FREEZE needs the one that truncated it), and its indexes
// are built once every session loading it has committed.

// minStripeBytes is the smallest table worth striping. A variable for tests.
var minStripeBytes int64 = 64 << 20

// joinHook, if set (by tests), is called when a worker joins a striped load.
var joinHook func()

// stripeable reports whether t is to be striped across workers.
func stripeable(req engine.RestoreRequest, t engine.RestoreTable, total int64, workers int) bool {
	return workers > 1 && !req.ContinueOnError && t.Bytes >= minStripeBytes && t.Bytes > total/int64(workers)
}

// stripe shares one source among lanes, each the reader of one session's
// COPY. A lane reads straight into its COPY's buffer, holding the source
// while it reads; it hands the source on only between rows (in COPY text a
// raw newline only ever ends a row; newlines in values are escaped), and
// what it read past its last newline goes to the next lane first. So no
// row is split between lanes, nothing is copied but the few bytes of a
// row's beginning, and the source is read once, in order.
type stripe struct {
	t     engine.RestoreTable
	src   io.Reader
	token chan struct{} // the source: held by the lane reading it
	stop  chan struct{} // closed on failure
	carry []byte        // read past the last row boundary: the next lane's first bytes (token holder only)

	mu     sync.Mutex
	eof    bool
	err    error // a failure of the source, of a lane or the context: the first one
	joined int
	lanes  sync.WaitGroup
	// copying counts the lanes whose COPY has not returned; settled is
	// closed when it drops to zero, after which no lane can join.
	copying int
	settled chan struct{}
	rows    atomic.Int64
}

func newStripe(t engine.RestoreTable, src io.Reader) *stripe {
	s := &stripe{t: t, src: src, token: make(chan struct{}, 1), stop: make(chan struct{}), settled: make(chan struct{})}
	s.token <- struct{}{}
	return s
}

// fail stops the stripe with err (the first error wins).
func (s *stripe) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		s.err = err
		close(s.stop)
	}
}

func (s *stripe) failed() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// join adds a lane, or returns nil when the source is read to its end (or
// failed): there is nothing left to share.
func (s *stripe) join() *lane {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.eof || s.err != nil {
		return nil
	}
	s.lanes.Add(1)
	s.joined++
	s.copying++
	if s.joined > 1 && joinHook != nil {
		joinHook()
	}
	return &lane{s: s}
}

// lane is one session's COPY stream of a striped table.
type lane struct {
	s       *stripe
	holding bool // this lane holds the source: it is in the middle of a row
}

// Read implements io.Reader for the lane's COPY: whole rows, but for a row
// longer than p, which the lane then goes on with.
func (l *lane) Read(p []byte) (int, error) {
	s := l.s
	if !l.holding {
		select {
		case <-s.token:
			l.holding = true
		case <-s.stop:
			return 0, s.failed()
		}
	}
	n, err := l.read(p)
	if l.holding && (err != nil || n == 0 || p[n-1] == '\n' || s.atEOF()) {
		l.holding = false
		s.token <- struct{}{}
	}
	return n, err
}

// read fills p from the carry and the source (the lane holds the source)
// and cuts it after its last newline.
func (l *lane) read(p []byte) (int, error) {
	s := l.s
	if err := s.failed(); err != nil {
		return 0, err
	}
	if len(p) == 0 {
		return 0, nil
	}
	n := copy(p, s.carry)
	rest := s.carry[n:]
	if len(rest) == 0 && !s.atEOF() {
		m, err := io.ReadFull(s.src, p[n:])
		n += m
		switch {
		case err == io.EOF || err == io.ErrUnexpectedEOF:
			s.mu.Lock()
			s.eof = true
			s.mu.Unlock()
		case err != nil:
			s.fail(&sourceError{file: s.t.File, err: err})
			return 0, s.failed()
		}
	}
	s.carry = rest
	if len(rest) == 0 && s.atEOF() { // the last bytes, whole
		if n == 0 {
			return 0, io.EOF
		}
		return n, nil
	}
	i := bytes.LastIndexByte(p[:n], '\n')
	if i < 0 || i+1 == n { // the middle of a row (the lane goes on with it), or whole rows
		return n, nil
	}
	s.carry = append(append(make([]byte, 0, n-i-1+len(rest)), p[i+1:n]...), rest...)
	return i + 1, nil
}

func (s *stripe) atEOF() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.eof
}

// copied records that a lane's COPY returned.
func (l *lane) copied() {
	s := l.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.copying--; s.copying == 0 {
		close(s.settled)
	}
}

// done records a lane's end.
func (l *lane) done(rows int64, err error) {
	if err != nil {
		l.s.fail(err)
	}
	l.s.rows.Add(rows)
	l.s.lanes.Done()
}

// loadLane copies one lane of a striped table: in the session's held
// transaction (as any load) or in its own.
func (s *session) loadLane(ctx context.Context, schema string, t engine.RestoreTable, cols []string, l *lane) error {
	if s.hold && !s.held {
		if err := s.exec(ctx, "BEGIN"); err != nil {
			err = failure(ctx, "TABLE "+schema+"."+t.Name, "BEGIN", err)
			l.copied()
			l.done(0, err)
			return err
		}
		s.held = true
	}
	sql := "COPY " + quoteIdent(schema, t.Name)
	if len(cols) > 0 {
		sql += " (" + columnList(cols) + ")"
	}
	var in io.Reader = l
	var bin *copyBinaryReader
	if kinds := s.copyKinds(ctx, schema, t.Name, cols); kinds != nil {
		bin = newCopyBinaryReader(l, kinds)
		in, sql = bin, sql+" FROM STDIN WITH (FORMAT binary)"
	} else {
		sql += " FROM STDIN"
	}
	// A converting lane of a held session can be undone alone: when any
	// lane's conversion refuses a value, the table is loaded again as text.
	undoable := bin != nil && s.hold
	if undoable {
		if err := s.exec(ctx, "SAVEPOINT hubble_lane"); err != nil {
			l.copied()
			err = failure(ctx, "TABLE "+schema+"."+t.Name, "SAVEPOINT", err)
			l.done(0, err)
			return err
		}
	}
	tag, err := s.conn.PgConn().CopyFrom(ctx, in, sql)
	if err != nil && bin != nil {
		if refused := bin.refusal(); refused != nil {
			l.s.fail(refused)
		}
	}
	l.copied()
	if undoable {
		// Whether this lane's rows stay depends on every lane's.
		select {
		case <-l.s.settled:
		case <-ctx.Done():
		}
		var refused *transcodeError
		if errors.As(l.s.failed(), &refused) && ctx.Err() == nil {
			if uerr := s.exec(ctx, "ROLLBACK TO SAVEPOINT hubble_lane; RELEASE SAVEPOINT hubble_lane"); uerr != nil {
				uerr = failure(ctx, "TABLE "+schema+"."+t.Name, "ROLLBACK TO SAVEPOINT", uerr)
				l.done(0, uerr)
				return uerr
			}
			l.done(0, nil)
			return nil // the owner loads the table again
		}
		if err == nil {
			err = s.exec(ctx, "RELEASE SAVEPOINT hubble_lane")
		}
	}
	if err != nil {
		if cause := l.s.failed(); cause != nil { // the source, another lane, the context
			l.done(0, nil)
			if errors.As(cause, new(*transcodeError)) {
				return nil // the owner loads the table again
			}
			return cause
		}
		err = failure(ctx, "TABLE "+schema+"."+t.Name, "COPY "+quoteIdent(schema, t.Name)+" FROM "+t.File, err)
		l.done(0, err)
		return err
	}
	l.done(tag.RowsAffected(), nil)
	return nil
}

// loadStriped is the load of a striped table by the worker that picked it:
// it opens the source, shares it (share makes it joinable by the other
// workers until the returned function is called), takes the first lane,
// and waits for the lanes the others joined. It returns the rows loaded,
// or the first failure.
func (s *session) loadStriped(ctx context.Context, schema string, t engine.RestoreTable, cols []string,
	progress func(int64), share func(*stripe) (unshare func())) (int64, *engine.RestoreIssue, error) {
	src, err := s.open(ctx, t)
	if err != nil {
		return 0, nil, &sourceError{file: t.File, err: err}
	}
	var sent atomic.Int64 // the stripe's bytes, taken back if it is loaded again
	r := &sourceReader{r: src, c: src, report: func(n int64) { sent.Add(n); progress(n) }}
	defer r.Close()
	start := time.Now()
	st := newStripe(t, r)
	defer share(st)()
	// A canceled restore stops the stripe: nothing may wait for it.
	defer context.AfterFunc(ctx, func() { st.fail(ctx.Err()) })()
	first := st.join()
	_ = s.loadLane(ctx, schema, t, cols, first) // a failure stops the stripe
	st.lanes.Wait()
	var refused *transcodeError
	if errors.As(st.failed(), &refused) && ctx.Err() == nil {
		// Every lane is undone (or, without a held transaction, the
		// reload's TRUNCATE takes their rows): one session loads the text.
		progress(-sent.Swap(0))
		loggerFrom(ctx).Warn("table loaded as COPY text", "table", "TABLE "+schema+"."+t.Name, "reason", refused.Error())
		_ = r.Close()
		return s.loadAs(ctx, schema, t, cols, progress, false)
	}
	if err := st.failed(); err != nil {
		var se *sourceError
		if !errors.As(err, &se) && ctx.Err() == nil {
			// As for any table: damage is what to report, if any.
			r.drain()
			if serr := r.failure(); serr != nil {
				return 0, nil, &sourceError{file: t.File, err: serr}
			}
		}
		return 0, nil, err
	}
	loggerFrom(ctx).Info("table loaded by several sessions", "table", schema+"."+t.Name, "sessions", st.joined,
		"seconds", time.Since(start).Seconds())
	if n := st.rows.Load(); n != t.Rows {
		return n, &engine.RestoreIssue{Object: "TABLE " + schema + "." + t.Name, Statement: "COPY " + quoteIdent(schema, t.Name) + " FROM " + t.File,
			Reason: fmt.Sprintf("row count mismatch: %d rows loaded, the manifest says %d", n, t.Rows)}, nil
	}
	return st.rows.Load(), nil, nil
}

// loadStriped loads a striped table: this worker reads it and takes the
// first lane, the others join as they run out of tables.
func (p *pipeline) loadStriped(ctx context.Context, ses *session, t engine.RestoreTable, progress func(int64)) (int64, *engine.RestoreIssue, error) {
	return ses.loadStriped(ctx, p.target, t, p.script.columns[t.File], progress, func(st *stripe) func() {
		p.mu.Lock()
		// Each other worker may join once (the owner is lane 0).
		for range max(1, p.req.Workers) - 1 {
			p.stripes = append(p.stripes, st)
		}
		close(p.wake)
		p.wake = make(chan struct{})
		p.mu.Unlock()
		return func() {
			p.mu.Lock()
			p.stripes = slices.DeleteFunc(p.stripes, func(x *stripe) bool { return x == st })
			p.mu.Unlock()
		}
	})
}

// loadLane is a worker's part in another's striped load. A held session
// then holds rows of the table: it is one of the holders the phases after
// the builds wait for.
func (p *pipeline) loadLane(ctx context.Context, ses *session, l *lane) error {
	err := ses.loadLane(ctx, p.target, l.s.t, p.script.columns[l.s.t.File], l)
	if ses.held {
		p.mu.Lock()
		if p.holders == nil {
			p.holders = map[*session]bool{}
		}
		p.holders[ses] = true
		p.mu.Unlock()
	}
	return err
}
