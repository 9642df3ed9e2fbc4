package archive

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// VerifyExtract verifies the archive in r[0:size] and writes it into dir,
// an existing empty directory, refusing a damaged or hostile archive before
// it costs the space or the inodes it would take:
//
//   - with an index (OpenIndexed), what the archive holds is known first:
//     more entries than lim.MaxEntries or than dir has free inodes, or more
//     content than lim.MaxBytes (the caller passes the free space), is
//     refused before anything is written; then the tar headers are checked
//     and the files are inflated, hashed and written several at once, none
//     past the size the index declares;
//   - without one (release 0.1.0), the archive is first verified without
//     writing (VerifyStream, bounded by lim and the free inodes), then
//     extracted by Walk with the manifest now known.
//
// An unsafe entry (absolute path, "..", link, device, fifo), a duplicate, a
// damaged stream or a checksum mismatch stops it. Files are created 0640 and
// directories 0750, never through an existing file or symlink. On any
// problem everything it wrote is removed before it returns.
//
// The Report and the error are as Verify's: the error is nil only for an
// intact archive, wraps ErrDamaged (plus ErrUnsafeEntry / ErrTooLarge when
// they apply) with the same problem texts, each naming the entry and the
// limit; a failing source, a failing write (a full disk) or a canceled ctx
// is returned as such.
func VerifyExtract(ctx context.Context, r io.ReaderAt, size int64, dir string, lim Limits) (rep *Report, err error) {
	rep = &Report{}
	if err := checkEmptyDir(dir); err != nil {
		return rep, err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return rep, fmt.Errorf("extract archive: %w", err)
	}
	defer root.Close()
	x := &extractor{root: root, dir: dir, madeDirs: make(map[string]bool)}
	defer func() {
		if err != nil {
			x.cleanup()
			rep.Manifest = nil
		}
		rep.Written = x.written
	}()
	free := freeInodes(dir)
	ar, err := OpenIndexed(r, size, lim)
	switch {
	case err == nil:
		return x.indexed(ctx, ar, free)
	case errors.Is(err, ErrNoIndex):
		return x.twoPass(ctx, r, size, lim, free)
	case isProblem(err):
		v := newVerifier()
		v.problem(err)
		return v.rep, v.result()
	}
	return rep, err
}

func (x *extractor) indexed(ctx context.Context, ar *Reader, free int64) (*Report, error) {
	v := newVerifier()
	m := ar.Manifest()
	if err := x.checkInodes(m, free); err != nil {
		v.problem(err)
		return v.rep, v.result()
	}
	for _, d := range slices.Sorted(maps.Keys(parents(m.Expected()))) {
		if err := x.mkdirAll(d); err != nil {
			return v.rep, err
		}
	}
	if err := ar.verify(ctx, v, x.file, true); err != nil {
		return v.rep, err
	}
	if err := v.result(); err != nil {
		return v.rep, err
	}
	if err := x.file(newEntry(ManifestName, int64(len(ar.raw)), nil, bytes.NewReader(ar.raw))); err != nil {
		return v.rep, err
	}
	return v.rep, nil
}

func (x *extractor) twoPass(ctx context.Context, r io.ReaderAt, size int64, lim Limits, free int64) (*Report, error) {
	pass := lim.withDefaults()
	byInodes := free >= 0 && free < int64(pass.MaxEntries)
	if byInodes {
		pass.MaxEntries = int(free)
	}
	rep, err := VerifyStream(ctx, io.NewSectionReader(r, 0, size), pass)
	if err != nil {
		if byInodes && errors.Is(err, ErrTooLarge) && rep.Entries >= int(free) {
			err = fmt.Errorf("%w (%s has %d free inodes)", err, x.dir, free)
		}
		return rep, err
	}
	if err := x.checkInodes(rep.Manifest, free); err != nil {
		v := newVerifier()
		v.problem(err)
		return v.rep, v.result()
	}
	return Walk(ctx, io.NewSectionReader(r, 0, size), WalkOptions{Limits: lim, Manifest: rep.Manifest}, x.file, x.mkdirAll)
}

// freeInodes is the number of inodes dir's file system has free, or -1
// when it has no fixed number (btrfs, some network file systems). A
// variable for tests: no unprivileged test can make a file system short of
// inodes.
var freeInodes = statfsFreeInodes

func statfsFreeInodes(dir string) int64 {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil || st.Files == 0 {
		return -1
	}
	return int64(st.Ffree)
}

// checkInodes refuses an archive whose files and directories need more
// inodes than free, naming the first entry that would not fit.
func (x *extractor) checkInodes(m *Manifest, free int64) error {
	if free < 0 {
		return nil
	}
	dirs := slices.Sorted(maps.Keys(parents(m.Expected())))
	names := append(dirs, ManifestName)
	for _, t := range m.Tables {
		names = append(names, t.File)
	}
	for _, f := range m.Files {
		names = append(names, f.Path)
	}
	if int64(len(names)) <= free {
		return nil
	}
	return problemf(tooLarge, "%s: extracting the archive needs %d inodes (files and directories), %s has %d free",
		display(names[free]), len(names), x.dir, free)
}

func checkEmptyDir(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("extract archive: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("extract archive: %s is not a directory", dir)
	}
	names, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("extract archive: %w", err)
	}
	if len(names) > 0 {
		return fmt.Errorf("extract archive: directory %s is not empty", dir)
	}
	return nil
}

// extractor creates files and directories under root, remembering them
// for cleanup; safe for concurrent use.
type extractor struct {
	root     *os.Root
	dir      string
	mu       sync.Mutex
	created  []string // in creation order, for cleanup
	madeDirs map[string]bool
	written  int64
}

// file creates the entry's file and copies its content into it. Writing
// overlaps the reading (inflating and hashing) in a second goroutine.
func (x *extractor) file(e *Entry) error {
	name := e.Name()
	if i := strings.LastIndexByte(name, '/'); i > 0 {
		if err := x.mkdirAll(name[:i]); err != nil {
			return err
		}
	}
	f, err := x.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o640)
	if err != nil {
		return fmt.Errorf("create %s: %w", name, err)
	}
	x.mu.Lock()
	x.created = append(x.created, name)
	x.mu.Unlock()
	n, rerr, werr := copyAsync(f, e)
	if cerr := f.Close(); werr == nil && cerr != nil {
		werr = cerr
	}
	x.mu.Lock()
	x.written += n
	x.mu.Unlock()
	switch {
	case werr != nil:
		return fmt.Errorf("write %s: %w", name, werr)
	case rerr != nil:
		return rerr
	}
	return nil
}

// mkdirAll creates dir and its parents (0750), refusing anything that
// already exists but was not made by this extraction.
func (x *extractor) mkdirAll(dir string) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	for i := 0; i <= len(dir); i++ {
		if i < len(dir) && dir[i] != '/' {
			continue
		}
		p := dir[:i]
		if x.madeDirs[p] {
			continue
		}
		if err := x.root.Mkdir(p, 0o750); err != nil {
			return fmt.Errorf("create directory %s: %w", p, err)
		}
		x.madeDirs[p] = true
		x.created = append(x.created, p)
	}
	return nil
}

// cleanup removes what the extraction created, newest first.
func (x *extractor) cleanup() {
	x.mu.Lock()
	defer x.mu.Unlock()
	for i := len(x.created) - 1; i >= 0; i-- {
		_ = x.root.Remove(x.created[i])
	}
}
