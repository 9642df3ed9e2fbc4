package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/klauspost/compress/gzip"
)

// copyChunk is how much is copied between context checks.
const copyChunk = 1 << 20

// Writer writes an archive in the indexed format (doc.go): every tar header
// and every file's content in gzip members of their own, manifest.json (with
// the index) in its own member, then the fixed trailer. Entries are written
// in the order of the calls; Finish ends the archive. A Writer is not safe
// for concurrent use; after any error the archive is unusable.
type Writer struct {
	out   *countWriter
	level int
	gz    *gzip.Writer
	mtime time.Time
	names map[string]bool
	files []File
	index []IndexEntry
	pad   int64 // padding owed by the last entry, written before the next header
	buf   []byte
	err   error
}

// NewWriter returns a Writer compressing at level (gzip levels: 0 none,
// 1 fastest ... 9 smallest, -1 default) into w.
func NewWriter(w io.Writer, level int) (*Writer, error) {
	gz, err := gzip.NewWriterLevel(io.Discard, level)
	if err != nil {
		return nil, fmt.Errorf("new archive writer: %w", err)
	}
	return &Writer{
		out:   &countWriter{w: w},
		level: level,
		gz:    gz,
		mtime: time.Now().Truncate(time.Second),
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
	hm, err := w.header(name+"/", tar.TypeDir, 0o755, 0)
	if err != nil {
		return w.fail(err, name)
	}
	w.names[name] = true
	w.index = append(w.index, IndexEntry{Path: name + "/", Header: hm})
	return nil
}

// AddBytes adds a regular file (mode 0644) holding data.
func (w *Writer) AddBytes(ctx context.Context, name string, data []byte) (File, error) {
	return w.addFrom(ctx, name, "data", int64(len(data)), bytes.NewReader(data))
}

// AddFile adds the regular file at path under name, streaming it in bounded
// memory and hashing it on the way. Its size is taken when it is opened; a
// file that shrinks or grows while being copied is an error. ctx is checked
// between chunks; a canceled AddFile leaves the archive unusable.
func (w *Writer) AddFile(ctx context.Context, name, path string) (File, error) {
	if err := ctx.Err(); err != nil {
		return File{}, fmt.Errorf("add %s: %w", name, err)
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
	return w.addFrom(ctx, name, path, st.Size(), f)
}

// addFrom adds name with the size bytes of src (what names src in
// errors), compressed here.
func (w *Writer) addFrom(ctx context.Context, name, what string, size int64, src io.Reader) (File, error) {
	if err := ctx.Err(); err != nil {
		return File{}, fmt.Errorf("add %s: %w", name, err)
	}
	if err := w.begin(name); err != nil {
		return File{}, err
	}
	hm, err := w.header(name, tar.TypeReg, 0o644, size)
	if err != nil {
		return File{}, w.fail(err, name)
	}
	p, err := NewPart(w.out, w.level)
	if err != nil {
		return File{}, w.fail(err, name)
	}
	if err := w.copy(ctx, p, src, size, what); err != nil {
		return File{}, w.fail(err, name)
	}
	if err := p.Close(); err != nil {
		return File{}, w.fail(err, name)
	}
	return w.added(name, hm, p), nil
}

// AddPart adds a regular file (mode 0644) whose content p compressed:
// compressed yields exactly the bytes p wrote (p.Compressed() of them),
// which are copied into the archive unchanged. p must be closed.
func (w *Writer) AddPart(ctx context.Context, name string, p *Part, compressed io.Reader) (File, error) {
	if err := ctx.Err(); err != nil {
		return File{}, fmt.Errorf("add %s: %w", name, err)
	}
	if !p.closed || p.err != nil {
		return File{}, fmt.Errorf("add %s: part not closed, or failed", name)
	}
	if err := w.begin(name); err != nil {
		return File{}, err
	}
	hm, err := w.header(name, tar.TypeReg, 0o644, p.n)
	if err != nil {
		return File{}, w.fail(err, name)
	}
	if err := w.copy(ctx, w.out, compressed, p.dst.n, "compressed part"); err != nil {
		return File{}, w.fail(err, name)
	}
	return w.added(name, hm, p), nil
}

// copy copies exactly n bytes of src to dst, checking ctx between chunks.
// what names src in errors.
func (w *Writer) copy(ctx context.Context, dst io.Writer, src io.Reader, n int64, what string) error {
	if w.buf == nil {
		w.buf = make([]byte, copyChunk)
	}
	for left := n; left > 0; {
		if err := ctx.Err(); err != nil {
			return err
		}
		chunk := w.buf[:min(left, int64(len(w.buf)))]
		k, err := io.ReadFull(src, chunk)
		if k > 0 {
			if _, err := dst.Write(chunk[:k]); err != nil {
				return err
			}
			left -= int64(k)
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("%s shrank from %d to %d bytes while being archived", what, n, n-left)
		}
		if err != nil {
			return err
		}
	}
	if k, _ := src.Read(w.buf[:1]); k > 0 {
		return fmt.Errorf("%s grew past %d bytes while being archived", what, n)
	}
	return nil
}

// Finish writes manifest.json, m with the index filled in, in a gzip
// member of its own, then the trailer that points to it. m.FormatVersion
// and m.Index are set here. It does not close the underlying writer.
func (w *Writer) Finish(ctx context.Context, m *Manifest) error {
	if w.err != nil {
		return w.err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("finish archive: %w", err)
	}
	w.err = errors.New("archive writer finished")
	m.FormatVersion = FormatVersion
	m.Index = append([]IndexEntry(nil), w.index...)
	data, err := m.Marshal()
	if err != nil {
		return fmt.Errorf("finish archive: %w", err)
	}
	hdr, err := tarHeader(w.tarHeader(ManifestName, tar.TypeReg, 0o644, int64(len(data))))
	if err != nil {
		return fmt.Errorf("finish archive: %w", err)
	}
	t := trailer{offset: w.out.n, pad: w.pad}
	member := make([]byte, 0, w.pad+int64(len(hdr)+len(data))+padding(int64(len(data))))
	member = append(member, make([]byte, w.pad)...)
	member = append(append(member, hdr...), data...)
	member = append(member, make([]byte, padding(int64(len(data))))...)
	if err := w.member(member); err != nil {
		return fmt.Errorf("finish archive: %w", err)
	}
	t.compressed, t.stream = w.out.n-t.offset, int64(len(member))
	if _, err := w.out.Write(t.marshal()); err != nil {
		return fmt.Errorf("finish archive: %w", err)
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
	if w.names[name] || name == ManifestName {
		return fmt.Errorf("add %s: already in the archive", name)
	}
	return nil
}

func (w *Writer) tarHeader(name string, typ byte, mode, size int64) *tar.Header {
	return &tar.Header{Typeflag: typ, Name: name, Mode: mode, Size: size, ModTime: w.mtime, Format: tar.FormatPAX}
}

// header writes the member holding the padding owed by the previous entry
// and the tar header of this one.
func (w *Writer) header(name string, typ byte, mode, size int64) (Member, error) {
	hdr, err := tarHeader(w.tarHeader(name, typ, mode, size))
	if err != nil {
		return Member{}, err
	}
	data := append(make([]byte, w.pad, w.pad+int64(len(hdr))), hdr...)
	start := w.out.n
	if err := w.member(data); err != nil {
		return Member{}, err
	}
	w.pad = padding(size)
	return Member{Compressed: w.out.n - start, Bytes: int64(len(data))}, nil
}

// member writes data as one gzip member.
func (w *Writer) member(data []byte) error {
	w.gz.Reset(w.out)
	if _, err := w.gz.Write(data); err != nil {
		return err
	}
	return w.gz.Close()
}

// tarHeader encodes h: its header blocks, PAX records included.
func tarHeader(h *tar.Header) ([]byte, error) {
	var buf bytes.Buffer
	// The header blocks are written at once; the entry stays unfinished.
	if err := tar.NewWriter(&buf).WriteHeader(h); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// fail makes err sticky: a partly written entry leaves the archive unusable.
func (w *Writer) fail(err error, name string) error {
	w.err = fmt.Errorf("add %s: %w", name, err)
	return w.err
}

func (w *Writer) added(name string, hm Member, p *Part) File {
	f := File{Path: name, Bytes: p.n, SHA256: p.SHA256()}
	w.names[name] = true
	w.files = append(w.files, f)
	w.index = append(w.index, IndexEntry{Path: name, Header: hm, Content: append([]Member(nil), p.members...)})
	return f
}
