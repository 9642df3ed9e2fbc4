package archive

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/klauspost/pgzip"
)

// Compression block size and the number of blocks compressed at once. With
// 1 MiB blocks and 4 in flight, two cores stay busy while one block is being
// written out, and the compressor's memory stays around 16 MiB.
const (
	gzipBlockSize = 1 << 20
	gzipBlocks    = 4
)

// copyChunk is how much AddFile copies between context checks.
const copyChunk = 1 << 20

// Writer writes an archive: a tar stream compressed by pgzip (parallel
// blocks, but a single ordinary gzip member). Entries are written in the
// order of the calls; the caller adds manifest.json last. A Writer is not
// safe for concurrent use. After any error the archive is unusable: Close
// still must be called to release the compressor's goroutines.
type Writer struct {
	gz    *pgzip.Writer
	tw    *tar.Writer
	mtime time.Time
	names map[string]bool
	files []File
	buf   []byte
	err   error
}

// NewWriter returns a Writer compressing at level (gzip levels: 0 none,
// 1 fastest ... 9 smallest, -1 default) into w.
func NewWriter(w io.Writer, level int) (*Writer, error) {
	gz, err := pgzip.NewWriterLevel(w, level)
	if err != nil {
		return nil, fmt.Errorf("new archive writer: %w", err)
	}
	if err := gz.SetConcurrency(gzipBlockSize, gzipBlocks); err != nil {
		return nil, fmt.Errorf("new archive writer: %w", err)
	}
	mtime := time.Now().Truncate(time.Second)
	// pgzip, unlike compress/gzip, writes a zero ModTime as a bogus date.
	gz.ModTime = mtime
	return &Writer{
		gz:    gz,
		tw:    tar.NewWriter(gz),
		mtime: mtime,
		names: make(map[string]bool),
	}, nil
}

// Files returns the regular files written so far, in order.
func (w *Writer) Files() []File {
	return append([]File(nil), w.files...)
}

// AddDir adds a directory entry (mode 0755). name has no trailing slash.
func (w *Writer) AddDir(name string) error {
	if err := w.begin(name); err != nil {
		return err
	}
	if err := w.tw.WriteHeader(w.header(name+"/", tar.TypeDir, 0o755, 0)); err != nil {
		return w.fail(err, name)
	}
	w.names[name] = true
	return nil
}

// AddBytes adds a regular file (mode 0644) holding data.
func (w *Writer) AddBytes(ctx context.Context, name string, data []byte) (File, error) {
	if err := ctx.Err(); err != nil {
		return File{}, fmt.Errorf("add %s: %w", name, err)
	}
	if err := w.begin(name); err != nil {
		return File{}, err
	}
	if err := w.tw.WriteHeader(w.header(name, tar.TypeReg, 0o644, int64(len(data)))); err != nil {
		return File{}, w.fail(err, name)
	}
	if _, err := w.tw.Write(data); err != nil {
		return File{}, w.fail(err, name)
	}
	sum := sha256.Sum256(data)
	return w.added(name, int64(len(data)), sum[:]), nil
}

// AddFile adds the regular file at path under name, streaming it in bounded
// memory and hashing it on the way. Its size is taken when it is opened; a
// file that shrinks or grows while being copied is an error. ctx is checked
// between chunks; a canceled AddFile leaves the archive unusable.
func (w *Writer) AddFile(ctx context.Context, name, path string) (File, error) {
	if err := ctx.Err(); err != nil {
		return File{}, fmt.Errorf("add %s: %w", name, err)
	}
	if err := w.begin(name); err != nil {
		return File{}, err
	}
	f, err := os.Open(path)
	if err != nil {
		return File{}, fmt.Errorf("add %s: %w", name, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return File{}, fmt.Errorf("add %s: %w", name, err)
	}
	if !st.Mode().IsRegular() {
		return File{}, fmt.Errorf("add %s: %s is not a regular file", name, path)
	}
	size := st.Size()
	if err := w.tw.WriteHeader(w.header(name, tar.TypeReg, 0o644, size)); err != nil {
		return File{}, w.fail(err, name)
	}
	if w.buf == nil {
		w.buf = make([]byte, copyChunk)
	}
	h := sha256.New()
	dst := io.MultiWriter(w.tw, h)
	for left := size; left > 0; {
		if err := ctx.Err(); err != nil {
			return File{}, w.fail(err, name)
		}
		chunk := w.buf[:min(left, int64(len(w.buf)))]
		n, err := io.ReadFull(f, chunk)
		if n > 0 {
			if _, werr := dst.Write(chunk[:n]); werr != nil {
				return File{}, w.fail(werr, name)
			}
			left -= int64(n)
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return File{}, w.fail(fmt.Errorf("%s shrank from %d to %d bytes while being archived", path, size, size-left), name)
		}
		if err != nil {
			return File{}, w.fail(err, name)
		}
	}
	if n, _ := f.Read(w.buf[:1]); n > 0 {
		return File{}, w.fail(fmt.Errorf("%s grew past %d bytes while being archived", path, size), name)
	}
	return w.added(name, size, h.Sum(nil)), nil
}

// Close writes the tar trailer and the gzip trailer. It does not close the
// underlying writer. It must be called even after an error.
func (w *Writer) Close() error {
	if w.err != nil {
		// Reset waits for the compressing goroutines and drops their output.
		w.gz.Reset(io.Discard)
		return w.err
	}
	w.err = errors.New("archive writer closed")
	if err := w.tw.Close(); err != nil {
		w.gz.Reset(io.Discard)
		return fmt.Errorf("close archive: %w", err)
	}
	if err := w.gz.Close(); err != nil {
		w.gz.Reset(io.Discard)
		return fmt.Errorf("close archive: %w", err)
	}
	return nil
}

func (w *Writer) begin(name string) error {
	if w.err != nil {
		return w.err
	}
	if err := checkPath(name); err != nil {
		return fmt.Errorf("add %s: %v", display(name), err)
	}
	if w.names[name] {
		return fmt.Errorf("add %s: already in the archive", name)
	}
	return nil
}

func (w *Writer) header(name string, typ byte, mode, size int64) *tar.Header {
	return &tar.Header{
		Typeflag: typ,
		Name:     name,
		Mode:     mode,
		Size:     size,
		ModTime:  w.mtime,
		Format:   tar.FormatPAX,
	}
}

// fail makes err sticky: a partly written entry leaves the tar unusable.
func (w *Writer) fail(err error, name string) error {
	w.err = fmt.Errorf("add %s: %w", name, err)
	return w.err
}

func (w *Writer) added(name string, size int64, sum []byte) File {
	f := File{Path: name, Bytes: size, SHA256: hex.EncodeToString(sum)}
	w.names[name] = true
	w.files = append(w.files, f)
	return f
}
