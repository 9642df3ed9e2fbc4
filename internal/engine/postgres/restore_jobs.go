package postgres

// The post-data section is split the way pg_restore -j splits it, so that
// the expensive part (index builds, primary keys) runs on several
// connections and starts as soon as its table is loaded:
//
//   - build: an index, or a PRIMARY KEY / UNIQUE / EXCLUDE / CHECK
//     constraint, on one table. It may run once that table's data is in.
//   - foreign key: after every load and build (it needs the referenced
//     table's unique index, and validating it reads both tables).
//   - rest: everything else (triggers, rules, comments, grants, index
//     attachments, statistics, ...), serially in one transaction at the end.
//
// An entry that cannot be tied to a table goes to the rest: slower, never
// wrong.

// jobKind says when a post-data entry may run.
type jobKind int

const (
	jobBuild jobKind = iota
	jobForeignKey
	jobRest
)

// postJob is one post-data entry: its statements run in order on one
// connection, each in its own transaction.
type postJob struct {
	entry tocEntry
	stmts []statement
	kind  jobKind
	table string // schema + "." + table the entry builds on ("" = unknown)
	cost  int64  // the table's data bytes: larger first
}

// splitPostData groups the post-data statements by entry (consecutive
// statements with the same TOC header, e.g. CREATE INDEX then ALTER TABLE
// ... CLUSTER ON) and classifies each group. Preamble statements are left
// out.
func splitPostData(list []statement) []*postJob {
	var jobs []*postJob
	for _, st := range list {
		if st.Entry.Type == "" {
			continue
		}
		if n := len(jobs); n > 0 && jobs[n-1].entry == st.Entry {
			jobs[n-1].stmts = append(jobs[n-1].stmts, st)
			continue
		}
		j := &postJob{entry: st.Entry, stmts: []statement{st}, kind: jobRest}
		switch st.Entry.Type {
		case "INDEX", "CONSTRAINT", "CHECK CONSTRAINT":
			if j.table = builtOn(st.SQL); j.table != "" {
				j.kind = jobBuild
			}
		case "FK CONSTRAINT":
			j.kind = jobForeignKey
		}
		jobs = append(jobs, j)
	}
	return jobs
}

// builtOn returns "schema.table" for CREATE [UNIQUE] INDEX ... ON [ONLY]
// schema.table ... and ALTER TABLE [ONLY] schema.table ADD CONSTRAINT ...,
// or "" for anything else.
func builtOn(sql string) string {
	toks := tokenize(sql)
	word := func(i int, w string) bool { return i < len(toks) && toks[i].kind == 'w' && toks[i].text == w }
	i := 0
	switch {
	case word(0, "create") && (word(1, "index") || word(1, "unique") && word(2, "index")):
		for i = 2; i < len(toks) && !word(i, "on"); i++ {
			if toks[i].kind == 'p' {
				return "" // not pg_dump's plain form
			}
		}
		i++
	case word(0, "alter") && word(1, "table"):
		i = 2
		if word(i, "if") {
			return ""
		}
	default:
		return ""
	}
	if word(i, "only") {
		i++
	}
	if i+2 >= len(toks) || !toks[i].isName() || toks[i+1].kind != 'p' || toks[i+1].text != "." || !toks[i+2].isName() {
		return ""
	}
	if toks[0].text == "alter" && !(word(i+3, "add") && (word(i+4, "constraint") || word(i+4, "primary") || word(i+4, "unique"))) {
		return ""
	}
	return toks[i].text + "." + toks[i+2].text
}
