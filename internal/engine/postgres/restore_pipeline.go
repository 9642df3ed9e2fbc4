package postgres

import (
	"context"
	"errors"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hubble/hubble-applianceapi/internal/engine"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// pipeline is steps 2 and 3a of a restore into the archive's own schema
// name: req.Workers connections load the tables (largest first) and build
// each table's indexes and key constraints as soon as its data is in, then
// attach the partitions' indexes to their parents' and add the foreign
// keys. Whatever one worker finishes lets another start, so every
// connection stays busy until the end, as with pg_restore -j.
//
// Each entry runs in its own transaction: a failure leaves what the
// restore created so far, which the caller's undo drops (indexes and
// constraints go with their tables).
type pipeline struct {
	e       *Engine
	req     engine.RestoreRequest
	script  *restoreScript
	rec     *issues
	target  string
	total   int64
	done    atomic.Int64
	rows    atomic.Int64
	loaded  atomic.Int64
	dataEnd func(args ...any)

	mu       sync.Mutex
	wake     chan struct{} // closed and replaced when work becomes ready
	loads    []engine.RestoreTable
	ready    []*postJob            // runnable, largest cost last
	waiting  map[string][]*postJob // table -> builds waiting for its load
	phases   [][]*postJob          // after the builds: the attachments, then the foreign keys
	holders  map[*session]bool     // sessions holding loaded tables (and their builds) uncommitted
	pending  int                   // loads and jobs of the current phase not finished
	loading  int                   // loads not finished
	firstErr error
	cancel   context.CancelCauseFunc
	verify   func(context.Context) error // req.Verified, once
	stripes  []*stripe                   // striped loads in progress, open to more lanes
}

// task is one unit of a worker's work: a table to load or a post-data job.
type task struct {
	load   *engine.RestoreTable
	job    *postJob
	lane   *lane // a lane of a striped load another worker runs
	inline int   // builds the load ran in its own transaction (held loads)
	commit bool  // commit the held loads, now that every load is done
}

// runPipeline loads the data and runs the build and foreign key jobs; it
// returns the jobs left for the final transaction.
func (e *Engine) runPipeline(ctx context.Context, req engine.RestoreRequest, s *restoreScript, rec *issues) (tables int, rows int64, rest []*postJob, err error) {
	p := &pipeline{e: e, req: req, script: s, rec: rec, target: targetOf(req), waiting: map[string][]*postJob{},
		wake: make(chan struct{}), verify: verifier(req)}
	size := map[string]int64{}
	for _, t := range req.Tables {
		p.loads = append(p.loads, t)
		p.total += t.Bytes
		size[t.Schema+"."+t.Name] = t.Bytes
	}
	sort.SliceStable(p.loads, func(i, j int) bool { return p.loads[i].Bytes > p.loads[j].Bytes })
	p.loading = len(p.loads)
	p.pending = len(p.loads)
	attach := &postJob{kind: jobAttach}
	var fks []*postJob
	for _, j := range splitPostData(s.postData.Entries) {
		switch j.kind {
		case jobBuild:
			p.pending++
			if b, ok := size[j.table]; ok {
				j.cost = b
				p.waiting[j.table] = append(p.waiting[j.table], j)
			} else {
				p.ready = append(p.ready, j) // no data file: a partitioned parent, a view, ...
			}
		case jobAttach:
			attach.entries = append(attach.entries, j.entries...)
		case jobForeignKey:
			fks = append(fks, j)
		default:
			rest = append(rest, j)
		}
	}
	if len(attach.entries) > 0 {
		p.phases = append(p.phases, []*postJob{attach})
	}
	p.phases = append(p.phases, fks)
	p.sortReady()
	p.advance()

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	p.cancel = cancel
	workers := max(1, req.Workers)
	dataEnd := phase(ctx, "data")
	p.dataEnd = dataEnd
	buildEnd := phase(ctx, "data, indexes and keys")
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.worker(ctx)
		}()
	}
	wg.Wait()
	buildEnd("foreign_keys", len(fks))
	if p.firstErr == nil && ctx.Err() != nil {
		p.firstErr = context.Cause(ctx)
	}
	if p.firstErr == nil {
		// Nothing was held (no table to load): the verdict still decides.
		p.firstErr = p.verify(ctx)
	}
	return int(p.loaded.Load()), p.rows.Load(), rest, p.firstErr
}

func (p *pipeline) sortReady() {
	sort.SliceStable(p.ready, func(i, j int) bool { return p.ready[i].cost < p.ready[j].cost })
}

func (p *pipeline) fail(err error) {
	p.mu.Lock()
	if p.firstErr == nil {
		p.firstErr = err
		p.cancel(err)
	}
	p.mu.Unlock()
}

