package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/hubble/hubble-applianceapi/internal/engine"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Snapshot is one consistent read view of a schema: a coordinating
// REPEATABLE READ transaction that exported its snapshot and holds ACCESS
// SHARE locks on the schema's tables, and a pool of worker connections that
// adopted the snapshot. It implements engine.Snapshot.
type Snapshot struct {
	eng        *Engine
	info       engine.Info
	snapshotID string
	coord      *pgx.Conn
	coordTx    pgx.Tx
	tables     []engine.Table
	sequences  []sequenceValue
	matviews   []string
	requires   []requirement

	// The schema's DDL, dumped by pg_dump while the workers copy tables
	// (see openSnapshot): ddl and ddlErr are set when ddlDone is closed.
	ddl       schemaDDL
	ddlErr    error
	ddlDone   chan struct{}
	ddlCancel context.CancelFunc

	// pool holds one entry per worker; nil is a worker that has to be
	// (re)connected, after a failed copy left its connection unusable.
	pool chan *pgx.Conn
	done chan struct{} // closed by Close

	// holder identifies the coordinating transaction in pg_locks.
	holder struct {
		pid  int64
		vxid string
	}
	coordMu sync.Mutex // serializes the coordinator's use after opening
	lostErr error      // why the snapshot was lost; guarded by coordMu

	mu     sync.Mutex
	closed bool
}

var _ engine.Snapshot = (*Snapshot)(nil)

// Snapshot opens the consistent view of schema with workers worker
// connections and takes the schema's DDL with pg_dump under it.
func (e *Engine) Snapshot(ctx context.Context, schema string, workers int) (engine.Snapshot, error) {
	s, err := e.openSnapshot(ctx, schema, workers)
	if err != nil {
		return nil, err
	}
	return s, nil
}

func (e *Engine) openSnapshot(ctx context.Context, schema string, workers int) (_ *Snapshot, err error) {
	if workers < 1 {
		workers = 1
	}
	coord, err := e.connect(ctx)
	if err != nil {
		return nil, err
	}
	s := &Snapshot{
		eng:   e,
		info:  engine.Info{Engine: "postgres", Schema: schema, ServerVersion: serverVersion(coord)},
		coord: coord,
		pool:  make(chan *pgx.Conn, workers),
		done:  make(chan struct{}),
	}
	defer func() {
		if err != nil {
			_ = s.Close()
		}
	}()
	if err := direct(ctx, coord); err != nil {
		return nil, err
	}
	tools, err := e.tools(ctx, coord)
	if err != nil {
		return nil, err
	}
	s.info.ClientVersion = tools.version

	if err := s.begin(ctx, schema); err != nil {
		return nil, err
	}
	if s.tables, err = dataTables(ctx, s.coordTx, schema); err != nil {
		return nil, err
	}
	if s.sequences, err = sequenceValues(ctx, s.coordTx, schema); err != nil {
		return nil, err
	}
	if s.matviews, err = matviewRefreshOrder(ctx, s.coordTx, schema); err != nil {
		return nil, err
	}
	if s.requires, err = externalRequirements(ctx, s.coordTx, schema); err != nil {
		return nil, err
	}
	// The DDL is dumped under the exported snapshot beside the data, not
	// before it: pg_dump needs only the snapshot (the coordinator holds it,
	// and its locks keep DDL off every table), and its catalog queries
	// are mostly round trips, which the workers' COPY fills (about 0.3-0.6
	// s of a backup's fixed cost). Files waits for it.
	dctx, dcancel := context.WithCancel(ctx)
	s.ddlDone, s.ddlCancel = make(chan struct{}), dcancel
	go func() {
		defer close(s.ddlDone)
		if s.ddl, s.ddlErr = e.dumpSchema(dctx, tools, s.snapshotID, schema); s.ddlErr != nil {
			s.ddlErr = fmt.Errorf("dump definition of schema %q: %w", schema, s.ddlErr)
		}
	}()
	for range workers {
		conn, err := s.openWorker(ctx)
		if err != nil {
			return nil, err
		}
		s.pool <- conn
	}
	return s, nil
}

// openWorker connects a worker and makes it adopt the exported snapshot.
func (s *Snapshot) openWorker(ctx context.Context) (*pgx.Conn, error) {
	conn, err := s.eng.connect(ctx)
	if err != nil {
		return nil, err
	}
	_, err = conn.Exec(ctx, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT '"+
		strings.ReplaceAll(s.snapshotID, "'", "''")+"'; "+
		fmt.Sprintf("SET LOCAL lock_timeout = %d", s.eng.cfg.LockTimeout.Milliseconds()))
	if err != nil {
		closeConn(conn)
		return nil, fmt.Errorf("adopt snapshot %s: %w", s.snapshotID, err)
	}
	return conn, nil
}

