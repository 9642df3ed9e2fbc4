package archive

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Report is what Verify found.
type Report struct {
	// Manifest is the parsed manifest.json, nil when it is missing or invalid.
	Manifest *Manifest
	// Entries counts tar entries, Files regular files (manifest.json
	// included) and Bytes their content.
	Entries int
	Files   int
	Bytes   int64
	// StreamBytes is the size of the uncompressed tar stream,
	// CompressedBytes what was read of the gzip stream.
	StreamBytes     int64
	CompressedBytes int64
	// Problems names each damaged, missing, extra or unsafe path (or "gzip",
	// "tar" for the stream), e.g. "DatabaseBackup/gl_budget.hubble: sha256
	// mismatch". Empty when the archive is intact.
	Problems []string
}

// verifyError lists every problem and wraps ErrDamaged plus the sentinels
// of the problems (ErrUnsafeEntry, ErrTooLarge).
type verifyError struct {
	problems []string
	kinds    []error
}

func (e *verifyError) Error() string {
	const shown = 5
	var b strings.Builder
	if len(e.problems) == 1 {
		b.WriteString("verify archive: ")
	} else {
		fmt.Fprintf(&b, "verify archive: %d problems: ", len(e.problems))
	}
	for i, p := range e.problems {
		if i == shown {
			fmt.Fprintf(&b, "; and %d more", len(e.problems)-shown)
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p)
	}
	return b.String()
}

func (e *verifyError) Unwrap() []error { return e.kinds }

type verifier struct {
	rep      *Report
	kinds    []error
	seen     map[string]File
	order    []string
	dirs     []string
	manifest []byte
	hasMan   bool
	buf      []byte
}

func (v *verifier) problem(err error) {
	v.rep.Problems = append(v.rep.Problems, err.Error())
	for _, k := range []error{ErrUnsafeEntry, ErrTooLarge} {
		if errors.Is(err, k) && !containsErr(v.kinds, k) {
			v.kinds = append(v.kinds, k)
		}
	}
}

func containsErr(list []error, e error) bool {
	for _, x := range list {
		if x == e {
			return true
		}
	}
	return false
}

// Verify streams the whole archive once and checks everything that can be
// checked without extracting it: the gzip stream (CRC-32 and size in its
// trailer, nothing after it), the tar structure, that every entry is safe
// to extract, and that the regular files are exactly those manifest.json
// lists, with its sizes and sha256 checksums. Limits are enforced while
// streaming.
//
// The Report is never nil. The error is nil only for an intact archive;
// otherwise it wraps ErrDamaged (and ErrUnsafeEntry / ErrTooLarge when they
// apply) and the Report lists each problem. A failing source or a canceled
// ctx is returned as such, not as damage.
func Verify(ctx context.Context, r io.Reader, lim Limits) (*Report, error) {
	v := &verifier{rep: &Report{}, seen: make(map[string]File), buf: make([]byte, 256<<10)}
	s, err := openStream(ctx, r, lim)
	if err != nil {
		if !errors.Is(err, ErrDamaged) {
			return v.rep, err
		}
		v.problem(err)
		return v.rep, v.result()
	}
	complete, err := v.read(s)
	v.rep.StreamBytes, v.rep.CompressedBytes = s.n, s.src.n
	if err != nil {
		if !errors.Is(err, ErrDamaged) && !errors.Is(err, ErrTooLarge) {
			return v.rep, err // context or source I/O
		}
		v.problem(err)
	}
	return v.conclude(complete)
}

// conclude parses the manifest that was read and, when every entry was
// seen, compares the archive against it: the last step of Verify and
// VerifyExtract alike.
func (v *verifier) conclude(complete bool) (*Report, error) {
	if v.hasMan && v.manifest != nil {
		m, err := ParseManifest(v.manifest)
		if err != nil {
			v.problem(problemf(damaged, "%s: invalid: %v", ManifestName, err))
		} else {
			v.rep.Manifest = m
		}
	}
	if complete {
		v.compare()
	}
	return v.rep, v.result()
}

// read walks the entries. complete reports that every entry was read (the
// stream itself may still have failed at its end).
func (v *verifier) read(s *stream) (complete bool, err error) {
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
			v.problem(err) // its content, if any, is skipped by the next call
			continue
		}
		if e.dir {
			v.dirs = append(v.dirs, e.name)
			continue
		}
		if _, dup := v.seen[e.name]; dup || (e.name == ManifestName && v.hasMan) {
			v.problem(problemf(damaged, "%s: duplicate entry", display(e.name)))
			continue
		}
		// A header can declare a size its compressed stream does not pay
		// for (sparse files), so the content is bounded on its own too.
		if e.size > s.lim.MaxBytes-v.rep.Bytes {
			return false, problemf(tooLarge, "%s: entry of %d bytes exceeds the limit of %d bytes", display(e.name), e.size, s.lim.MaxBytes)
		}
		v.rep.Files++
		v.rep.Bytes += e.size
		if e.name == ManifestName {
			v.hasMan = true
			if e.size > maxManifestBytes {
				v.problem(problemf(damaged, "%s: larger than %d bytes", ManifestName, maxManifestBytes))
				continue
			}
			data, err := io.ReadAll(s.tr)
			if err != nil {
				return false, s.classify(err)
			}
			v.manifest = data
			continue
		}
		h256 := sha256.New()
		n, err := io.CopyBuffer(h256, s.tr, v.buf)
		if err != nil {
			return false, s.classify(err)
		}
		v.seen[e.name] = File{Path: e.name, Bytes: n, SHA256: hex.EncodeToString(h256.Sum(nil))}
		v.order = append(v.order, e.name)
	}
}

// compare checks the archive's files against the manifest.
func (v *verifier) compare() {
	m := v.rep.Manifest
	if m == nil {
		if !v.hasMan {
			v.problem(problemf(damaged, "%s: missing", ManifestName))
		}
		return
	}
	expected := m.Expected()
	check := func(want File) {
		got, ok := v.seen[want.Path]
		switch {
		case !ok:
			v.problem(problemf(damaged, "%s: missing", want.Path))
		case got.Bytes != want.Bytes:
			v.problem(problemf(damaged, "%s: size mismatch: manifest says %d bytes, archive holds %d", want.Path, want.Bytes, got.Bytes))
		case got.SHA256 != want.SHA256:
			v.problem(problemf(damaged, "%s: sha256 mismatch", want.Path))
		}
	}
	for _, t := range m.Tables {
		check(File{Path: t.File, Bytes: t.Bytes, SHA256: t.SHA256})
	}
	for _, f := range m.Files {
		check(f)
	}
	for _, p := range v.order {
		if _, ok := expected[p]; !ok {
			v.problem(problemf(unsafe, "%s: not in manifest", display(p)))
		}
	}
	dirs := parents(expected)
	for _, d := range v.dirs {
		if !dirs[d] {
			v.problem(problemf(unsafe, "%s/: directory not in manifest", display(d)))
		}
	}
}

func (v *verifier) result() error {
	if len(v.rep.Problems) == 0 {
		return nil
	}
	return &verifyError{problems: v.rep.Problems, kinds: append([]error{ErrDamaged}, v.kinds...)}
}
