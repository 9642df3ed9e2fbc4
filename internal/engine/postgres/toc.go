package postgres

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/hubble/hubble-applianceapi/internal/engine"
)

// The schema's DDL is executed the way pg_restore executes it: one archive
// entry (one object, or one comment, grant, ...) at a time, its whole SQL
// sent as one unit through the simple query protocol, which accepts several
// statements. Where an entry starts and ends, and what it is, comes from
// pg_dump's table of contents: `pg_restore -l` lists the entries, and
// `pg_restore --verbose` heads each one's SQL with "-- TOC entry ID ...".
// No SQL text is ever split at semicolons, so bodies such as BEGIN ATOMIC
// ... END or a rule's (INSERT ...; UPDATE ...) are never cut.

// tocEntry is one entry of the archive's table of contents and its SQL.
type tocEntry struct {
	ID     int
	Type   string // pg_dump's kind: "TABLE", "INDEX", "FK CONSTRAINT", "ACL", ...
	Name   string // pg_dump's tag: "t", "t t_pkey", "COLUMN t.c", "f(integer)", ...
	Schema string // "" for objects outside any schema
	Owner  string
	// Setup is the session state pg_restore selected for the entry
	// (default_tablespace, default_table_access_method): it runs first.
	Setup string
	// SQL is the entry's statements as pg_restore renders them, ALTER ...
	// OWNER TO included, run as one unit.
	SQL    string
	offset int // where SQL starts in its section's Text
}

// String names the object for messages: "VIEW hubble.v_totals".
func (e tocEntry) String() string {
	if e.Type == "" {
		return "(preamble)"
	}
	if e.Schema == "" {
		return e.Type + " " + e.Name
	}
	switch e.Type {
	case "COMMENT", "ACL", "SECURITY LABEL":
		// Name is "<KIND> <name>": the statement is about that object.
		if kind, name, ok := strings.Cut(e.Name, " "); ok {
			return e.Type + " ON " + kind + " " + e.Schema + "." + name
		}
	}
	return e.Type + " " + e.Schema + "." + e.Name
}

// usesSetup reports whether the entry's kind is one pg_dump gives a
// tablespace or table access method, which its Setup selects.
func (e tocEntry) usesSetup() bool {
	switch e.Type {
	case "TABLE", "MATERIALIZED VIEW", "INDEX", "CONSTRAINT":
		return true
	}
	return false
}

// tocSection is one section (pre-data, post-data) of the archive as
// pg_restore renders it, and its entries in the order pg_restore runs them.
type tocSection struct {
	Text     string // pg_restore's output, as psql would run it
	Preamble string // the session settings before the first entry, SQL only
	Entries  []tocEntry
}

// readTOC renders the pre-data and post-data sections of a custom-format
// archive and tells their entries apart; pg_restore needs no database.
func readTOC(ctx context.Context, tools toolSet, archive []byte) (pre, post tocSection, err error) {
	// The sections are read at once: a restore waits for them before its
	// first statement, and each pg_restore run is mostly its start.
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		pre, err = readSection(gctx, tools, archive, "pre-data")
		return err
	})
	g.Go(func() (err error) {
		post, err = readSection(gctx, tools, archive, "post-data")
		return err
	})
	return pre, post, g.Wait()
}

func readSection(ctx context.Context, tools toolSet, archive []byte, section string) (tocSection, error) {
	run := func(ctx context.Context, args ...string) (string, error) {
		cmd := engine.Command{Path: tools.path("pg_restore"), Args: append([]string{"--section=" + section}, args...),
			Stdin: bytes.NewReader(archive)}
		out, err := cmd.Output(ctx)
		return string(out), err
	}
	var list, text string
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		if list, err = run(gctx, "--list"); err != nil {
			err = fmt.Errorf("list %s entries: %w", section, err)
		}
		return err
	})
	g.Go(func() (err error) {
		if text, err = run(gctx, "--verbose", "--file=-"); err != nil {
			err = fmt.Errorf("render %s section: %w", section, err)
		}
		return err
	})
	if err := g.Wait(); err != nil {
		return tocSection{}, err
	}
	s, err := parseSection(text, list)
	if err != nil {
		return tocSection{}, fmt.Errorf("read %s section: %w", section, err)
	}
	return s, nil
}

