package archive

import (
	"archive/tar"
	"fmt"
	"path"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

const (
	maxPathLen      = 4096
	maxComponentLen = 255
)

// checkPath reports why p is not a safe archive path: it must be a clean,
// relative, slash-separated path of valid UTF-8 without "." or ".."
// components, backslashes or control characters.
func checkPath(p string) error {
	switch {
	case p == "":
		return fmt.Errorf("empty path")
	case len(p) > maxPathLen:
		return fmt.Errorf("path longer than %d bytes", maxPathLen)
	case !utf8.ValidString(p):
		return fmt.Errorf("path is not valid UTF-8")
	case strings.HasPrefix(p, "/"):
		return fmt.Errorf("absolute path")
	case strings.ContainsRune(p, '\\'):
		return fmt.Errorf("backslash in path")
	}
	for _, r := range p {
		if unicode.IsControl(r) {
			return fmt.Errorf("control character in path")
		}
	}
	for _, c := range strings.Split(p, "/") {
		switch {
		case c == "..":
			return fmt.Errorf("'..' in path")
		case c == "." || c == "":
			return fmt.Errorf("path is not clean")
		case len(c) > maxComponentLen:
			return fmt.Errorf("path component longer than %d bytes", maxComponentLen)
		}
	}
	if path.Clean(p) != p {
		return fmt.Errorf("path is not clean")
	}
	return nil
}

// display returns p for messages, quoted when it holds anything a terminal
// could interpret.
func display(p string) string {
	if !utf8.ValidString(p) {
		return strconv.Quote(p)
	}
	for _, r := range p {
		if !unicode.IsPrint(r) {
			return strconv.Quote(p)
		}
	}
	return p
}

// entry is a tar header that passed the safety checks.
type entry struct {
	name string // clean relative path, without a directory's trailing '/'
	dir  bool
	size int64
}

// checkEntry accepts only regular files and empty directories with safe
// names. The error wraps ErrUnsafeEntry and names the entry.
func checkEntry(h *tar.Header) (entry, error) {
	name := h.Name
	var kind string
	switch h.Typeflag {
	case tar.TypeReg: // the reader already turns the old TypeRegA into TypeReg or TypeDir
	case tar.TypeDir:
		name = strings.TrimSuffix(name, "/")
	case tar.TypeSymlink:
		kind = "symbolic link to " + display(h.Linkname)
	case tar.TypeLink:
		kind = "hard link to " + display(h.Linkname)
	case tar.TypeChar:
		kind = "character device"
	case tar.TypeBlock:
		kind = "block device"
	case tar.TypeFifo:
		kind = "fifo"
	case tar.TypeGNUSparse:
		kind = "sparse file"
	default:
		kind = fmt.Sprintf("entry type %q", h.Typeflag)
	}
	if kind != "" {
		return entry{}, problemf(unsafe, "%s: unsafe entry: %s", display(h.Name), kind)
	}
	if err := checkPath(name); err != nil {
		return entry{}, problemf(unsafe, "%s: unsafe entry: %v", display(h.Name), err)
	}
	for k := range h.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return entry{}, problemf(unsafe, "%s: unsafe entry: sparse file", display(h.Name))
		}
	}
	if h.Typeflag == tar.TypeDir && h.Size != 0 {
		return entry{}, problemf(unsafe, "%s: unsafe entry: directory with %d bytes of content", display(h.Name), h.Size)
	}
	return entry{name: name, dir: h.Typeflag == tar.TypeDir, size: h.Size}, nil
}
