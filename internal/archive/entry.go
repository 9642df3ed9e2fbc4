package archive

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"io"
)

// Entry is one regular file of an archive being read, from Reader.Open or
// handed to Walk's callback. Read yields exactly Size bytes, never more,
// hashing them on the way; after the last byte it checks what can be
// checked then (the gzip trailers, and the sha256 when the manifest was
// known before reading) and returns io.EOF only if every check passed, else
// an error wrapping ErrDamaged (or ErrTooLarge) that names the file. So a
// restore can stream a table into the database while verifying it, and
// must not commit the table unless Read ended in io.EOF.
type Entry struct {
	name     string
	size     int64
	want     *File     // expected sha256, when known before reading
	src      io.Reader // the content; reading past size is src's error
	classify func(error) error
	end      func() error // after the last byte; nil: nothing to check
	close    func()
	h        hash.Hash
	n        int64
	sum      string
	err      error
}

func newEntry(name string, size int64, want *File, src io.Reader) *Entry {
	return &Entry{name: name, size: size, want: want, src: src, h: sha256.New(),
		classify: func(err error) error { return err }}
}

// Name is the file's path in the archive.
func (e *Entry) Name() string { return e.name }

// Size is the file's size: what the index, or the tar header, declares.
func (e *Entry) Size() int64 { return e.size }

// SHA256 is the lower-case hex sha256 of the content, once Read has
// returned io.EOF; "" before.
func (e *Entry) SHA256() string { return e.sum }

// Read implements io.Reader over the file's content.
func (e *Entry) Read(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	if e.n == e.size {
		e.err = e.finish()
		return 0, e.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if left := e.size - e.n; int64(len(p)) > left {
		p = p[:left]
	}
	n, err := e.src.Read(p)
	e.h.Write(p[:n])
	e.n += int64(n)
	switch {
	case err == io.EOF && e.n < e.size:
		e.err = problemf(damaged, "%s: truncated: %d of %d bytes", display(e.name), e.n, e.size)
	case err != nil && err != io.EOF:
		e.err = e.classify(err)
	case e.n == e.size:
		if ferr := e.finish(); ferr != io.EOF {
			e.err = ferr
		}
	}
	return n, e.err
}

func (e *Entry) finish() error {
	if e.end != nil {
		if err := e.end(); err != nil {
			return err
		}
	}
	e.sum = hex.EncodeToString(e.h.Sum(nil))
	if e.want != nil && e.sum != e.want.SHA256 {
		return problemf(damaged, "%s: sha256 mismatch", display(e.name))
	}
	return io.EOF
}

// Close releases what the Entry holds. Reading the rest is not needed.
func (e *Entry) Close() error {
	if e.close != nil {
		e.close()
		e.close = nil
	}
	if e.err == nil {
		e.err = errClosedEntry
	}
	return nil
}

var errClosedEntry = errors.New("read archive entry: closed")
