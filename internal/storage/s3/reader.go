package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/minio/minio-go/v7"

	"github.com/hubble/hubble-applianceapi/internal/storage"
)

// maxIdleStreams bounds the open ranged GETs a reader keeps for reuse.
const maxIdleStreams = 8

// Open reads an object through ranged GETs. Each read continues an open
// response whose position matches it, or opens one from its offset to the
// end: a sequential reader costs one request, and readers at several
// offsets at once (a restore's parallel workers) each get their own
// stream instead of tearing one down. Every request names the object's
// ETag, so an object replaced meanwhile is an error, never mixed data.
func (t *Target) Open(ctx context.Context, name string) (storage.Reader, error) {
	key, err := t.key(name)
	if err != nil {
		return nil, err
	}
	st, err := t.core.Client.StatObject(ctx, t.cfg.Bucket, key, minio.StatObjectOptions{})
	if err != nil {
		return nil, t.fail("open "+t.Location(name), err)
	}
	return &reader{t: t, ctx: ctx, key: key, name: name, etag: st.ETag, size: st.Size}, nil
}

type stream struct {
	body io.ReadCloser
	pos  int64
}

type reader struct {
	t               *Target
	ctx             context.Context
	key, name, etag string
	size            int64

	mu     sync.Mutex
	idle   []*stream // oldest first
	pos    int64     // of Read
	closed bool
}

func (r *reader) Size() int64 { return r.size }

func (r *reader) Read(p []byte) (int, error) {
	r.mu.Lock()
	off := r.pos
	r.mu.Unlock()
	n, err := r.ReadAt(p, off)
	r.mu.Lock()
	r.pos += int64(n)
	r.mu.Unlock()
	if err == io.EOF && n > 0 {
		err = nil // io.Reader reports the end on the next call
	}
	return n, err
}

func (r *reader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("target %s: read %s at %d: negative offset", r.t.cfg.Name, r.t.Location(r.name), off)
	}
	if off >= r.size {
		return 0, io.EOF
	}
	want := p[:min(int64(len(p)), r.size-off)]
	s, err := r.take(off)
	if err != nil {
		return 0, err
	}
	n, err := io.ReadFull(s.body, want)
	s.pos += int64(n)
	if err != nil {
		s.body.Close()
		if errors.Is(err, io.ErrUnexpectedEOF) || err == io.EOF {
			err = fmt.Errorf("target %s: read %s: the object ended at %d of %d bytes", r.t.cfg.Name, r.t.Location(r.name), s.pos, r.size)
		} else {
			err = r.t.fail("read "+r.t.Location(r.name), err)
		}
		return n, err
	}
	r.put(s)
	if len(want) < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// take returns an idle stream at off, or opens one.
func (r *reader) take(off int64) (*stream, error) {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil, fmt.Errorf("target %s: read %s: %w", r.t.cfg.Name, r.t.Location(r.name), io.ErrClosedPipe)
	}
	for i, s := range r.idle {
		if s.pos == off {
			r.idle = append(r.idle[:i], r.idle[i+1:]...)
			r.mu.Unlock()
			return s, nil
		}
	}
	r.mu.Unlock()
	var opts minio.GetObjectOptions
	if off > 0 { // bytes=0-0 would be one byte: from the start, no range
		if err := opts.SetRange(off, 0); err != nil {
			return nil, err
		}
	}
	if r.etag != "" {
		opts.SetMatchETag(r.etag)
	}
	body, _, _, err := r.t.core.GetObject(r.ctx, r.t.cfg.Bucket, r.key, opts)
	if err != nil {
		return nil, r.t.fail("read "+r.t.Location(r.name), err)
	}
	return &stream{body: body, pos: off}, nil
}

// put keeps s for a read that continues where it stopped.
func (r *reader) put(s *stream) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed || s.pos >= r.size {
		s.body.Close()
		return
	}
	r.idle = append(r.idle, s)
	if len(r.idle) > maxIdleStreams {
		r.idle[0].body.Close()
		r.idle = r.idle[1:]
	}
}

func (r *reader) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	for _, s := range r.idle {
		s.body.Close()
	}
	r.idle = nil
	return nil
}
