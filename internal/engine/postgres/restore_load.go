package postgres

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hubble/hubble-applianceapi/internal/engine"
	"github.com/jackc/pgx/v5"
)

// loadData is step 2: req.Workers connections each COPY one table at a
// time from its data file, largest tables first. Memory does not grow with
// a table's size: the file is streamed to the server. Each table's row
// count is checked against the manifest. Without ContinueOnError the first
// failure cancels the other loaders and is returned.
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
		done     atomic.Int64
		rows     atomic.Int64
		loaded   atomic.Int64
		firstErr error
		errOnce  sync.Once
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
		go func() {
			defer wg.Done()
			conn, err := e.connect(ctx)
			if err != nil {
				fail(err)
				for range jobs {
				}
				return
			}
			defer closeConn(conn)
			for t := range jobs {
				if ctx.Err() != nil {
					continue
				}
				n, err := copyIn(ctx, conn, target, t, s.columns[t.File], filepath.Join(req.Dir, t.File), progress)
				object := "TABLE " + target + "." + t.Name
				switch {
				case err != nil && ctx.Err() != nil:
				case err != nil:
					issue := issueOf(object, "COPY "+quoteIdent(target, t.Name)+" FROM "+t.File, err)
					if !req.ContinueOnError {
						fail(&engine.RestoreError{Issue: issue})
						continue
					}
					rec.add(issue)
					if conn.IsClosed() {
						if conn, err = e.connect(ctx); err != nil {
							fail(err)
							return
						}
					}
				case n != t.Rows:
					issue := engine.RestoreIssue{Object: object,
						Reason:    fmt.Sprintf("row count mismatch: %d rows loaded, the manifest says %d", n, t.Rows),
						Statement: "COPY " + quoteIdent(target, t.Name) + " FROM " + t.File}
					if !req.ContinueOnError {
						fail(&engine.RestoreError{Issue: issue})
						continue
					}
					rec.add(issue)
				default:
					rows.Add(n)
					loaded.Add(1)
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
	return int(loaded.Load()), rows.Load(), firstErr
}

// copyIn streams one data file into its table and returns the row count.
// The table was created by this restore and is empty, so it is truncated
// and loaded with FREEZE in one transaction: the rows are written frozen
// and their pages all-visible, so the index builds and the first queries
// do not rewrite every page to set hint bits (pg_restore -j truncates
// before its COPY too; FREEZE goes one step further).
func copyIn(ctx context.Context, conn *pgx.Conn, schema string, t engine.RestoreTable, cols []string, path string, progress func(int64)) (n int64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	table := quoteIdent(schema, t.Name)
	if _, err := conn.PgConn().Exec(ctx, "BEGIN; TRUNCATE ONLY "+table).ReadAll(); err != nil {
		rollback(ctx, conn)
		return 0, err
	}
	sql := "COPY " + table
	if len(cols) > 0 {
		sql += " (" + columnList(cols) + ")"
	}
	sql += " FROM STDIN WITH (FREEZE)"
	tag, err := conn.PgConn().CopyFrom(ctx, &progressReader{r: f, report: progress}, sql)
	if err != nil {
		rollback(ctx, conn)
		return 0, err
	}
	if _, err := conn.PgConn().Exec(ctx, "COMMIT").ReadAll(); err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

// rollback ends a failed transaction so that the connection can go on
// (with ContinueOnError); a connection that cannot is closed.
func rollback(ctx context.Context, conn *pgx.Conn) {
	if conn.IsClosed() {
		return
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if _, err := conn.PgConn().Exec(rctx, "ROLLBACK").ReadAll(); err != nil {
		_ = conn.Close(rctx)
	}
}

// progressReader reports the bytes read.
type progressReader struct {
	r      io.Reader
	report func(int64)
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		p.report(int64(n))
	}
	return n, err
}
