package postgres

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// restoreScript is what the restore takes from an extracted archive: the
// entries of schema.dump's table of contents, and from copy.in (which the
// dump side renders) each data file's column list, the sequence values, the
// materialized views in refresh order and the objects outside the schema the
// schema needs.
type restoreScript struct {
	preData, postData tocSection
	columns           map[string][]string // data file -> columns, as COPY'd out
	sequences         []sequenceValue
	matviews          []string
	requires          []requirement // nil: an archive from before the list was written
}

const (
	dataMarker    = "-- Data: one file per table, columns named explicitly."
	seqMarker     = "-- Sequence values at the snapshot."
	postMarker    = "-- Indexes, constraints, triggers, rules, grants (pg_dump post-data section)."
	matviewMarker = "-- Materialized views, each after the ones it reads."
)

// loadScript reads schema.dump (through pg_restore, no database needed)
// and copy.in from dir.
func (e *Engine) loadScript(ctx context.Context, tools toolSet, dir string) (*restoreScript, error) {
	dump, err := os.ReadFile(filepath.Join(dir, SchemaDumpFile))
	if err != nil {
		return nil, fmt.Errorf("read schema dump: %w", err)
	}
	pre, post, err := readTOC(ctx, tools, dump)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", SchemaDumpFile, err)
	}
	s := &restoreScript{preData: pre, postData: post, columns: map[string][]string{}}
	if err := s.readCopyIn(filepath.Join(dir, CopyInFile)); err != nil {
		return nil, err
	}
	return s, nil
}

// readCopyIn parses the lines copy.in's renderer writes after the pre-data
// section: \copy lines, setval calls and REFRESH statements.
func (s *restoreScript) readCopyIn(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("read %s: %w", CopyInFile, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	section := ""
	for sc.Scan() {
		line := sc.Text()
		switch line {
		case requiresMarker, dataMarker, seqMarker, postMarker, matviewMarker:
			section = line
			continue
		}
		switch section {
		case requiresMarker:
			if s.requires != nil || !strings.HasPrefix(line, "[") {
				continue
			}
			reqs, err := parseRequires(line)
			if err != nil {
				return fmt.Errorf("read %s: %w", CopyInFile, err)
			}
			s.requires = reqs
		case dataMarker:
			if !strings.HasPrefix(line, `\copy `) {
				continue
			}
			file, cols, err := parseCopyLine(line)
			if err != nil {
				return fmt.Errorf("read %s: %w", CopyInFile, err)
			}
			s.columns[file] = cols
		case seqMarker:
			if !strings.HasPrefix(line, "SELECT pg_catalog.setval(") {
				continue
			}
			v, err := parseSetval(line)
			if err != nil {
				return fmt.Errorf("read %s: %w", CopyInFile, err)
			}
			s.sequences = append(s.sequences, v)
		case matviewMarker:
			rest, ok := strings.CutPrefix(line, "REFRESH MATERIALIZED VIEW ")
			if !ok {
				continue
			}
			parts, next, ok := readIdents(rest, 0)
			if !ok || len(parts) != 2 || rest[next:] != ";" {
				return fmt.Errorf("read %s: unexpected line %q", CopyInFile, line)
			}
			s.matviews = append(s.matviews, parts[1])
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read %s: %w", CopyInFile, err)
	}
	return nil
}

// parseCopyLine reads `\copy "s"."t" ("a", "b") FROM 'file'`, or
// `\copy "s"."t" FROM 'file'` for a table without columns.
func parseCopyLine(line string) (file string, cols []string, err error) {
	bad := fmt.Errorf("unexpected line %q", line)
	rest := strings.TrimPrefix(line, `\copy `)
	parts, i, ok := readIdents(rest, 0)
	if !ok || len(parts) != 2 {
		return "", nil, bad
	}
	if tail, ok := strings.CutPrefix(rest[i:], " FROM '"); ok && strings.HasSuffix(tail, "'") {
		return strings.TrimSuffix(tail, "'"), []string{}, nil
	}
	if !strings.HasPrefix(rest[i:], " (") {
		return "", nil, bad
	}
	i += 2
	for i < len(rest) && rest[i] != ')' {
		name, next, ok := readIdent(rest, i)
		if !ok {
			return "", nil, bad
		}
		cols = append(cols, name)
		i = next
		if strings.HasPrefix(rest[i:], ", ") {
			i += 2
		}
	}
	tail, ok := strings.CutPrefix(rest[min(i, len(rest)):], ") FROM '")
	if !ok || !strings.HasSuffix(tail, "'") {
		return "", nil, bad
	}
	return strings.TrimSuffix(tail, "'"), cols, nil
}

// parseSetval reads `SELECT pg_catalog.setval('"s"."q"', 5, true);`.
func parseSetval(line string) (sequenceValue, error) {
	bad := fmt.Errorf("unexpected line %q", line)
	rest := strings.TrimPrefix(line, "SELECT pg_catalog.setval('")
	end := quotedEnd("'"+rest, 0, '\'', false) - 1 // index in rest after the closing quote
	if end <= 0 || end > len(rest) {
		return sequenceValue{}, bad
	}
	name := strings.ReplaceAll(rest[:end-1], "''", "'")
	parts, next, ok := readIdents(name, 0)
	if !ok || len(parts) != 2 || next != len(name) {
		return sequenceValue{}, bad
	}
	args := strings.Split(strings.TrimSuffix(strings.TrimPrefix(rest[end:], ", "), ");"), ", ")
	if len(args) != 2 {
		return sequenceValue{}, bad
	}
	v := sequenceValue{Name: parts[1]}
	var err error
	if v.LastValue, err = strconv.ParseInt(args[0], 10, 64); err != nil {
		return sequenceValue{}, bad
	}
	if v.IsCalled, err = strconv.ParseBool(args[1]); err != nil {
		return sequenceValue{}, bad
	}
	return v, nil
}

// readIdents reads "a"."b"... (always quoted, as quoteIdent writes them).
func readIdents(s string, i int) ([]string, int, bool) {
	var parts []string
	for {
		name, next, ok := readIdent(s, i)
		if !ok {
			return nil, i, false
		}
		parts = append(parts, name)
		i = next
		if i < len(s) && s[i] == '.' {
			i++
			continue
		}
		return parts, i, true
	}
}

func readIdent(s string, i int) (string, int, bool) {
	if i >= len(s) || s[i] != '"' {
		return "", i, false
	}
	j := quotedEnd(s, i, '"', false)
	if j > len(s) || j < i+2 || s[j-1] != '"' {
		return "", i, false
	}
	return strings.ReplaceAll(s[i+1:j-1], `""`, `"`), j, true
}
