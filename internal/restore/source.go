package restore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"

	"golang.org/x/sync/errgroup"

	"github.com/hubble/hubble-applianceapi/internal/archive"
	"github.com/hubble/hubble-applianceapi/internal/engine"
	"github.com/hubble/hubble-applianceapi/internal/msg"
)

// maxHeldTables bounds the tables a restore loads before the archive's
// verdict: each one held uncommitted costs the server a few entries of its
// lock table (about 5, with its indexes; 64 per connection by default),
// which one transaction per session must not exhaust. An archive with more
// tables is verified in full before its data is loaded. A variable for
// tests.
var maxHeldTables = 500

// source is the archive a restore reads. An archive with an index (format
// 2) is read at random: its structure is checked and its small files
// (scripts, the replication export) verified and extracted first, and the
// tables are streamed from it into the database, each verified as it is
// read (Entry), never written to disk. An archive without one (release
// 0.1.0) is verified and extracted whole, as before: the slower path.
type source struct {
	path  string
	f     io.ReaderAt
	size  int64
	close func()
	ar    *archive.Reader // nil: extracted whole into the stage
	m     *archive.Manifest

	mu       sync.Mutex
	verified map[string]bool // data files read to io.EOF: intact
}

// openSource verifies what must be verified before anything else happens
// and extracts into stage what the restore needs as files; on failure it
// leaves stage empty.
func (r *Restorer) openSource(ctx context.Context, o Options, stage string) (*source, error) {
	s := &source{path: o.Archive, verified: map[string]bool{}, close: func() {}}
	if o.Source != nil {
		s.f, s.size = o.Source, o.Source.Size()
	} else {
		f, err := os.Open(o.Archive)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil, msg.NoFile(o.Archive)
			}
			return nil, fmt.Errorf("open archive: %w", err)
		}
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("open archive: %w", err)
		}
		s.f, s.size, s.close = f, st.Size(), func() { f.Close() }
	}
	if err := s.open(ctx, o, stage, r.limit); err != nil {
		s.close()
		return nil, err
	}
	if s.m.Engine != "postgres" {
		s.close()
		return nil, fmt.Errorf("archive %s refused: made by engine %q, this restore handles postgres", o.Archive, s.m.Engine)
	}
	return s, nil
}

func (s *source) open(ctx context.Context, o Options, stage string, limit func(Options) (int64, error)) error {
	if o.Replication != nil && o.Replication.User != "" {
		// The replication user must reach the export below; it may not
		// list or read anything else here.
		if err := os.Chmod(stage, 0o711); err != nil {
			return err
		}
	}
	free, err := limit(o)
	if err != nil {
		return err
	}
	// The tables go to the database, not to temp_dir: the index's sizes
	// are bounded by the defaults only (each member is inflated no further
	// than its declared size), the extracted files by the free space.
	ar, err := archive.OpenIndexed(s.f, s.size, archive.Limits{})
	if errors.Is(err, archive.ErrNoIndex) {
		rep, err := archive.VerifyExtract(ctx, s.f, s.size, stage, archive.Limits{MaxBytes: free})
		if err != nil {
			return s.refused(err, o, free)
		}
		s.m = rep.Manifest
		return nil
	}
	if err != nil {
		return s.refused(err, o, free)
	}
	s.ar, s.m = ar, ar.Manifest()
	if err := ar.CheckStructure(ctx); err != nil {
		return s.refused(err, o, free)
	}
	if err := s.extractFiles(ctx, stage, free); err != nil {
		removeAll(stage)
		return s.refused(err, o, free)
	}
	return nil
}

func (s *source) refused(err error, o Options, free int64) error {
	switch {
	case errors.Is(err, archive.ErrTooLarge):
		return fmt.Errorf("archive %s refused: %w (space available in %s: %d bytes)", o.Archive, err, o.TempDir, free)
	case errors.Is(err, archive.ErrDamaged):
		return fmt.Errorf("archive %s refused: %w", o.Archive, err)
	}
	return err
}

