package archive

import (
	"context"
	"io"
	"runtime"
	"strings"

	"golang.org/x/sync/errgroup"
)

// maxWorkers bounds how many files an indexed read inflates at once.
const maxWorkers = 4

// verify checks the archive through its index: every header member, then
// every file inflated, hashed and compared, several at once. fn, if set, is
// handed each file's Entry first (extraction). Problems go to v: all of
// them, or with stop only the first, which also ends the other workers.
// The error is anything else (ctx, I/O, fn's own failure).
func (r *Reader) verify(ctx context.Context, v *verifier, fn func(*Entry) error, stop bool) error {
	rep := v.rep
	rep.Indexed, rep.Manifest = true, r.m
	rep.Entries, rep.StreamBytes, rep.CompressedBytes = len(r.spans)+1, r.streamBytes(), r.size
	rep.Files, rep.Bytes = 1, int64(len(r.raw))
	var files []string
	for _, s := range r.spans {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := r.checkHeader(s); err != nil {
			if !isProblem(err) {
				return err
			}
			v.problem(err)
			if stop {
				return nil
			}
		}
		if !strings.HasSuffix(s.entry.Path, "/") {
			files = append(files, s.entry.Path)
			rep.Files++
			rep.Bytes += s.bytes
		}
	}
	problems := make([]error, len(files))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(min(maxWorkers, runtime.GOMAXPROCS(0)))
	for i, path := range files {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error {
			err := r.readFile(gctx, path, fn)
			if err != nil && isProblem(err) && !stop {
				problems[i] = err
				return nil
			}
			return err
		})
	}
	err := g.Wait()
	for _, p := range problems {
		if p != nil {
			v.problem(p)
		}
	}
	if err != nil && isProblem(err) {
		v.problem(err)
		return nil
	}
	if err == nil {
		err = ctx.Err()
	}
	return err
}

// readFile hands the file's Entry to fn, then reads what fn left.
func (r *Reader) readFile(ctx context.Context, path string, fn func(*Entry) error) error {
	e, err := r.Open(path)
	if err != nil {
		return err
	}
	defer e.Close()
	if fn != nil {
		if err := fn(e); err != nil {
			return err
		}
	}
	buf := make([]byte, 256<<10)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if _, err := e.Read(buf); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
	}
}