var (
	// pg_restore --list: "ID; TABLEOID OID TYPE SCHEMA NAME OWNER".
	listLine = regexp.MustCompile(`^(\d+); \d+ \d+ (.*)$`)
	// pg_restore --verbose, first line of an entry's header after "--".
	markerLine = regexp.MustCompile(`^-- TOC entry (\d+) \(class \d+ OID \d+\)$`)
	// The session state pg_restore selects before an entry's header.
	setupLine = regexp.MustCompile(`^SET (default_tablespace|default_table_access_method) = .*;$`)
)

// parseSection splits pg_restore's verbose output at the entries' headers.
// A header is trusted only as a whole: the entries found must be exactly
// the ones the list names, each once, or an object's SQL that imitates a
// header would shift every boundary after it.
func parseSection(text, list string) (tocSection, error) {
	listed := map[int]string{} // ID -> "TYPE SCHEMA NAME OWNER"
	for _, line := range strings.Split(list, "\n") {
		if m := listLine.FindStringSubmatch(line); m != nil {
			id, _ := strconv.Atoi(m[1])
			listed[id] = m[2]
		}
	}
	type chunk struct {
		entry tocEntry
		start int // of the header
	}
	var chunks []chunk
	seen := map[int]bool{}
	for pos := 0; pos < len(text); {
		end := strings.IndexByte(text[pos:], '\n')
		if end < 0 {
			break
		}
		next := pos + end + 1
		if text[pos:next] == "--\n" {
			if e, sqlStart, ok := parseHeader(text, next, listed); ok {
				if seen[e.ID] {
					return tocSection{}, fmt.Errorf("entry %d appears twice", e.ID)
				}
				seen[e.ID] = true
				e.offset = sqlStart
				chunks = append(chunks, chunk{entry: e, start: pos})
				next = sqlStart
			}
		}
		pos = next
	}
	if len(seen) != len(listed) {
		return tocSection{}, fmt.Errorf("%d entries rendered, %d listed", len(seen), len(listed))
	}
	s := tocSection{Text: text}
	var state []string // setup lines in force, in the order set
	// The text before an entry's header ends with the setup pg_restore
	// selected for that entry; the rest of it belongs to the one before.
	body := func(from, to int) (sql string, setup []string) {
		lines := strings.Split(strings.TrimRight(text[from:to], " \t\n"), "\n")
		for len(lines) > 0 {
			last := lines[len(lines)-1]
			switch {
			case setupLine.MatchString(last):
				setup = append([]string{last}, setup...)
			case strings.TrimSpace(last) != "":
				return strings.Join(lines, "\n"), setup
			}
			lines = lines[:len(lines)-1]
		}
		return "", setup
	}
	apply := func(setup []string) {
		for _, line := range setup {
			name := setupLine.FindStringSubmatch(line)[1]
			kept := state[:0]
			for _, old := range state {
				if setupLine.FindStringSubmatch(old)[1] != name {
					kept = append(kept, old)
				}
			}
			state = append(kept, line)
		}
	}
	first := len(text)
	if len(chunks) > 0 {
		first = chunks[0].start
	}
	pre, setup := body(0, first)
	s.Preamble = sqlLines(pre)
	apply(setup)
	for i, c := range chunks {
		end := len(text)
		if i+1 < len(chunks) {
			end = chunks[i+1].start
		}
		sql, setup := body(c.entry.offset, end)
		if i+1 == len(chunks) {
			sql = trimTrailer(sql)
		}
		e := c.entry
		e.SQL = sql
		if e.usesSetup() && len(state) > 0 {
			e.Setup = strings.Join(state, "\n")
		}
		s.Entries = append(s.Entries, e)
		apply(setup)
	}
	return s, nil
}

// parseHeader reads the header whose "--" line ends at pos: "-- TOC entry
// ...", "-- Dependencies: ...", "-- Name: ...; Type: ...", "-- Data Pos: ..."
// and a closing "--" line, then a blank line. It returns the entry and where
// its SQL starts.
func parseHeader(text string, pos int, listed map[int]string) (tocEntry, int, bool) {
	var e tocEntry
	var nameLine string
	for i := 0; ; i++ {
		end := strings.IndexByte(text[pos:], '\n')
		if end < 0 {
			return e, 0, false
		}
		line := text[pos : pos+end]
		pos += end + 1
		switch {
		case i == 0:
			m := markerLine.FindStringSubmatch(line)
			if m == nil {
				return e, 0, false
			}
			e.ID, _ = strconv.Atoi(m[1])
			if _, ok := listed[e.ID]; !ok {
				return e, 0, false
			}
		case line == "--":
			if nameLine == "" || !strings.HasPrefix(text[pos:], "\n") {
				return e, 0, false
			}
			e.Name, e.Type, e.Schema, e.Owner = splitNameLine(nameLine, listed[e.ID])
			return e, pos + 1, true
		case strings.HasPrefix(line, "-- Name: "):
			nameLine = strings.TrimPrefix(line, "-- Name: ")
		case !strings.HasPrefix(line, "-- "):
			return e, 0, false
		}
	}
}

