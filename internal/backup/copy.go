package backup

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"

	"golang.org/x/sync/errgroup"

	"github.com/hubble/hubble-applianceapi/internal/archive"
	"github.com/hubble/hubble-applianceapi/internal/engine"
)

// staged is a table whose data file is complete in the staging folder.
type staged struct {
	i    int
	path string
	rows int64
}

// copyTables runs the table workers (largest tables first, as the snapshot
// orders them) and, at the same time, appends each finished data file to the
// archive and deletes it from staging: compression overlaps the copying,
// and temp_dir holds at most the tables in flight.
func (p *Pipeline) copyTables(ctx context.Context, snap engine.Snapshot, tables []engine.Table, names []string,
	dataDir string, aw *archive.Writer, report func(Progress)) ([]archive.Table, error) {
	g, gctx := errgroup.WithContext(ctx)
	todo := make(chan int)
	done := make(chan staged, len(tables)) // never blocks a worker
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
			for i := range todo {
				s, err := copyTable(gctx, snap, tables[i], filepath.Join(dataDir, names[i]))
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
		var bytes int64
		for n := range len(tables) {
			var s staged
			select {
			case s = <-done:
			case <-gctx.Done():
				return gctx.Err()
			}
			t := tables[s.i]
			f, err := aw.AddFile(gctx, path.Join(archive.DirDatabase, names[s.i]), s.path)
			if err != nil {
				return fmt.Errorf("archive table %s.%s: %w", t.Schema, t.Name, err)
			}
			os.Remove(s.path)
			entries[s.i] = archive.Table{
				Name: archive.QualifiedName(t.Schema, t.Name), Schema: t.Schema, Table: t.Name,
				File: f.Path, Rows: s.rows, Bytes: f.Bytes, SHA256: f.SHA256,
			}
			bytes += f.Bytes
			report(Progress{Phase: "data", TablesDone: n + 1, TablesTotal: len(tables), Bytes: bytes})
		}
		return nil
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return entries, nil
}

func copyTable(ctx context.Context, snap engine.Snapshot, t engine.Table, file string) (staged, error) {
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return staged{}, fmt.Errorf("create data file of %s.%s: %w", t.Schema, t.Name, err)
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	// The engine's error names the table already.
	rows, err := snap.CopyOut(ctx, t, bw)
	if err == nil {
		if err = bw.Flush(); err != nil {
			err = fmt.Errorf("write data file of %s.%s: %w", t.Schema, t.Name, err)
		}
	}
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("write data file of %s.%s: %w", t.Schema, t.Name, cerr)
	}
	if err != nil {
		return staged{}, err
	}
	return staged{path: file, rows: rows}, nil
}
