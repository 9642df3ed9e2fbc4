package archive

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Layout of an archive (SPEC section 5).
const (
	// DirDatabase holds the psql scripts and one data file per table.
	DirDatabase = "DatabaseBackup"
	// DirReplication holds the replication tool's repository export.
	DirReplication = "AttunityBackup"
	// ReplicationFile is the replication repository export.
	ReplicationFile = DirReplication + "/Replication_Definition.json"
	// CopyInFile restores the schema with the database's own client.
	CopyInFile = DirDatabase + "/copy.in"
	// CopyOutFile exports the schema with the database's own client.
	CopyOutFile = DirDatabase + "/copy.out"
	// ManifestName is the manifest, at the archive's root, written last.
	ManifestName = "manifest.json"
)

// EncryptedSuffix ends the name of an archive encrypted at rest with age:
// hubble_schema_backup_..._SS.tar.gz.age is still one file, and list, prune,
// retention and restore treat it like the .tar.gz it holds.
const EncryptedSuffix = ".age"

// Encrypted reports whether name is that of an archive encrypted at rest.
func Encrypted(name string) bool { return strings.HasSuffix(name, nameSuffix+EncryptedSuffix) }

const (
	namePrefix = "hubble_schema_backup_"
	nameSuffix = ".tar.gz"
	nameLayout = "2006_01_02_15_04_05"
)

// Name returns the archive file name for a job started at t (converted to
// UTC): hubble_schema_backup_YYYY_MM_DD_HH_MM_SS.tar.gz. A seq above 1 is the
// seq-th archive of the same second and adds "_<seq>" before ".tar.gz".
func Name(t time.Time, seq int) string {
	s := namePrefix + t.UTC().Format(nameLayout)
	if seq > 1 {
		s += "_" + strconv.Itoa(seq)
	}
	return s + nameSuffix
}

// ParseName reports whether name is exactly an archive name as Name writes
// it (a base name, no directory), or that name followed by EncryptedSuffix,
// and if so its UTC time and sequence number (1 when there is no suffix).
// Temporary and partial files, other suffixes and impossible dates are not
// archive names.
func ParseName(name string) (t time.Time, seq int, ok bool) {
	if Encrypted(name) {
		name = strings.TrimSuffix(name, EncryptedSuffix)
	}
	rest, found := strings.CutPrefix(name, namePrefix)
	if !found {
		return time.Time{}, 0, false
	}
	rest, found = strings.CutSuffix(rest, nameSuffix)
	if !found || len(rest) < len(nameLayout) {
		return time.Time{}, 0, false
	}
	stamp, tail := rest[:len(nameLayout)], rest[len(nameLayout):]
	for i := 0; i < len(stamp); i++ {
		c := stamp[i]
		if nameLayout[i] == '_' {
			if c != '_' {
				return time.Time{}, 0, false
			}
		} else if c < '0' || c > '9' {
			return time.Time{}, 0, false
		}
	}
	t, err := time.ParseInLocation(nameLayout, stamp, time.UTC)
	if err != nil {
		return time.Time{}, 0, false
	}
	seq = 1
	if tail != "" {
		digits, found := strings.CutPrefix(tail, "_")
		if !found || digits == "" || digits[0] == '0' || len(digits) > 9 {
			return time.Time{}, 0, false
		}
		for i := 0; i < len(digits); i++ {
			if digits[i] < '0' || digits[i] > '9' {
				return time.Time{}, 0, false
			}
		}
		seq, _ = strconv.Atoi(digits)
		if seq < 2 {
			return time.Time{}, 0, false
		}
	}
	// The round trip rejects anything time.Parse tolerated but Name would
	// never write (e.g. leap-second 60).
	if Name(t, seq) != name {
		return time.Time{}, 0, false
	}
	return t, seq, true
}

// maxNamePart bounds each half of a data file name so that the name, with a
// collision suffix, stays far below the usual 255-byte file name limit even
// for engines that allow very long identifiers.
const maxNamePart = 100

// reservedDataNames are files of DirDatabase that no data file may take:
// the scripts, and the PostgreSQL engine's schema dump (a table "schema" in a
// schema "dump" would otherwise overwrite it).
var reservedDataNames = map[string]bool{"copy.in": true, "copy.out": true, "schema.dump": true}

// DataFileName returns the base name of the data file (inside DirDatabase)
// for table in schema, as the original's copydb names them: "<table>.<schema>",
// with every character outside [A-Za-z0-9_-] replaced by '_' (an empty part
// becomes "_"; each part is cut to 100 characters). The '.' between table and
// schema stays. A name already in taken, or a reserved one (copy.in,
// copy.out, schema.dump), gets a suffix "_2", "_3", ... on its table part,
// so it still reads "<table>.<schema>" (gl_budget_2.hubble). The result is
// recorded in taken.
func DataFileName(schema, table string, taken map[string]bool) string {
	t, s := sanitizePart(table), sanitizePart(schema)
	name := t + "." + s
	for n := 2; taken[name] || reservedDataNames[name]; n++ {
		name = fmt.Sprintf("%s_%d.%s", t, n, s)
	}
	taken[name] = true
	return name
}

func sanitizePart(s string) string {
	var b strings.Builder
	n := 0
	for _, r := range s {
		if n == maxNamePart {
			break
		}
		n++
		if r < 0x80 && isNameByte(byte(r)) {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 {
		return "_"
	}
	return b.String()
}

func isNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// QualifiedName returns schema.table with both parts quoted as SQL
// identifiers (embedded double quotes doubled), the form Table.Name takes.
func QualifiedName(schema, table string) string {
	return quoteIdent(schema) + "." + quoteIdent(table)
}

func quoteIdent(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}
