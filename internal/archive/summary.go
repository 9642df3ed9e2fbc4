package archive

import "fmt"

// Summary is the one-line description of an intact archive that `verify`
// prints and the console shows.
func (r *Report) Summary() string {
	m := r.Manifest
	if m == nil {
		return fmt.Sprintf("%d files, %d bytes uncompressed", r.Files, r.Bytes)
	}
	return fmt.Sprintf("%d tables, %d files, %d bytes uncompressed; schema %s, %s %s, snapshot %s",
		len(m.Tables), r.Files, r.Bytes, m.Schema, m.Engine, m.ServerVersion, m.SnapshotTime.UTC().Format("2006-01-02 15:04:05Z"))
}