// next returns the next task, waiting while nothing is runnable but other
// workers may still make something runnable; ok is false at the end. A
// worker holding loaded tables (held) is told to commit them as soon as the
// last load is done: what follows may need them.
func (p *pipeline) next(ctx context.Context, held bool) (task, bool) {
	for {
		p.mu.Lock()
		if ctx.Err() != nil {
			p.mu.Unlock()
			return task{}, false
		}
		switch {
		case held && p.loading == 0:
			p.mu.Unlock()
			return task{commit: true}, true
		case len(p.ready) > 0 && (p.req.Verified == nil || p.loading == 0):
			// Held loads keep their tables until the last load is done:
			// what would use them waits until then, loads go first.
			j := p.ready[len(p.ready)-1]
			p.ready = p.ready[:len(p.ready)-1]
			p.mu.Unlock()
			return task{job: j}, true
		case len(p.loads) > 0:
			t := p.loads[0]
			p.loads = p.loads[1:]
			p.mu.Unlock()
			return task{load: &t}, true
		case len(p.stripes) > 0:
			// Nothing else to load: help load a striped table.
			st := p.stripes[0]
			p.stripes = p.stripes[1:] // one lane per worker and stripe: taken by this one
			if l := st.join(); l != nil {
				p.mu.Unlock()
				return task{lane: l}, true
			}
			p.mu.Unlock()
			continue
		case p.pending == 0 && len(p.phases) == 0:
			p.mu.Unlock()
			return task{}, false
		}
		wake := p.wake
		p.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return task{}, false
		}
	}
}

// finished records the end of a task (successful or not, with
// ContinueOnError) and makes what it unblocks runnable.
func (p *pipeline) finished(t task) {
	if t.lane != nil {
		return // the striped load's owner finishes it
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if t.load != nil {
		key := t.load.Schema + "." + t.load.Name
		p.ready = append(p.ready, p.waiting[key]...)
		delete(p.waiting, key)
		p.sortReady()
		p.pending -= t.inline
		p.loading--
		if p.loading == 0 {
			p.dataEnd("tables", p.loaded.Load(), "rows", p.rows.Load())
		}
	}
	p.pending--
	p.advance()
	close(p.wake)
	p.wake = make(chan struct{})
}

// advance starts the next phase (the attachments, then the foreign keys)
// once every load and job of the current one is done and every held
// session committed: another session cannot see an index built in an
// uncommitted transaction, and ALTER INDEX ... ATTACH PARTITION names it
// (p.mu held, or before the workers start).
func (p *pipeline) advance() {
	for p.pending == 0 && len(p.holders) == 0 && len(p.phases) > 0 {
		p.ready = append(p.ready, p.phases[0]...)
		p.pending = len(p.phases[0])
		p.phases = p.phases[1:]
	}
}

func (p *pipeline) worker(ctx context.Context) {
	ses, err := newSession(ctx, p.req, p.connect)
	if err != nil {
		p.fail(err)
		return
	}
	defer ses.close()
	for {
		t, ok := p.next(ctx, ses.held)
		if !ok {
			break
		}
		if t.commit {
			if err := p.commitHeld(ctx, ses); err != nil {
				p.fail(err)
				return
			}
			continue
		}
		switch {
		case t.lane != nil:
			err = p.loadLane(ctx, ses, t.lane)
		case t.load != nil:
			t.inline, err = p.load(ctx, ses, *t.load)
		default:
			// What comes after the loads may need their tables: the
			// session's held ones are committed first.
			if err = p.commitHeld(ctx, ses); err == nil {
				err = p.run(ctx, ses.conn, t.job)
			}
		}
		if err != nil {
			p.fail(err)
			return
		}
		if ses.conn.IsClosed() { // possible only with ContinueOnError
			if ses.conn, err = p.connect(ctx); err != nil {
				p.fail(err)
				return
			}
		}
		p.finished(t)
	}
	if err := p.commitHeld(ctx, ses); err != nil {
		p.fail(err)
	}
}

// connect opens a worker's session with pg_dump's session settings (as
// pg_restore -j loads and builds with them). synchronous_commit is off: a
// crash before the end is a failed restore anyway, and the final
// transaction's synchronous commit flushes the WAL of all of these.
func (p *pipeline) connect(ctx context.Context) (*pgx.Conn, error) {
	conn, err := p.e.connect(ctx)
	if err != nil {
		return nil, err
	}
	x := &executor{conn: conn}
	if err := x.must(ctx, "session settings", p.script.postData.Preamble); err != nil {
		closeConn(conn)
		return nil, err
	}
	if err := x.must(ctx, "session settings", "SET synchronous_commit = off"); err != nil {
		closeConn(conn)
		return nil, err
	}
	return conn, nil
}

// run executes one job's entries, each in its own transaction. A deadlock
// (two foreign keys locking the same pair of tables in opposite order) is
// retried: the entry that lost was rolled back.
func (p *pipeline) run(ctx context.Context, conn *pgx.Conn, j *postJob) error {
	for _, e := range j.entries {
		sql := e.SQL
		if e.Setup != "" {
			sql = e.Setup + "\n" + sql
		}
		var err error
		for attempt := 0; ; attempt++ {
			_, err = conn.PgConn().Exec(ctx, sql).ReadAll()
			var pe *pgconn.PgError
			if err == nil || attempt == 5 || !errors.As(err, &pe) || pe.Code != "40P01" {
				break
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Duration(attempt+1) * 50 * time.Millisecond):
			}
		}
		if err == nil {
			continue
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !p.req.ContinueOnError {
			return &engine.RestoreError{Issue: issueOf(e.String(), e.SQL, err)}
		}
		p.rec.add(issueOf(e.String(), e.SQL, err))
	}
	return nil
}
