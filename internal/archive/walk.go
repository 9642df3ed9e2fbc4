package archive

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
)

// WalkOptions tune Walk.
type WalkOptions struct {
	Limits
	// Manifest, when known before the walk (from a VerifyStream pass over
	// the same archive, or from its index), is enforced as the entries
	// arrive: an entry it does not list, or whose tar header declares
	// another size, is refused before fn sees it; each Entry checks its
	// sha256 when read to its end; the archive's manifest.json must be the
	// same manifest.
	Manifest *Manifest
}

// Walk reads the archive from r once, in order: the one sequential walk
// behind VerifyStream, the extraction of archives without an index, and
// any reader of a source that cannot seek (a stream from object storage, a
// decrypting pipe). Every check of VerifyStream is made, but Walk stops at
// the first problem. fn is called with each regular file, manifest.json
// included, in archive order; what fn does not read of an Entry is read and
// hashed after it returns. An error from fn stops the walk and is returned
// as it is. dir, if not nil, is called with each directory entry.
//
// Without opt.Manifest, what the archive should hold is only known at its
// end (manifest.json is its last entry): the checksums are compared when
// Walk returns, so a caller must not make what it did with the content
// visible (commit it) before Walk returned nil. Limits are enforced while
// streaming, as VerifyStream's.
func Walk(ctx context.Context, r io.Reader, opt WalkOptions, fn func(*Entry) error, dir func(name string) error) (*Report, error) {
	w := &walker{v: newVerifier(), fn: fn, dir: dir}
	if opt.Manifest != nil {
		if err := w.know(opt.Manifest); err != nil {
			return w.v.rep, err
		}
	}
	return w.run(ctx, r, opt.Limits)
}

// walker is the state of one walk. collect (VerifyStream) reports every
// problem it can and goes on; otherwise the first problem stops the walk.
type walker struct {
	v       *verifier
	collect bool
	fn      func(*Entry) error
	dir     func(string) error
	known   *Manifest
	want    []byte // known, marshalled: the archive's manifest.json must match
	expect  map[string]File
	dirsOK  map[string]bool
}

func (w *walker) know(m *Manifest) error {
	want, err := m.Marshal()
	if err != nil {
		return fmt.Errorf("walk archive: %w", err)
	}
	w.known, w.want, w.expect = m, want, m.Expected()
	w.dirsOK = parents(w.expect)
	return nil
}

// run walks the archive and concludes: the manifest read (or known) is
// compared with what was seen.
func (w *walker) run(ctx context.Context, r io.Reader, lim Limits) (*Report, error) {
	v := w.v
	s, err := openStream(ctx, r, lim)
	if err != nil {
		if !errors.Is(err, ErrDamaged) {
			return v.rep, err
		}
		v.problem(err)
		return v.rep, v.result()
	}
	complete, err := w.entries(s)
	v.rep.StreamBytes, v.rep.CompressedBytes = s.n, s.src.n
	if err != nil {
		if !isProblem(err) {
			return v.rep, err // context, source I/O, fn's own error
		}
		v.problem(err)
		if !w.collect {
			return v.rep, v.result()
		}
	}
	if w.known != nil {
		v.rep.Manifest = w.known
		v.compare(complete)
		return v.rep, v.result()
	}
	return v.conclude(complete)
}

// isProblem reports an error about the archive itself (not about reading
// it, or about what a caller did with it).
func isProblem(err error) bool {
	return errors.Is(err, ErrDamaged) || errors.Is(err, ErrTooLarge) || errors.Is(err, ErrUnsafeEntry)
}

// fail records a problem in collect mode (and goes on), or returns it.
func (w *walker) fail(err error) error {
	if w.collect {
		w.v.problem(err)
		return nil
	}
	return err
}

