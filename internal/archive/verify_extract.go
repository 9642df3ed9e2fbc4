package archive

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
)

// VerifyExtract is Verify and Extract in one pass over the archive, for a
// caller that wants the files and would otherwise read the archive twice.
// It writes the archive read from r into dir, an existing empty directory,
// while hashing each file, and returns only after the whole stream (gzip
// trailer included) has been read and every file checked against
// manifest.json (wherever it is in the archive; the writer puts it last).
//
// The same rules as Extract's hold, enforced while streaming: an unsafe
// entry (absolute path, "..", link, device, fifo), a duplicate, or a
// damaged stream stops it at once; the bytes written are bounded by
// lim.MaxBytes (the caller passes the free space of dir's file system) and
// the entries by lim.MaxEntries. Files are created 0640 and directories
// 0750, never through an existing file or symlink. On any problem
// everything it wrote is removed before it returns.
//
// The Report and the error are as Verify's: the error is nil only for an
// intact archive, wraps ErrDamaged (plus ErrUnsafeEntry / ErrTooLarge when
// they apply) with the same problem texts; a failing source, a failing
// write (a full disk) or a canceled ctx is returned as such.
func VerifyExtract(ctx context.Context, r io.Reader, dir string, lim Limits) (rep *Report, err error) {
	v := &verifier{rep: &Report{}, seen: make(map[string]File), buf: make([]byte, 256<<10)}
	if err := checkEmptyDir(dir); err != nil {
		return v.rep, err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return v.rep, fmt.Errorf("extract archive: %w", err)
	}
	defer root.Close()
	x := &extractor{root: root, dir: dir, madeDirs: make(map[string]bool), buf: v.buf}
	defer func() {
		if err != nil {
			x.cleanup()
			v.rep.Manifest = nil
		}
	}()
	s, err := openStream(ctx, r, lim)
	if err != nil {
		if !errors.Is(err, ErrDamaged) {
			return v.rep, err
		}
		v.problem(err)
		return v.rep, v.result()
	}
	complete, err := v.extract(s, x)
	v.rep.StreamBytes, v.rep.CompressedBytes = s.n, s.src.n
	if err != nil {
		if !errors.Is(err, ErrDamaged) && !errors.Is(err, ErrTooLarge) && !errors.Is(err, ErrUnsafeEntry) {
			return v.rep, err // context, source I/O, or writing
		}
		v.problem(err)
		return v.rep, v.result()
	}
	return v.conclude(complete)
}

// extract walks the entries, writing each file while hashing it; it stops
// at the first problem.
func (v *verifier) extract(s *stream, x *extractor) (complete bool, err error) {
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
			return false, err
		}
		if e.dir {
			v.dirs = append(v.dirs, e.name)
			if err := x.mkdirAll(e.name); err != nil {
				return false, err
			}
			continue
		}
		if _, dup := v.seen[e.name]; dup || (e.name == ManifestName && v.hasMan) {
			return false, problemf(damaged, "%s: duplicate entry", display(e.name))
		}
		if e.size > s.lim.MaxBytes-v.rep.Bytes {
			return false, problemf(tooLarge, "%s: entry of %d bytes exceeds the limit of %d bytes", display(e.name), e.size, s.lim.MaxBytes)
		}
		v.rep.Files++
		v.rep.Bytes += e.size
		var data []byte
		if e.name == ManifestName {
			v.hasMan = true
			if e.size > maxManifestBytes {
				return false, problemf(tooLarge, "%s: larger than %d bytes", ManifestName, maxManifestBytes)
			}
			if data, err = io.ReadAll(s.tr); err != nil {
				return false, s.classify(err)
			}
			v.manifest = data
		}
		f, err := x.write(s, e.name, data)
		if err != nil {
			return false, err
		}
		if e.name != ManifestName {
			v.seen[e.name] = f
			v.order = append(v.order, e.name)
		}
	}
}

// write creates name and copies the current entry (or data, when not nil)
// into it, returning its size and sha256. Hashing and writing run in a
// second goroutine, overlapping the decompression (the pass is CPU-bound);
// memory stays at a few fixed buffers.
func (x *extractor) write(s *stream, name string, data []byte) (File, error) {
	if i := strings.LastIndexByte(name, '/'); i > 0 {
		if err := x.mkdirAll(name[:i]); err != nil {
			return File{}, err
		}
	}
	f, err := x.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o640)
	if err != nil {
		return File{}, fmt.Errorf("create %s: %w", name, err)
	}
	x.created = append(x.created, name)
	var src io.Reader = s.tr
	if data != nil {
		src = bytes.NewReader(data)
	}
	h := sha256.New()
	n, rerr, werr := copyAsync(f, h, src)
	if cerr := f.Close(); werr == nil && cerr != nil {
		werr = cerr
	}
	switch {
	case werr != nil:
		return File{}, fmt.Errorf("write %s: %w", name, werr)
	case rerr != nil:
		return File{}, s.classify(rerr)
	}
	return File{Path: name, Bytes: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

const (
	asyncChunk  = 256 << 10
	asyncChunks = 4
)

// copyAsync copies src to w and h: this goroutine reads, another hashes
// and writes. It returns the bytes read, the read error (not io.EOF) and
// the write error; after a write error it stops reading.
func copyAsync(w io.Writer, h hash.Hash, src io.Reader) (n int64, rerr, werr error) {
	free := make(chan []byte, asyncChunks)
	for range asyncChunks {
		free <- make([]byte, asyncChunk)
	}
	full := make(chan []byte, asyncChunks)
	done := make(chan error, 1)
	var failed atomic.Bool
	go func() {
		var err error
		for b := range full {
			if err == nil {
				h.Write(b)
				if _, err = w.Write(b); err != nil {
					failed.Store(true)
				}
			}
			free <- b[:cap(b)]
		}
		done <- err
	}()
	for !failed.Load() {
		b := <-free
		k := 0
		var err error
		for k < len(b) && err == nil {
			var m int
			m, err = src.Read(b[k:])
			k += m
		}
		if k > 0 {
			n += int64(k)
			full <- b[:k]
		} else {
			free <- b
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			rerr = err
			break
		}
	}
	close(full)
	werr = <-done
	return n, rerr, werr
}
