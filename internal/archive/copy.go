package archive

import (
	"io"
	"sync/atomic"
)

const (
	asyncChunk  = 256 << 10
	asyncChunks = 4
)

// copyAsync copies src to w: this goroutine reads (inflating and hashing),
// another writes. It returns the bytes read, the read error (not io.EOF)
// and the write error; after a write error it stops reading. Memory stays
// at a few fixed buffers.
func copyAsync(w io.Writer, src io.Reader) (n int64, rerr, werr error) {
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
