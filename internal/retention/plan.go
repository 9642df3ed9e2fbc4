package retention

import (
	"cmp"
	"slices"
	"time"
)

// Entry is one file of the backup directory.
type Entry struct {
	Name    string
	ModTime time.Time
	Size    int64
}

// Rules are the retention limits. Zero (or negative) means "no limit" for
// that rule; both rules apply together.
type Rules struct {
	KeepLast int // keep at most this many archives
	KeepDays int // remove archives whose name time is older than this many days
}

// ParseFunc recognises an archive name and returns the time encoded in it and
// its same-second sequence number (the `_N` suffix, 1 or 0 when absent). ok is
// false for every name that is not an archive.
type ParseFunc func(name string) (t time.Time, seq int, ok bool)

// Reasons a file is removed, used in the deletion log.
const (
	reasonKeepLast = "keep_last"
	reasonKeepDays = "keep_days"
)

type candidate struct {
	Entry
	t      time.Time
	seq    int
	reason string // empty: kept
}

// Plan splits the archives among entries into those to keep and those to
// remove, both newest first. Entries the parser rejects appear in neither
// list. Archives are ordered by the time in their name, then by the `_N`
// suffix (not by modification time, which copying or restoring files from
// elsewhere can change). A file is removed if either rule says so, but the
// newest archive is never removed: a retention mistake must not leave the
// directory without any backup.
func Plan(entries []Entry, rules Rules, now time.Time, parse ParseFunc) (keep, remove []Entry) {
	for _, c := range plan(entries, rules, now, parse) {
		if c.reason == "" {
			keep = append(keep, c.Entry)
		} else {
			remove = append(remove, c.Entry)
		}
	}
	return keep, remove
}

// plan returns every archive newest first with the reason it goes, if any.
func plan(entries []Entry, rules Rules, now time.Time, parse ParseFunc) []candidate {
	var cs []candidate
	for _, e := range entries {
		t, seq, ok := parse(e.Name)
		if !ok {
			continue
		}
		cs = append(cs, candidate{Entry: e, t: t, seq: seq})
	}
	slices.SortFunc(cs, func(a, b candidate) int {
		if c := b.t.Compare(a.t); c != 0 {
			return c
		}
		if c := cmp.Compare(b.seq, a.seq); c != 0 {
			return c
		}
		return cmp.Compare(a.Name, b.Name) // deterministic for equal keys
	})
	var cutoff time.Time
	if rules.KeepDays > 0 {
		cutoff = now.Add(-time.Duration(rules.KeepDays) * 24 * time.Hour)
	}
	for i := range cs {
		if i == 0 {
			continue // the newest archive always stays
		}
		switch {
		case rules.KeepLast > 0 && i >= rules.KeepLast:
			cs[i].reason = reasonKeepLast
		case rules.KeepDays > 0 && cs[i].t.Before(cutoff):
			cs[i].reason = reasonKeepDays
		}
	}
	return cs
}