// Info describes the database and the snapshot.
func (s *Snapshot) Info() engine.Info { return s.info }

// Tables lists the tables whose rows are copied, largest first.
func (s *Snapshot) Tables() []engine.Table {
	return append([]engine.Table(nil), s.tables...)
}

// CopyOut streams t's rows in text COPY format to w on one of the worker
// connections. The columns are named explicitly; COPY ... TO never includes
// the rows of inheritance children, so a parent's file holds its own rows.
func (s *Snapshot) CopyOut(ctx context.Context, t engine.Table, w io.Writer) (int64, error) {
	conn, err := s.acquire(ctx)
	if err != nil {
		return 0, fmt.Errorf("copy table %s: %w", quoteIdent(t.Schema, t.Name), err)
	}
	if err := s.guard(ctx, conn, t); err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		s.release(conn, true)
		return 0, fmt.Errorf("copy table %s: %w", quoteIdent(t.Schema, t.Name), err)
	}
	tag, err := conn.PgConn().CopyTo(ctx, w, copyToSQL(t))
	if err != nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	s.release(conn, err != nil)
	if err != nil {
		return 0, fmt.Errorf("copy table %s: %w", quoteIdent(t.Schema, t.Name), lostConnection(err))
	}
	return tag.RowsAffected(), nil
}

// lostConnection names what a bare EOF means: the server ended the session
// without a reason the client could read. A backend terminated in the middle
// of sending COPY data does not send its FATAL message (it would corrupt the
// half-sent one), so "unexpected EOF" alone would hide the cause.
func lostConnection(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return fmt.Errorf("the server closed the connection without a reason (session terminated, or the server stopped): %w", err)
	}
	return err
}

func copyToSQL(t engine.Table) string {
	return "COPY " + quoteIdent(t.Schema, t.Name) + columnClause(t.Columns) + " TO STDOUT"
}

// columnClause is " (a, b)", or "" for a table without columns (CREATE
// TABLE t (), or every column dropped): "()" is a syntax error, and COPY
// without a list still carries such a table's rows, as empty lines.
func columnClause(cols []string) string {
	if len(cols) == 0 {
		return ""
	}
	return " (" + columnList(cols) + ")"
}

func columnList(cols []string) string {
	quoted := make([]string, len(cols))
	for i, c := range cols {
		quoted[i] = quoteIdent(c)
	}
	return strings.Join(quoted, ", ")
}

// acquire takes a worker from the pool, reconnecting a broken one.
func (s *Snapshot) acquire(ctx context.Context) (*pgx.Conn, error) {
	select {
	case <-s.done:
		return nil, errClosed
	default:
	}
	select {
	case conn := <-s.pool:
		if conn != nil {
			return conn, nil
		}
		conn, err := s.openWorker(ctx)
		if err != nil {
			s.pool <- nil
			return nil, err
		}
		return conn, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-s.done:
		return nil, errClosed
	}
}

// release returns a worker to the pool. A worker whose copy failed is in an
// aborted transaction (or was disconnected by pgx): it is closed and its
// slot reconnected on demand. After Close, workers are closed on return.
func (s *Snapshot) release(conn *pgx.Conn, broken bool) {
	s.mu.Lock()
	closed := s.closed
	if !closed && !broken {
		s.pool <- conn
	}
	s.mu.Unlock()
	if closed || broken {
		closeConn(conn)
	}
	if broken && !closed {
		s.pool <- nil
	}
}

// Close ends the snapshot: it rolls back the read-only transactions and
// closes every connection. Workers still copying are closed when their
// CopyOut returns. Close is idempotent.
func (s *Snapshot) Close() error {
	if s.ddlCancel != nil { // pg_dump needs the coordinator: it ends first
		s.ddlCancel()
		<-s.ddlDone
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.done)
	var idle []*pgx.Conn
	for {
		select {
		case conn := <-s.pool:
			if conn != nil {
				idle = append(idle, conn)
			}
			continue
		default:
		}
		break
	}
	s.mu.Unlock()

	for _, conn := range idle {
		closeConn(conn)
	}
	var err error
	s.coordMu.Lock()
	defer s.coordMu.Unlock()
	if s.coordTx != nil && !s.coord.IsClosed() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if rbErr := s.coordTx.Rollback(ctx); rbErr != nil && !errors.Is(rbErr, pgx.ErrTxClosed) && !s.coord.IsClosed() {
			err = fmt.Errorf("end snapshot transaction: %w", rbErr)
		}
		cancel()
	}
	closeConn(s.coord)
	return err
}

// isLockTimeout reports PostgreSQL's lock_not_available (lock_timeout).
func isLockTimeout(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "55P03"
}
