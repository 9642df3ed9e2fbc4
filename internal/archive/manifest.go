package archive

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// maxManifestBytes bounds how much of manifest.json is ever read into memory.
const maxManifestBytes = 64 << 20

// Manifest describes what an archive holds. It is written as manifest.json,
// the archive's last entry, in a gzip member of its own that the trailer
// points to.
type Manifest struct {
	FormatVersion int       `json:"format_version"`
	Tool          string    `json:"tool"`
	ToolVersion   string    `json:"tool_version"`
	Engine        string    `json:"engine"`
	ServerVersion string    `json:"server_version"`
	ClientVersion string    `json:"client_version"`
	Database      string    `json:"database"`
	Schema        string    `json:"schema"`
	SnapshotTime  time.Time `json:"snapshot_time"`
	CreatedTime   time.Time `json:"created_time"`
	// Job is the id of the job that wrote the archive, so that a restarted
	// service can find the archive of a job it did not see finish.
	Job string `json:"job,omitempty"`
	// Tables lists one data file per table.
	Tables []Table `json:"tables"`
	// Files lists every other file of the archive (scripts, the replication
	// export), but not manifest.json itself.
	Files []File `json:"files"`
	// Index lists every tar entry but manifest.json in archive order with
	// its gzip members (format 2; absent in format 1). Writer.Finish fills it.
	Index []IndexEntry `json:"index,omitempty"`
}

// IndexEntry is one tar entry of the archive: the gzip member that holds
// its tar header (after the previous entry's padding), then the members
// that hold its content, nothing else. Members follow each other without
// gaps from offset 0, so an entry's offset is the sum of what precedes it.
type IndexEntry struct {
	// Path is the tar name: a file's path, or a directory's with a
	// trailing slash.
	Path    string   `json:"path"`
	Header  Member   `json:"header"`
	Content []Member `json:"content,omitempty"`
}

// Member is one gzip member: its size in the archive and once inflated.
type Member struct {
	Compressed int64 `json:"c"`
	Bytes      int64 `json:"u"`
}

// Table is one table's data file.
type Table struct {
	// Name is the schema-qualified name, both parts quoted as SQL
	// identifiers (see QualifiedName).
	Name   string `json:"name"`
	Schema string `json:"schema"`
	Table  string `json:"table"`
	// File is the data file's path in the archive.
	File   string `json:"file"`
	Rows   int64  `json:"rows"`
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
}

// File is a file of the archive: its path, size and lower-case hex sha256.
type File struct {
	Path   string `json:"path"`
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
}

// ParseManifest decodes and validates manifest.json.
func ParseManifest(data []byte) (*Manifest, error) {
	if len(data) > maxManifestBytes {
		return nil, fmt.Errorf("parse manifest: larger than %d bytes", maxManifestBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("parse manifest: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("parse manifest: data after the JSON object")
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// Validate checks what ParseManifest checks: a known format version, safe,
// relative and unique paths (never manifest.json), sizes and row counts not
// negative, and checksums of 64 lower-case hex digits.
func (m *Manifest) Validate() error {
	if m.FormatVersion != FormatVersion && m.FormatVersion != formatNoIndex {
		return fmt.Errorf("validate manifest: unknown format version %d (this tool reads %d and %d)", m.FormatVersion, formatNoIndex, FormatVersion)
	}
	seen := make(map[string]bool, len(m.Tables)+len(m.Files))
	check := func(what string, f File) error {
		if err := checkPath(f.Path); err != nil {
			return fmt.Errorf("validate manifest: %s %s: %v", what, display(f.Path), err)
		}
		if f.Path == ManifestName {
			return fmt.Errorf("validate manifest: %s %s: the manifest cannot list itself", what, f.Path)
		}
		if seen[f.Path] {
			return fmt.Errorf("validate manifest: %s %s: listed twice", what, f.Path)
		}
		seen[f.Path] = true
		if f.Bytes < 0 {
			return fmt.Errorf("validate manifest: %s %s: negative size %d", what, f.Path, f.Bytes)
		}
		if !validSHA256(f.SHA256) {
			return fmt.Errorf("validate manifest: %s %s: sha256 is not 64 lower-case hex digits", what, f.Path)
		}
		return nil
	}
	for _, t := range m.Tables {
		if t.Schema == "" || t.Table == "" || t.Name == "" {
			return fmt.Errorf("validate manifest: table file %s: name, schema and table are required", display(t.File))
		}
		if t.Rows < 0 {
			return fmt.Errorf("validate manifest: table %s: negative row count %d", display(t.Name), t.Rows)
		}
		if err := check("table file", File{Path: t.File, Bytes: t.Bytes, SHA256: t.SHA256}); err != nil {
			return err
		}
	}
	for _, f := range m.Files {
		if err := check("file", f); err != nil {
			return err
		}
	}
	// A path cannot be both a file and the directory of another file.
	for d := range parents(m.Expected()) {
		if seen[d] || d == ManifestName {
			return fmt.Errorf("validate manifest: %s is listed as a file and used as a directory", d)
		}
	}
	return m.validateIndex()
}

func validSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// Marshal validates m and encodes it as indented JSON ending in a newline.
func (m *Manifest) Marshal() ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode manifest: %w", err)
	}
	return append(b, '\n'), nil
}

// Expected returns every file the manifest lists (tables' data files and the
// other files) by path.
func (m *Manifest) Expected() map[string]File {
	files := make(map[string]File, len(m.Tables)+len(m.Files))
	for _, t := range m.Tables {
		files[t.File] = File{Path: t.File, Bytes: t.Bytes, SHA256: t.SHA256}
	}
	for _, f := range m.Files {
		files[f.Path] = f
	}
	return files
}

// TotalBytes is the sum of the sizes of every file the manifest lists.
func (m *Manifest) TotalBytes() int64 {
	var n int64
	for _, t := range m.Tables {
		n = addSat(n, t.Bytes)
	}
	for _, f := range m.Files {
		n = addSat(n, f.Bytes)
	}
	return n
}

// addSat adds two non-negative sizes without overflowing.
func addSat(a, b int64) int64 {
	if a > (1<<63-1)-b {
		return 1<<63 - 1
	}
	return a + b
}

// parents returns every directory that is a proper prefix of a listed path.
func parents(files map[string]File) map[string]bool {
	dirs := make(map[string]bool)
	for p := range files {
		for i := len(p) - 1; i > 0; i-- {
			if p[i] == '/' {
				if dirs[p[:i]] {
					break
				}
				dirs[p[:i]] = true
			}
		}
	}
	return dirs
}
