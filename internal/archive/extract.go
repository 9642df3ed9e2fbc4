package archive

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
)

// Extract writes the archive read from r into dir, an existing empty
// directory, refusing at the first problem and then removing everything it
// wrote. m is the archive's manifest as Verify returned it; the archive must
// hold exactly the files it lists (plus manifest.json, identical to m).
//
// Refused (ErrUnsafeEntry): absolute paths, ".." components, symbolic and
// hard links, devices, fifos, and any entry m does not list. Refused
// (ErrTooLarge): an entry larger than m declares (before any of it is
// written), a total past m's declared total or lim.MaxBytes, too many
// entries. Refused (ErrDamaged): checksum or size mismatches, a damaged gzip
// or tar stream, missing files. Files are created 0640 and directories 0750
// whatever the archive says, never through an existing file or symlink.
func Extract(ctx context.Context, r io.Reader, dir string, m *Manifest, lim Limits) (err error) {
	if m == nil {
		return errors.New("extract archive: no manifest")
	}
	wantManifest, err := m.Marshal()
	if err != nil {
		return fmt.Errorf("extract archive: %w", err)
	}
	if err := checkEmptyDir(dir); err != nil {
		return err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("extract archive: %w", err)
	}
	defer root.Close()
	x := &extractor{
		root:     root,
		dir:      dir,
		madeDirs: make(map[string]bool),
		buf:      make([]byte, 256<<10),
	}
	defer func() {
		if err != nil {
			x.cleanup()
		}
	}()
	lim = lim.withDefaults()
	s, err := openStream(ctx, r, lim)
	if err != nil {
		return fmt.Errorf("extract archive: %w", err)
	}
	if err := x.entries(s, m, wantManifest); err != nil {
		return fmt.Errorf("extract archive: %w", err)
	}
	return nil
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

type extractor struct {
	root     *os.Root
	dir      string
	created  []string // in creation order, for cleanup
	madeDirs map[string]bool
	buf      []byte
}

func (x *extractor) entries(s *stream, m *Manifest, wantManifest []byte) error {
	expected := m.Expected()
	dirs := parents(expected)
	declared := m.TotalBytes()
	done := make(map[string]bool, len(expected)+1)
	var written int64
	for {
		h, err := s.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		e, err := checkEntry(h)
		if err != nil {
			return err
		}
		if e.dir {
			if !dirs[e.name] {
				return problemf(unsafe, "%s/: directory not in manifest", display(e.name))
			}
			if err := x.mkdirAll(e.name); err != nil {
				return err
			}
			continue
		}
		if done[e.name] {
			return problemf(damaged, "%s: duplicate entry", display(e.name))
		}
		done[e.name] = true
		if e.name == ManifestName {
			if err := x.manifest(s, e, wantManifest); err != nil {
				return err
			}
			continue
		}
		want, ok := expected[e.name]
		switch {
		case !ok:
			return problemf(unsafe, "%s: not in manifest", display(e.name))
		case e.size > want.Bytes:
			return problemf(tooLarge, "%s: entry of %d bytes, manifest declares %d", e.name, e.size, want.Bytes)
		case e.size < want.Bytes:
			return problemf(damaged, "%s: size mismatch: manifest says %d bytes, archive holds %d", e.name, want.Bytes, e.size)
		case e.size > declared-written:
			return problemf(tooLarge, "%s: archive expands past the %d bytes its manifest declares", e.name, declared)
		case e.size > s.lim.MaxBytes-written:
			return problemf(tooLarge, "%s: archive expands past the limit of %d bytes", e.name, s.lim.MaxBytes)
		}
		written += e.size
		if err := x.file(s, e.name, want); err != nil {
			return err
		}
	}
	if err := s.finish(); err != nil {
		return err
	}
	if !done[ManifestName] {
		return problemf(damaged, "%s: missing", ManifestName)
	}
	for _, f := range m.Files {
		if !done[f.Path] {
			return problemf(damaged, "%s: missing", f.Path)
		}
	}
	for _, t := range m.Tables {
		if !done[t.File] {
			return problemf(damaged, "%s: missing", t.File)
		}
	}
	return nil
}

// manifest writes manifest.json after checking it is the one verified.
func (x *extractor) manifest(s *stream, e entry, want []byte) error {
	if e.size > maxManifestBytes {
		return problemf(tooLarge, "%s: larger than %d bytes", ManifestName, maxManifestBytes)
	}
	data, err := io.ReadAll(s.tr)
	if err != nil {
		return s.classify(err)
	}
	pm, err := ParseManifest(data)
	if err != nil {
		return problemf(damaged, "%s: invalid: %v", ManifestName, err)
	}
	if got, err := pm.Marshal(); err != nil || !bytes.Equal(got, want) {
		return problemf(damaged, "%s: differs from the manifest that was verified", ManifestName)
	}
	sum := sha256.Sum256(data)
	return x.file(s, ManifestName, File{Path: ManifestName, Bytes: int64(len(data)), SHA256: hex.EncodeToString(sum[:])}, data)
}

// file creates name and copies the current entry (or data, when given) into
// it, hashing on the way; a mismatch with want is an error.
func (x *extractor) file(s *stream, name string, want File, data ...[]byte) error {
	if i := strings.LastIndexByte(name, '/'); i > 0 {
		if err := x.mkdirAll(name[:i]); err != nil {
			return err
		}
	}
	f, err := x.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o640)
	if err != nil {
		return fmt.Errorf("create %s: %w", name, err)
	}
	x.created = append(x.created, name)
	h := sha256.New()
	ew := &errWriter{w: f}
	var src io.Reader = s.tr
	if len(data) > 0 {
		src = bytes.NewReader(data[0])
	}
	n, err := io.CopyBuffer(io.MultiWriter(ew, h), src, x.buf)
	if cerr := f.Close(); err == nil && cerr != nil {
		ew.err, err = cerr, cerr
	}
	if err != nil {
		if ew.err != nil {
			return fmt.Errorf("write %s: %w", name, ew.err)
		}
		return s.classify(err)
	}
	if n != want.Bytes {
		return problemf(damaged, "%s: size mismatch: manifest says %d bytes, archive holds %d", name, want.Bytes, n)
	}
	if hex.EncodeToString(h.Sum(nil)) != want.SHA256 {
		return problemf(damaged, "%s: sha256 mismatch", name)
	}
	return nil
}

// mkdirAll creates dir and its parents (0750), refusing anything that
// already exists but was not made by this extraction.
func (x *extractor) mkdirAll(dir string) error {
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
	for i := len(x.created) - 1; i >= 0; i-- {
		_ = x.root.Remove(x.created[i])
	}
}

// errWriter remembers its writer's error, to tell a full disk from a
// damaged archive.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	n, err := e.w.Write(p)
	if err != nil && e.err == nil {
		e.err = err
	}
	return n, err
}
