package postgres

import (
	"bytes"
	"context"
	"fmt"
	"io"
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

// stripeChunk is the size of the chunks handed to the lanes: small enough
// that the lanes share the table evenly to its end, large enough that
// handing them over costs nothing.
const stripeChunk = 1 << 20

// minStripeBytes is the smallest table worth striping. A variable for tests.
var minStripeBytes int64 = 64 << 20

// joinHook, if set (by tests), is called when a worker joins a striped load.
var joinHook func()

// stripeable reports whether t is to be striped across workers.
func stripeable(req engine.RestoreRequest, t engine.RestoreTable, total int64, workers int) bool {
	return workers > 1 && !req.ContinueOnError && t.Bytes >= minStripeBytes && t.Bytes > total/int64(workers)
}

// chunk is a part of the COPY text. more means that it ends inside a row,
// which the next chunk (sent to the same lane) continues.
type chunk struct {
	b    []byte
	more bool
}

// stripe fans one source out to lanes, cutting only after a newline (in
// COPY text a raw newline only ever ends a row; newlines in values are
// escaped).
type stripe struct {
	t     engine.RestoreTable
	src   io.Reader
	ready chan *lane  // lanes asking for their next chunk
	free  chan []byte // buffers the lanes are done with
	stop  chan struct{}
	ended chan struct{} // closed when the source is read to its end or failed
	once  sync.Once
	err   error // the source's error, or the first lane's (set before stop or ended close)

	mu     sync.Mutex
	lanes  sync.WaitGroup
	rows   atomic.Int64
	open   bool // lanes may still join
	joined int
}

func newStripe(t engine.RestoreTable, src io.Reader, lanes int) *stripe {
	s := &stripe{t: t, src: src, ready: make(chan *lane), free: make(chan []byte, 2*lanes+1),
		stop: make(chan struct{}), ended: make(chan struct{}), open: true}
	for range cap(s.free) {
		s.free <- make([]byte, stripeChunk)
	}
	return s
}

// fail stops the stripe with err (the first error wins).
func (s *stripe) fail(err error) {
	s.once.Do(func() {
		s.err = err
		close(s.stop)
	})
}

// join adds a lane, or returns nil when the stripe no longer takes any.
func (s *stripe) join() *lane {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.open {
		return nil
	}
	s.lanes.Add(1)
	s.joined++
	if s.joined > 1 && joinHook != nil {
		joinHook()
	}
	return &lane{s: s, ch: make(chan chunk, 1)}
}

// dispatch reads the source and hands it out: a chunk ending with a whole
// row goes to whichever lane asks first, a row's continuation to the lane
// that has its beginning. It returns when the source is exhausted (or
// failed, or the stripe stopped), after which no lane joins.
func (s *stripe) dispatch() {
	defer func() {
		s.mu.Lock()
		s.open = false
		s.mu.Unlock()
		close(s.ended)
	}()
	var (
		cur  *lane // the lane receiving a row not yet ended
		buf  []byte
		fill int
	)
	take := func() bool {
		select {
		case buf = <-s.free:
			return true
		case <-s.stop:
			return false
		}
	}
	send := func(c chunk) bool {
		if cur == nil {
			select {
			case cur = <-s.ready:
			case <-s.stop:
				return false
			}
		}
		cur.ch <- c // a lane takes its chunk before it asks again: never blocks
		if !c.more {
			cur = nil
		}
		return true
	}
	if !take() {
		return
	}
	for {
		n, err := io.ReadFull(s.src, buf[fill:])
		fill += n
		eof := err == io.EOF || err == io.ErrUnexpectedEOF
		if err != nil && !eof {
			s.fail(&sourceError{file: s.t.File, err: err})
			return
		}
		if eof {
			if fill > 0 {
				send(chunk{b: buf[:fill]})
			}
			return
		}
		cut := bytes.LastIndexByte(buf, '\n') + 1
		if cut == 0 { // one row fills the chunk: it goes on in the next
			if !send(chunk{b: buf, more: true}) {
				return
			}
			if !take() {
				return
			}
			fill = 0
			continue
		}
		full := buf
		if !take() {
			return
		}
		fill = copy(buf, full[cut:]) // the next row's beginning
		if !send(chunk{b: full[:cut]}) {
			return
		}
	}
}

// lane is one session's COPY stream of a striped table.
type lane struct {
	s   *stripe
	ch  chan chunk
	cur chunk
	off int
	got bool // the current chunk has been taken
}

// Read implements io.Reader for the lane's COPY.
func (l *lane) Read(p []byte) (int, error) {
	for l.off == len(l.cur.b) {
		if l.got {
			l.s.free <- l.cur.b[:cap(l.cur.b)]
			l.got = false
		}
		if !l.cur.more {
			// Between rows: ask for a chunk, unless the source is done.
			select {
			case l.s.ready <- l:
			case <-l.s.ended:
				return 0, l.s.endErr()
			case <-l.s.stop:
				return 0, l.s.endErr()
			}
		}
		select {
		case c := <-l.ch:
			l.cur, l.off, l.got = c, 0, true
		case <-l.s.stop:
			return 0, l.s.endErr()
		case <-l.s.ended:
			// The chunk sent before the end, if any, is still there.
			select {
			case c := <-l.ch:
				l.cur, l.off, l.got = c, 0, true
			default:
				return 0, l.s.endErr()
			}
		}
	}
	n := copy(p, l.cur.b[l.off:])
	l.off += n
	return n, nil
}

func (s *stripe) stopped() bool {
	select {
	case <-s.stop:
		return true
	default:
		return false
	}
}

func (s *stripe) endErr() error {
	select {
	case <-s.stop:
		return s.err
	default:
		return io.EOF
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
			l.done(0, err)
			return err
		}
		s.held = true
	}
	sql := "COPY " + quoteIdent(schema, t.Name)
	if len(cols) > 0 {
		sql += " (" + columnList(cols) + ")"
	}
	sql += " FROM STDIN"
	tag, err := s.conn.PgConn().CopyFrom(ctx, l, sql)
	if err != nil {
		if l.s.stopped() { // the cause is elsewhere: the source, another lane, the context
			l.done(0, nil)
			return l.s.err
		}
		err = failure(ctx, "TABLE "+schema+"."+t.Name, "COPY "+quoteIdent(schema, t.Name)+" FROM "+t.File, err)
		l.done(0, err)
		return err
	}
	l.done(tag.RowsAffected(), nil)
	return nil
}

