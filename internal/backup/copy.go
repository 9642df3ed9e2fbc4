package backup

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/hubble/hubble-applianceapi/internal/archive"
	"github.com/hubble/hubble-applianceapi/internal/engine"
)

// staged is a table whose compressed data is complete in the staging folder.
type staged struct {
	i    int
	path string
	rows int64
	part *archive.Part
}

// copyTables runs the table workers (largest tables first, as the snapshot
// orders them). Each worker compresses the rows it reads into gzip members
// of its own (archive.Part), so the workers compress in parallel; at the
// same time the finished tables' members are appended to the archive as
// they are and deleted from staging, so temp_dir holds at most the
// compressed tables in flight. head adds what goes before the tables in
// the archive, while the first tables are copied.
func (p *Pipeline) copyTables(ctx context.Context, snap engine.Snapshot, tables []engine.Table, names []string,
	dataDir string, aw *archive.Writer, head func(context.Context) error, report func(Progress)) ([]archive.Table, error) {
	g, gctx := errgroup.WithContext(ctx)
	todo := make(chan int)
	done := make(chan staged, len(tables)) // never blocks a worker
	prog := &progress{report: report, total: len(tables)}
	g.Go(func() error {
		defer close(todo)
		for i := range tables {
			select {
			case todo <- i:
			case <-gctx.Done():
				return gctx.Err()
			}
		}
		return nil
	})
	workers := max(1, min(p.Opts.Parallel, len(tables)))
	for range workers {
		g.Go(func() error {
			// A worker's buffers serve all its tables.
			bufs := &buffers{out: bufio.NewWriterSize(nil, copyBuffer), rows: bufio.NewWriterSize(nil, copyBuffer)}
			for i := range todo {
				s, err := copyTable(gctx, snap, tables[i], filepath.Join(dataDir, names[i]), p.Opts.Level, prog, bufs)
				if err != nil {
					return err
				}
				s.i = i
				done <- s
			}
			return nil
		})
	}

	entries := make([]archive.Table, len(tables))
	g.Go(func() error {
		if err := head(gctx); err != nil {
			return err
		}
		prog.start()
		for range len(tables) {
			var s staged
			select {
			case s = <-done:
			case <-gctx.Done():
				return gctx.Err()
			}
			t := tables[s.i]
			f, err := appendPart(gctx, aw, path.Join(archive.DirDatabase, names[s.i]), s)
			if err != nil {
				return fmt.Errorf("archive table %s.%s: %w", t.Schema, t.Name, err)
			}
			entries[s.i] = archive.Table{
				Name: archive.QualifiedName(t.Schema, t.Name), Schema: t.Schema, Table: t.Name,
				File: f.Path, Rows: s.rows, Bytes: f.Bytes, SHA256: f.SHA256,
			}
			prog.tableDone()
		}
		return nil
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return entries, nil
}

// appendPart appends a staged table to the archive and removes its file.
func appendPart(ctx context.Context, aw *archive.Writer, name string, s staged) (archive.File, error) {
	defer os.Remove(s.path)
	f, err := os.Open(s.path)
	if err != nil {
		return archive.File{}, err
	}
	defer f.Close()
	return aw.AddPart(ctx, name, s.part, f)
}

// copyBuffer is the size of a worker's buffers.
const copyBuffer = 256 << 10

// buffers are a worker's: what it collects of COPY's output (one message
// per row) before compressing it, and of the compressed output before
// writing it to staging.
type buffers struct{ out, rows *bufio.Writer }

func copyTable(ctx context.Context, snap engine.Snapshot, t engine.Table, file string, level int, prog *progress,
	bufs *buffers) (_ staged, err error) {
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return staged{}, fmt.Errorf("create data file of %s.%s: %w", t.Schema, t.Name, err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("write data file of %s.%s: %w", t.Schema, t.Name, cerr)
		}
	}()
	out := bufs.out
	out.Reset(f)
	part, err := archive.NewPart(out, level)
	if err != nil {
		return staged{}, err
	}
	// Discard waits for the members still being compressed.
	defer part.Discard()
	rowsIn := bufs.rows
	rowsIn.Reset(&counted{w: part, prog: prog})
	// The engine's error names the table already.
	rows, err := snap.CopyOut(ctx, t, rowsIn)
	if err != nil {
		return staged{}, err
	}
	for _, step := range []func() error{rowsIn.Flush, part.Close, out.Flush} {
		if err := step(); err != nil {
			return staged{}, fmt.Errorf("write data file of %s.%s: %w", t.Schema, t.Name, err)
		}
	}
	return staged{path: file, rows: rows, part: part}, nil
}

// counted passes table data on and counts it as copied.
type counted struct {
	w    io.Writer
	prog *progress
}

func (c *counted) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.prog.copied(int64(n))
	return n, err
}

// progressStep is how much table data is copied between two reports: the
// job store persists progress at most twice a second anyway.
const progressStep = 8 << 20

// progress reports the data phase: tables archived and bytes copied, as
// they are copied (from several workers). The phase starts once what goes
// before the tables is in the archive (start): until then the job is still
// in its snapshot phase (the engine's DDL), though workers already copy.
type progress struct {
	report   func(Progress)
	total    int
	mu       sync.Mutex
	started  bool
	done     int
	bytes    int64
	reported int64
}

func (p *progress) start() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.started = true
	p.send()
}

func (p *progress) copied(n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.bytes += n
	if p.started && p.bytes-p.reported >= progressStep {
		p.send()
	}
}

func (p *progress) tableDone() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done++
	p.send()
}

func (p *progress) send() {
	p.reported = p.bytes
	p.report(Progress{Phase: "data", TablesDone: p.done, TablesTotal: p.total, Bytes: p.bytes})
}
