package postgres

// The post-data section is split the way pg_restore -j splits it, so that
// the expensive part (index builds, primary keys) runs on several
// connections and starts as soon as its table is loaded:
//
//   - build: an index, or a PRIMARY KEY / UNIQUE / EXCLUDE / CHECK
//     constraint, on one table. It may run once that table's data is in.
//   - attach: ALTER INDEX ... ATTACH PARTITION, once every build is done (it
//     needs the parent's and the partition's index), in pg_dump's order. A
//     partitioned table's unique index is valid only when every partition's
//     index is attached, and a foreign key referencing that table needs it.
//   - foreign key: after every attachment (it needs the referenced table's
//     valid unique index, and validating it reads both tables).
//   - rest: everything else (triggers, rules, comments, grants, statistics,
//     ...), serially in one transaction at the end.
//
// An entry that cannot be tied to a table goes to the rest: slower, never
// wrong.

// jobKind says when a post-data entry may run.
type jobKind int

const (
	jobBuild jobKind = iota
	jobAttach
	jobForeignKey
	jobRest
)

// postJob is one post-data entry (the attach phase makes one job of all
// its entries, in order), each entry run as one unit on one connection in
// its own transaction.
type postJob struct {
	entries []tocEntry
	kind    jobKind
	table   string // schema + "." + table the entry builds on ("" = unknown)
	cost    int64  // the table's data bytes: larger first
}

// splitPostData classifies the post-data entries.
func splitPostData(list []tocEntry) []*postJob {
	var jobs []*postJob
	for _, e := range list {
		j := &postJob{entries: []tocEntry{e}, kind: jobRest}
		switch e.Type {
		case "INDEX", "CONSTRAINT", "CHECK CONSTRAINT":
			if j.table = builtOn(e.SQL); j.table != "" {
				j.kind = jobBuild
			}
		case "INDEX ATTACH":
			j.kind = jobAttach
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