// splitNameLine splits "NAME; Type: TYPE; Schema: SCHEMA; Owner: OWNER[;
// Tablespace: T]" of a header. Names may hold "; Type: " themselves: the
// split kept is the one that agrees with the list's "TYPE SCHEMA NAME
// OWNER" for the same entry, else the first one.
func splitNameLine(line, listed string) (name, typ, schema, owner string) {
	defer func() {
		if schema == "-" {
			schema = ""
		}
	}()
	for _, i := range indexes(line, "; Type: ") {
		name, rest := line[:i], line[i+len("; Type: "):]
		for _, j := range indexes(rest, "; Schema: ") {
			typ, rest := rest[:j], rest[j+len("; Schema: "):]
			for _, k := range indexes(rest, "; Owner: ") {
				schema, owner := rest[:k], rest[k+len("; Owner: "):]
				candidates := []string{owner}
				for _, t := range indexes(owner, "; Tablespace: ") {
					candidates = append(candidates, owner[:t])
				}
				for _, o := range candidates {
					if typ+" "+schema+" "+name+" "+o == listed {
						return name, typ, schema, o
					}
				}
			}
		}
	}
	name, rest, _ := strings.Cut(line, "; Type: ")
	typ, rest, _ = strings.Cut(rest, "; Schema: ")
	schema, owner, _ = strings.Cut(rest, "; Owner: ")
	owner, _, _ = strings.Cut(owner, "; Tablespace: ")
	return name, typ, schema, owner
}

// indexes returns every index of sep in s.
func indexes(s, sep string) []int {
	var out []int
	for i := 0; ; {
		k := strings.Index(s[i:], sep)
		if k < 0 {
			return out
		}
		out = append(out, i+k)
		i += k + 1
	}
}

// sqlLines keeps the SQL of pg_restore's preamble: neither comments nor
// psql meta-commands (\restrict).
func sqlLines(text string) string {
	var keep []string
	for _, line := range strings.Split(text, "\n") {
		if t := strings.TrimSpace(line); t == "" || strings.HasPrefix(t, "--") || strings.HasPrefix(t, `\`) {
			continue
		}
		keep = append(keep, line)
	}
	return strings.Join(keep, "\n")
}

// trimTrailer removes what pg_restore writes after the last entry: blank
// and comment lines ("-- Completed on", "-- PostgreSQL database dump
// complete") and psql meta-commands (\unrestrict).
func trimTrailer(sql string) string {
	lines := strings.Split(sql, "\n")
	for len(lines) > 0 {
		t := strings.TrimSpace(lines[len(lines)-1])
		if t != "" && !strings.HasPrefix(t, "--") && !strings.HasPrefix(t, `\`) {
			break
		}
		lines = lines[:len(lines)-1]
	}
	return strings.Join(lines, "\n")
}

// schemaEntry returns the index of the entry that creates schema, or -1.
func (s *tocSection) schemaEntry(schema string) int {
	for i, e := range s.Entries {
		if e.Type == "SCHEMA" && e.Name == schema && strings.HasPrefix(e.SQL, "CREATE SCHEMA ") {
			return i
		}
	}
	return -1
}

// createIfMissing turns pg_dump's "CREATE SCHEMA name;" (its exact form)
// into "CREATE SCHEMA IF NOT EXISTS name;": the schema may exist already
// (public always does; a fresh appliance has hubble), and the rest of the
// entry (its owner) still applies.
func createIfMissing(sql string) string {
	rest, ok := strings.CutPrefix(sql, "CREATE SCHEMA ")
	if !ok {
		return sql
	}
	return "CREATE SCHEMA IF NOT EXISTS " + rest
}

// TextCreatingIfMissing is the section's text with schema's CREATE SCHEMA
// made conditional (copy.in's form).
func (s *tocSection) textCreatingIfMissing(schema string) string {
	i := s.schemaEntry(schema)
	if i < 0 {
		return s.Text
	}
	off := s.Entries[i].offset
	return s.Text[:off] + createIfMissing(s.Text[off:])
}
