package s3

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/hubble/hubble-applianceapi/internal/storage"
)

// abortTimeout bounds the abort of a failed upload: the server may be gone.
const abortTimeout = 30 * time.Second

// Create chooses the first free name of names (no object and no upload of
// this machine under it), marks the upload live and starts it.
func (t *Target) Create(ctx context.Context, tag string, names func(seq int) string) (storage.Object, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	busy, err := t.uploadingKeys()
	if err != nil {
		return nil, fmt.Errorf("target %s: %w", t.cfg.Name, err)
	}
	var name, key string
	for seq := 1; seq < 10000 && name == ""; seq++ {
		k, err := t.key(names(seq))
		if err != nil {
			return nil, err
		}
		if busy[k] {
			continue
		}
		taken, err := t.exists(ctx, k)
		if err != nil {
			return nil, t.fail("look up "+t.Location(names(seq)), err)
		}
		if !taken {
			name, key = names(seq), k
		}
	}
	if name == "" {
		return nil, fmt.Errorf("target %s: %w: no free archive name under %s", t.cfg.Name, storage.ErrCommit, t.Location(""))
	}
	m, err := t.newMark(tag)
	if err != nil {
		return nil, err
	}
	opts := minio.PutObjectOptions{ContentType: "application/octet-stream", ServerSideEncryption: t.sse,
		UserMetadata: map[string]string{"X-Amz-Checksum-Algorithm": "SHA256"}}
	id, err := t.core.NewMultipartUpload(ctx, t.cfg.Bucket, key, opts)
	if err != nil {
		m.release(true)
		return nil, t.fail("start upload of "+t.Location(name), err)
	}
	if err := m.record(t.cfg.Bucket, key, id); err != nil {
		t.abortUpload(key, id)
		m.release(true)
		return nil, fmt.Errorf("target %s: %w", t.cfg.Name, err)
	}
	uctx, cancel := context.WithCancel(ctx)
	o := &object{
		t: t, name: name, key: key, id: id, mark: m, ctx: uctx, cancel: cancel,
		parts: make(chan part), free: make(chan []byte, 2), upDone: make(chan struct{}), whole: sha256.New(),
	}
	o.free <- nil
	o.free <- nil
	go o.upload()
	return o, nil
}

type part struct {
	n    int
	data []byte
}

// object is one multipart upload: Write fills a part while the previous
// one is sent.
type object struct {
	t                *Target
	name, key, id    string
	mark             *mark
	ctx              context.Context // the upload's, ended by cancel
	cancel           context.CancelFunc
	buf              []byte
	partNo           int
	size             int64
	whole            hash.Hash // of every byte, for the read-back check
	parts            chan part
	free             chan []byte
	upDone           chan struct{}
	closed, finished bool
	mu               sync.Mutex // guards what the uploader records
	upErr            error
	completed        []minio.CompletePart
	digests          [][]byte
}

