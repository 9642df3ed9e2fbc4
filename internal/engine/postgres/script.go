package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hubble/hubble-applianceapi/internal/engine"
)

// Names of the files Files renders.
const (
	CopyInFile     = "copy.in"     // psql restore script
	CopyOutFile    = "copy.out"    // psql export script
	SchemaDumpFile = "schema.dump" // pg_dump custom-format archive of the schema's definition
)

// Files renders copy.in, copy.out and schema.dump. dataFiles[i] is the file
// name of Tables()[i], relative to the scripts' directory. It waits for the
// schema's DDL, dumped while the tables are copied.
func (s *Snapshot) Files(ctx context.Context, dataFiles []string) ([]engine.File, error) {
	select {
	case <-s.ddlDone:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if s.ddlErr != nil {
		// pg_dump fails on a snapshot whose holder died ("invalid
		// snapshot identifier"): the loss, with the server's reason, is
		// what to report then.
		if err := s.Verify(ctx); err != nil {
			return nil, err
		}
		return nil, s.ddlErr
	}
	if len(dataFiles) != len(s.tables) {
		return nil, fmt.Errorf("render scripts: %d data files for %d tables", len(dataFiles), len(s.tables))
	}
	for i, name := range dataFiles {
		if name == "" || strings.ContainsAny(name, "'\\\r\n/") {
			return nil, fmt.Errorf("render scripts: data file name %q of table %s cannot be used in a \\copy line",
				name, quoteIdent(s.tables[i].Schema, s.tables[i].Name))
		}
		// psql ends a meta-command at the line's end: a newline inside an
		// identifier would cut the \copy line.
		for _, id := range append([]string{s.tables[i].Schema, s.tables[i].Name}, s.tables[i].Columns...) {
			if strings.ContainsAny(id, "\r\n") {
				return nil, fmt.Errorf("render scripts: name %q of table %s holds a line break, which a \\copy line cannot carry",
					id, quoteIdent(s.tables[i].Schema, s.tables[i].Name))
			}
		}
	}
	return []engine.File{
		{Name: CopyInFile, Data: []byte(s.copyIn(dataFiles))},
		{Name: CopyOutFile, Data: []byte(s.copyOut(dataFiles))},
		{Name: SchemaDumpFile, Data: append([]byte(nil), s.ddl.dump...)},
	}, nil
}

// header is the comment block that opens both scripts.
func (s *Snapshot) header(b *strings.Builder, title string) {
	line := func(k, v string) {
		v = strings.NewReplacer("\r", " ", "\n", " ").Replace(v)
		fmt.Fprintf(b, "-- %s: %s\n", k, v)
	}
	fmt.Fprintf(b, "-- %s\n", title)
	line("tool", DefaultAppName)
	line("engine", "postgres")
	line("server version", s.info.ServerVersion)
	line("pg_dump version", s.info.ClientVersion)
	line("database", s.info.Database)
	line("schema", s.info.Schema)
	line("snapshot time", s.info.SnapshotTime.UTC().Format(time.RFC3339))
}

func (s *Snapshot) copyIn(dataFiles []string) string {
	var b strings.Builder
	s.header(&b, "Restore script of the schema: objects, data, then indexes and constraints.")
	b.WriteString(`--
-- Run from inside the folder that holds this script and the data files:
--   psql -X -v ON_ERROR_STOP=1 -d DATABASE -f copy.in > output.txt 2>&1
-- and list the errors with: grep ERROR output.txt
-- To continue past errors, change "on" to "off" in the next line.
\set ON_ERROR_STOP on

`)
	writeRequiresCheck(&b, s.requires)
	b.WriteString(`
-- Objects (pg_dump pre-data section); the schema is created only when
-- missing. pg_dump's \restrict ... \unrestrict pair is kept around its own
-- text only: psql must be unrestricted for \copy.
`)
	writeSection(&b, s.ddl.preData.textCreatingIfMissing(s.info.Schema))

	b.WriteString("\n-- Data: one file per table, columns named explicitly.\n")
	// The data files are UTF8 whatever the database's encoding, because
	// they were read over a UTF8 client connection.
	b.WriteString("SET client_encoding = 'UTF8';\n")
	for i, t := range s.tables {
		fmt.Fprintf(&b, "\\copy %s%s FROM '%s'\n", quoteIdent(t.Schema, t.Name), columnClause(t.Columns), dataFiles[i])
	}

	if len(s.sequences) > 0 {
		b.WriteString("\n-- Sequence values at the snapshot.\n")
		for _, seq := range s.sequences {
			fmt.Fprintf(&b, "SELECT pg_catalog.setval(%s, %d, %s);\n",
				quoteLiteral(quoteIdent(s.info.Schema, seq.Name)), seq.LastValue, strconv.FormatBool(seq.IsCalled))
		}
	}

	b.WriteString("\n-- Indexes, constraints, triggers, rules, grants (pg_dump post-data section).\n")
	writeSection(&b, s.ddl.postData.Text)

	if len(s.matviews) > 0 {
		b.WriteString("\n-- Materialized views, each after the ones it reads.\n")
		for _, mv := range s.matviews {
			fmt.Fprintf(&b, "REFRESH MATERIALIZED VIEW %s;\n", quoteIdent(s.info.Schema, mv))
		}
	}
	b.WriteString("\n-- End of restore script.\n")
	return b.String()
}

func (s *Snapshot) copyOut(dataFiles []string) string {
	var b strings.Builder
	s.header(&b, "Export script of the schema's data: one file per table, in one consistent transaction.")
	b.WriteString(`--
-- Run from inside the folder that should receive the data files:
--   psql -X -v ON_ERROR_STOP=1 -d DATABASE -f copy.out
\set ON_ERROR_STOP on
SET client_encoding = 'UTF8';
BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;
`)
	for i, t := range s.tables {
		fmt.Fprintf(&b, "\\copy %s%s TO '%s'\n", quoteIdent(t.Schema, t.Name), columnClause(t.Columns), dataFiles[i])
	}
	b.WriteString("COMMIT;\n")
	return b.String()
}

// writeSection appends pg_restore output, ending it with a newline.
func writeSection(b *strings.Builder, sql string) {
	b.WriteString(sql)
	if !strings.HasSuffix(sql, "\n") {
		b.WriteByte('\n')
	}
}

// quoteLiteral quotes s as an SQL string literal
// (standard_conforming_strings is on in pg_dump's output).
func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