// loadStriped is the load of a striped table by the worker that picked it:
// it reads the source, takes the first lane, and waits for the lanes other
// workers joined. It returns the rows loaded, or the first failure.
func (s *session) loadStriped(ctx context.Context, schema string, t engine.RestoreTable, cols []string,
	st *stripe, progress func(int64)) (int64, *engine.RestoreIssue, error) {
	src, err := s.open(ctx, t)
	if err != nil {
		return 0, nil, &sourceError{file: t.File, err: err}
	}
	defer src.Close()
	start := time.Now()
	st.src = &sourceReader{r: src, report: progress}
	// A canceled restore stops the stripe: nothing may wait for it.
	defer context.AfterFunc(ctx, func() { st.fail(ctx.Err()) })()
	first := st.join()
	go st.dispatch()
	_ = s.loadLane(ctx, schema, t, cols, first) // a failure stops the stripe
	<-st.ended
	st.lanes.Wait()
	if st.stopped() {
		return 0, nil, st.err
	}
	loggerFrom(ctx).Info("table loaded by several sessions", "table", schema+"."+t.Name, "sessions", st.joined,
		"seconds", time.Since(start).Seconds())
	if n := st.rows.Load(); n != t.Rows {
		return n, &engine.RestoreIssue{Object: "TABLE " + schema + "." + t.Name, Statement: "COPY " + quoteIdent(schema, t.Name) + " FROM " + t.File,
			Reason: fmt.Sprintf("row count mismatch: %d rows loaded, the manifest says %d", n, t.Rows)}, nil
	}
	return st.rows.Load(), nil, nil
}