// extractFiles writes the archive's files other than the tables (scripts,
// the replication export) into stage, each verified.
func (s *source) extractFiles(ctx context.Context, stage string, free int64) error {
	var total int64
	for _, f := range s.m.Files {
		if total += f.Bytes; total > free {
			return fmt.Errorf("extract %s: %w", f.Path, archive.ErrTooLarge)
		}
	}
	root, err := os.OpenRoot(stage)
	if err != nil {
		return fmt.Errorf("extract archive: %w", err)
	}
	defer root.Close()
	for _, f := range s.m.Files {
		if err := ctx.Err(); err != nil {
			return err
		}
		if dir := filepath.Dir(filepath.FromSlash(f.Path)); dir != "." {
			if err := root.MkdirAll(dir, 0o750); err != nil {
				return fmt.Errorf("extract %s: %w", f.Path, err)
			}
		}
		if err := s.extract(root, f.Path); err != nil {
			return err
		}
	}
	return nil
}

func (s *source) extract(root *os.Root, path string) error {
	e, err := s.ar.Open(path)
	if err != nil {
		return err
	}
	defer e.Close()
	out, err := root.OpenFile(filepath.FromSlash(path), os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o640)
	if err != nil {
		return fmt.Errorf("extract %s: %w", path, err)
	}
	_, err = io.Copy(out, e)
	if cerr := out.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("extract %s: %w", path, cerr)
	}
	return err
}

func removeAll(dir string) {
	des, _ := os.ReadDir(dir)
	for _, de := range des {
		os.RemoveAll(filepath.Join(dir, de.Name()))
	}
}

// streamed reports whether the tables are read from the archive (not from
// extracted files).
func (s *source) streamed() bool { return s.ar != nil }

// openTable is the engine's RestoreRequest.Open: the table's data, straight
// from the archive, verified as it is read.
func (s *source) openTable(_ context.Context, t engine.RestoreTable) (io.ReadCloser, error) {
	e, err := s.ar.Open(path.Join(archive.DirDatabase, t.File))
	if err != nil {
		return nil, err
	}
	return &trackedEntry{Entry: e, s: s}, nil
}

// trackedEntry records that its file was read to io.EOF: verified.
type trackedEntry struct {
	*archive.Entry
	s *source
}

func (t *trackedEntry) Read(p []byte) (int, error) {
	n, err := t.Entry.Read(p)
	if err == io.EOF {
		t.s.mu.Lock()
		t.s.verified[t.Name()] = true
		t.s.mu.Unlock()
	}
	return n, err
}

// verifyRest reads to the end every table not yet verified (all of them
// before any load; after the loads, those whose load stopped early, under
// --continue-on-error): the archive's verdict, nil when every byte of it
// has been checked.
func (s *source) verifyRest(ctx context.Context) error {
	if s.ar == nil {
		return nil // verified whole when extracted
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	for _, t := range s.m.Tables {
		s.mu.Lock()
		done := s.verified[t.File]
		s.mu.Unlock()
		if done {
			continue
		}
		g.Go(func() error {
			e, err := s.openTable(gctx, engine.RestoreTable{File: path.Base(t.File)})
			if err != nil {
				return err
			}
			defer e.Close()
			_, err = io.Copy(io.Discard, e)
			return err
		})
	}
	return g.Wait()
}

// allVerified reports whether every table has been read to io.EOF.
func (s *source) allVerified() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.m.Tables {
		if !s.verified[t.File] {
			return false
		}
	}
	return true
}

// dataRefused names the archive in a failure of its data, read after the
// restore began.
func (s *source) dataRefused(err error) error {
	if errors.Is(err, archive.ErrDamaged) || errors.Is(err, archive.ErrTooLarge) {
		return fmt.Errorf("archive %s refused: %w", s.path, err)
	}
	return err
}
