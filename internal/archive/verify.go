package archive

import (
	"context"
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
	// Indexed reports that the archive was read through its index.
	Indexed bool
	// Written is what an extraction wrote (and removed again if it failed).
	Written int64
	// Problems names each damaged, missing, extra or unsafe path (or "gzip",
	// "tar" for the stream), e.g. "DatabaseBackup/gl_budget.hubble: sha256
	// mismatch". Empty when the archive is intact. At most maxProblems are
	// listed, then one line counts the others.
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
	more     int // problems past maxProblems, counted only
}

// maxProblems bounds the problems listed: an entry flood must not cost a
// line of memory per entry.
const maxProblems = 1000

func (v *verifier) problem(err error) {
	if len(v.rep.Problems) < maxProblems {
		v.rep.Problems = append(v.rep.Problems, err.Error())
	} else {
		v.more++
	}
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

func newVerifier() *verifier {
	return &verifier{rep: &Report{}, seen: make(map[string]File), buf: make([]byte, 256<<10)}
}

// VerifyStream reads the archive from r once, in order, and checks
// everything that can be checked without extracting it: the gzip stream
// (every member's CRC-32 and size, nothing after the last), the tar
// structure, that every entry is safe to extract, and that the regular files
// are exactly those manifest.json lists, with its sizes and sha256
// checksums. Limits are enforced while streaming. It reads the archives of
// every release alike (the index, if any, is not needed).
//
// The Report is never nil. The error is nil only for an intact archive;
// otherwise it wraps ErrDamaged (and ErrUnsafeEntry / ErrTooLarge when they
// apply) and the Report lists each problem. A failing source or a canceled
// ctx is returned as such, not as damage.
func VerifyStream(ctx context.Context, r io.Reader, lim Limits) (*Report, error) {
	w := &walker{v: newVerifier(), collect: true}
	return w.run(ctx, r, lim)
}

// Verify checks the archive in r[0:size] as VerifyStream does. An archive
// with an index is checked through it (OpenIndexed, CheckStructure, then
// every file inflated and hashed, several at once), others by VerifyStream.
func Verify(ctx context.Context, r io.ReaderAt, size int64, lim Limits) (*Report, error) {
	ar, err := OpenIndexed(r, size, lim)
	if errors.Is(err, ErrNoIndex) {
		return VerifyStream(ctx, io.NewSectionReader(r, 0, size), lim)
	}
	v := newVerifier()
	v.rep.CompressedBytes = size
	if err != nil {
		if !isProblem(err) {
			return v.rep, err
		}
		v.problem(err)
		return v.rep, v.result()
	}
	if err := ar.verify(ctx, v, nil, false); err != nil {
		return v.rep, err
	}
	return v.rep, v.result()
}

// conclude parses the manifest that was read and compares the archive
// against it: the last step of every sequential read.
func (v *verifier) conclude(complete bool) (*Report, error) {
	if v.hasMan && v.manifest != nil {
		m, err := ParseManifest(v.manifest)
		if err != nil {
			v.problem(problemf(damaged, "%s: invalid: %v", ManifestName, err))
		} else {
			v.rep.Manifest = m
		}
	}
	v.compare(complete)
	return v.rep, v.result()
}

// compare checks the archive's files against the manifest, when every
// entry was seen.
func (v *verifier) compare(complete bool) {
	if !complete {
		return
	}
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
	if v.more > 0 {
		v.rep.Problems = append(v.rep.Problems, fmt.Sprintf("and %d more problems", v.more))
		v.more = 0
	}
	return &verifyError{problems: v.rep.Problems, kinds: append([]error{ErrDamaged}, v.kinds...)}
}
