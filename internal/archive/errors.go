package archive

import (
	"errors"
	"fmt"
)

// Sentinel errors. Errors returned by this package wrap one (or more) of them
// and name the archive entry concerned.
var (
	// ErrDamaged reports an archive whose gzip stream, tar structure or
	// content does not match what it should be (checksums, manifest).
	ErrDamaged = errors.New("archive damaged")
	// ErrUnsafeEntry reports an entry that must never be extracted: an
	// absolute or escaping path, a link, a device, a fifo, or an entry the
	// manifest does not list.
	ErrUnsafeEntry = errors.New("unsafe archive entry")
	// ErrTooLarge reports an archive, or an entry, that expands past a limit
	// or past what its manifest declares (a gzip bomb, or a lying manifest).
	ErrTooLarge = errors.New("archive too large")
)

// problemError is one thing wrong with an archive: a message naming what
// (the entry, or "gzip", "tar") and the sentinels it stands for.
type problemError struct {
	msg   string
	kinds []error
}

func (e *problemError) Error() string   { return e.msg }
func (e *problemError) Unwrap() []error { return e.kinds }

// problemf formats a problem message and tags it with kind(s).
func problemf(kinds []error, format string, args ...any) error {
	return &problemError{msg: fmt.Sprintf(format, args...), kinds: kinds}
}

var (
	damaged  = []error{ErrDamaged}
	unsafe   = []error{ErrUnsafeEntry}
	tooLarge = []error{ErrTooLarge}
)