func (o *object) Write(p []byte) (int, error) {
	if o.finished {
		return 0, fmt.Errorf("target %s: write after commit or abort", o.t.cfg.Name)
	}
	n := 0
	for len(p) > 0 {
		if o.buf == nil {
			select {
			case b := <-o.free:
				if b == nil {
					b = make([]byte, 0, o.t.cfg.PartSize)
				}
				o.buf = b[:0]
			case <-o.upDone:
				return n, o.err()
			}
		}
		c := copy(o.buf[len(o.buf):cap(o.buf)], p)
		o.buf = o.buf[:len(o.buf)+c]
		o.whole.Write(p[:c])
		p, n, o.size = p[c:], n+c, o.size+int64(c)
		if len(o.buf) == cap(o.buf) {
			if err := o.send(); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

// send hands the filled buffer to the uploader.
func (o *object) send() error {
	o.partNo++
	select {
	case o.parts <- part{n: o.partNo, data: o.buf}:
		o.buf = nil
		return nil
	case <-o.upDone:
		return o.err()
	}
}

func (o *object) err() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.upErr == nil {
		return fmt.Errorf("target %s: upload of %s stopped", o.t.cfg.Name, o.t.Location(o.name))
	}
	return o.upErr
}

// upload sends the parts in order until the channel closes or one fails.
func (o *object) upload() {
	defer close(o.upDone)
	for p := range o.parts {
		sum := sha256.Sum256(p.data)
		b64 := base64.StdEncoding.EncodeToString(sum[:])
		op, err := o.t.core.PutObjectPart(o.ctx, o.t.cfg.Bucket, o.key, o.id, p.n, bytes.NewReader(p.data), int64(len(p.data)),
			minio.PutObjectPartOptions{Sha256Hex: hex.EncodeToString(sum[:]), CustomHeader: http.Header{"X-Amz-Checksum-Sha256": {b64}}})
		o.mu.Lock()
		if err != nil {
			o.upErr = o.t.fail(fmt.Sprintf("upload part %d of %s", p.n, o.t.Location(o.name)), err)
			o.mu.Unlock()
			return
		}
		o.completed = append(o.completed, minio.CompletePart{PartNumber: p.n, ETag: op.ETag, ChecksumSHA256: b64})
		o.digests = append(o.digests, sum[:])
		o.mu.Unlock()
		o.free <- p.data
	}
}

// finish sends what is left and waits for the uploader.
func (o *object) finish() error {
	var err error
	if !o.closed {
		if len(o.buf) > 0 || o.partNo == 0 {
			if o.buf == nil {
				o.buf = []byte{} // an empty archive is one empty part
			}
			err = o.send()
		}
		o.closed = true
		close(o.parts)
	}
	<-o.upDone
	if err != nil {
		return err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.upErr
}

// Commit completes the upload unless the name was taken meanwhile
// (If-None-Match: *), then checks the published object: its size, and the
// sha256 of every part (the server's composite checksum), or, from a server
// that keeps none, the sha256 of the whole object read back.
func (o *object) Commit(ctx context.Context) (string, error) {
	if o.finished {
		return "", fmt.Errorf("target %s: commit after commit or abort", o.t.cfg.Name)
	}
	if err := ctx.Err(); err != nil {
		o.Abort()
		return "", err
	}
	if err := o.finish(); err != nil {
		o.Abort()
		return "", err
	}
	var opts minio.PutObjectOptions
	opts.SetMatchETagExcept("*")
	if _, err := o.t.core.CompleteMultipartUpload(ctx, o.t.cfg.Bucket, o.key, o.id, o.completed, opts); err != nil {
		o.Abort()
		if minio.ToErrorResponse(err).StatusCode == http.StatusPreconditionFailed {
			return "", fmt.Errorf("target %s: %w: %s exists already", o.t.cfg.Name, storage.ErrCommit, o.t.Location(o.name))
		}
		return "", fmt.Errorf("%w: %w", storage.ErrCommit, o.t.fail("complete upload of "+o.t.Location(o.name), err))
	}
	o.finished = true
	o.cancel()
	o.mark.release(true)
	if err := o.check(ctx); err != nil {
		// Published but not what was sent: it must not pass for a backup.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
		defer cancel()
		o.t.core.Client.RemoveObject(rctx, o.t.cfg.Bucket, o.key, minio.RemoveObjectOptions{})
		return "", err
	}
	return o.name, nil
}

func (o *object) check(ctx context.Context) error {
	st, err := o.t.core.Client.StatObject(ctx, o.t.cfg.Bucket, o.key, minio.StatObjectOptions{Checksum: true})
	if err != nil {
		return o.t.fail("check "+o.t.Location(o.name), err)
	}
	if st.Size != o.size {
		return fmt.Errorf("target %s: check %s: %d bytes stored, %d sent", o.t.cfg.Name, o.t.Location(o.name), st.Size, o.size)
	}
	if st.ChecksumSHA256 != "" {
		if want := composite(o.digests); st.ChecksumSHA256 != want {
			return fmt.Errorf("target %s: check %s: sha256 %s stored, %s sent", o.t.cfg.Name, o.t.Location(o.name), st.ChecksumSHA256, want)
		}
		return nil
	}
	r, err := o.t.core.Client.GetObject(ctx, o.t.cfg.Bucket, o.key, minio.GetObjectOptions{})
	if err != nil {
		return o.t.fail("read back "+o.t.Location(o.name), err)
	}
	defer r.Close()
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return o.t.fail("read back "+o.t.Location(o.name), err)
	}
	if !bytes.Equal(h.Sum(nil), o.whole.Sum(nil)) {
		return fmt.Errorf("target %s: check %s: sha256 of the stored object differs from what was sent", o.t.cfg.Name, o.t.Location(o.name))
	}
	return nil
}

// composite is S3's checksum of a multipart object: the sha256 of the
// parts' sha256 digests, base64, then "-" and the number of parts.
func composite(digests [][]byte) string {
	h := sha256.New()
	for _, d := range digests {
		h.Write(d)
	}
	return base64.StdEncoding.EncodeToString(h.Sum(nil)) + "-" + strconv.Itoa(len(digests))
}

// Abort stops the upload and aborts it on the server. When the server
// cannot be reached the mark stays (unlocked) for RemoveOrphans to finish
// the job later.
func (o *object) Abort() error {
	if o.finished {
		return nil
	}
	o.finished = true
	o.cancel()
	o.finish()
	if err := o.t.abortUpload(o.key, o.id); err != nil {
		o.mark.release(false)
		return err
	}
	o.mark.release(true)
	return nil
}

// abortUpload aborts one upload; an upload already gone is no error.
func (t *Target) abortUpload(key, id string) error {
	ctx, cancel := context.WithTimeout(context.Background(), abortTimeout)
	defer cancel()
	err := t.core.AbortMultipartUpload(ctx, t.cfg.Bucket, key, id)
	if err != nil && !errIs(err, "NoSuchUpload") && !errors.Is(err, os.ErrNotExist) {
		return t.fail("abort upload of s3://"+t.cfg.Bucket+"/"+key, err)
	}
	return nil
}