// entries walks the tar stream. complete reports that every entry was read
// (the stream itself may still have failed at its end).
func (w *walker) entries(s *stream) (complete bool, err error) {
	v := w.v
	for {
		h, err := s.next()
		if err == io.EOF {
			return true, s.finish()
		}
		if err != nil {
			return false, err
		}
		v.rep.Entries++
		e, err := checkEntry(h)
		if err != nil {
			if err := w.fail(err); err != nil {
				return false, err
			}
			continue // its content, if any, is skipped by the next call
		}
		if e.dir {
			if err := w.dirEntry(e.name); err != nil {
				return false, err
			}
			continue
		}
		ent, err := w.entry(s, e)
		if err != nil {
			return false, err
		}
		if ent == nil {
			continue
		}
		if err := w.consume(ent); err != nil {
			return false, err
		}
		if e.name != ManifestName {
			v.seen[e.name] = File{Path: e.name, Bytes: ent.n, SHA256: ent.sum}
			v.order = append(v.order, e.name)
		}
	}
}

func (w *walker) dirEntry(name string) error {
	if w.known != nil && !w.dirsOK[name] {
		return w.fail(problemf(unsafe, "%s/: directory not in manifest", display(name)))
	}
	w.v.dirs = append(w.v.dirs, name)
	if w.dir != nil {
		return w.dir(name)
	}
	return nil
}

// entry checks a regular file's header and returns its Entry; nil (and no
// error) skips it in collect mode.
func (w *walker) entry(s *stream, e entry) (*Entry, error) {
	v := w.v
	if _, dup := v.seen[e.name]; dup || (e.name == ManifestName && v.hasMan) {
		return nil, w.fail(problemf(damaged, "%s: duplicate entry", display(e.name)))
	}
	var want *File
	if w.known != nil && e.name != ManifestName {
		f, ok := w.expect[e.name]
		switch {
		case !ok:
			return nil, w.fail(problemf(unsafe, "%s: not in manifest", display(e.name)))
		case e.size > f.Bytes:
			return nil, w.fail(problemf(tooLarge, "%s: entry of %d bytes, manifest declares %d", display(e.name), e.size, f.Bytes))
		case e.size < f.Bytes:
			return nil, w.fail(problemf(damaged, "%s: size mismatch: manifest says %d bytes, archive holds %d", display(e.name), f.Bytes, e.size))
		}
		want = &f
	}
	// A header can declare a size its compressed stream does not pay for
	// (sparse files), so the content is bounded on its own too.
	if e.size > s.lim.MaxBytes-v.rep.Bytes {
		return nil, problemf(tooLarge, "%s: entry of %d bytes exceeds the limit of %d bytes", display(e.name), e.size, s.lim.MaxBytes)
	}
	v.rep.Files++
	v.rep.Bytes += e.size
	if e.name != ManifestName {
		ent := newEntry(e.name, e.size, want, s.tr)
		ent.classify = s.classify
		return ent, nil
	}
	v.hasMan = true
	if e.size > maxManifestBytes {
		return nil, w.fail(problemf(tooLarge, "%s: larger than %d bytes", ManifestName, maxManifestBytes))
	}
	data, err := io.ReadAll(s.tr)
	if err != nil {
		return nil, s.classify(err)
	}
	v.manifest = data
	if w.known != nil {
		if m, err := ParseManifest(data); err != nil {
			return nil, problemf(damaged, "%s: invalid: %v", ManifestName, err)
		} else if got, err := m.Marshal(); err != nil || !bytes.Equal(got, w.want) {
			return nil, problemf(damaged, "%s: differs from the manifest that was read first", ManifestName)
		}
	}
	return newEntry(ManifestName, e.size, nil, bytes.NewReader(data)), nil
}

// consume hands ent to fn, then reads (and so hashes) what fn left.
func (w *walker) consume(ent *Entry) error {
	if w.fn != nil {
		if err := w.fn(ent); err != nil {
			return err
		}
	}
	// A failed read leaves the stream unusable: it ends the walk even in
	// collect mode (a sha256 mismatch of a known manifest's file, the one
	// problem an Entry finds that would not, never happens in that mode).
	_, err := io.CopyBuffer(onlyWriter{io.Discard}, ent, w.v.buf)
	return err
}

// onlyWriter hides io.Discard's ReadFrom, so that io.CopyBuffer uses the
// buffer it is given.
type onlyWriter struct{ io.Writer }
