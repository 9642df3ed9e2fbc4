package retention

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hubble/hubble-applianceapi/internal/storage/local"
	"github.com/hubble/hubble-applianceapi/internal/testlog"

	"github.com/google/go-cmp/cmp"
)

// archiveName mirrors the pattern of SPEC section 5; the real parser lives in
// internal/archive and is passed in by the daemon.
var archiveName = regexp.MustCompile(`^hubble_schema_backup_(\d{4}_\d{2}_\d{2}_\d{2}_\d{2}_\d{2})(?:_([0-9]+))?\.tar\.gz$`)

func parse(name string) (time.Time, int, bool) {
	m := archiveName.FindStringSubmatch(name)
	if m == nil {
		return time.Time{}, 0, false
	}
	t, err := time.Parse("2006_01_02_15_04_05", m[1])
	if err != nil {
		return time.Time{}, 0, false
	}
	seq := 1
	if m[2] != "" {
		n, err := strconv.Atoi(m[2])
		if err != nil || n < 2 {
			return time.Time{}, 0, false
		}
		seq = n
	}
	return t, seq, true
}

const (
	a2 = "hubble_schema_backup_2024_06_15_02_00_00_2.tar.gz" // newest: second of its second
	a  = "hubble_schema_backup_2024_06_15_02_00_00.tar.gz"
	b  = "hubble_schema_backup_2024_06_14_02_00_00.tar.gz"
	c  = "hubble_schema_backup_2024_06_10_02_00_00.tar.gz"
	e  = "hubble_schema_backup_2024_05_01_02_00_00_2.tar.gz" // the older set
	d  = "hubble_schema_backup_2024_05_01_02_00_00.tar.gz"
	f  = "hubble_schema_backup_2024_01_01_02_00_00.tar.gz"
)

// archives newest first.
var archives = []string{a2, a, b, c, e, d, f}

// decoys are regular files that must never be touched.
var decoys = []string{
	"hubble_schema_backup_2020_01_01_00_00_00.tar.gz.partial",
	".hubble_schema_backup_2020_01_01_00_00_00.tar.gz.tmp",
	"hubble_schema_backup_2020_01_01_00_00_00.tar.gz.tmp-12345",
	"hubble_schema_backup_2020_13_01_00_00_00.tar.gz", // month 13
	"hubble_schema_backup_2020_01_01_00_00_00_1.tar.gz",
	"hubble_schema_backup_2020_01_01_00_00_00.tar",
	"other_schema_backup_2020_01_01_00_00_00.tar.gz",
	"HUBBLE_SCHEMA_BACKUP_2020_01_01_00_00_00.TAR.GZ",
	"notes.txt",
}

const (
	linkName = "hubble_schema_backup_2019_01_01_00_00_00.tar.gz" // symlink to a file outside
	dirName  = "hubble_schema_backup_2018_01_01_00_00_00.tar.gz" // a directory
)

var now = time.Date(2024, 6, 15, 12, 0, 0, 0, time.UTC)

// setup fills a fresh directory with archives, decoys, a symlink and a
// directory named like archives, and returns it with the link's target.
func setup(t *testing.T) (dir, target string) {
	t.Helper()
	root := t.TempDir()
	dir = filepath.Join(root, "backup")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// Modification times run against the name order: retention must go by name.
	for i, name := range archives {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(name), 0o644); err != nil {
			t.Fatal(err)
		}
		mt := now.Add(-time.Duration(len(archives)-i) * 24 * time.Hour)
		if err := os.Chtimes(p, mt, mt); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range decoys {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("decoy"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	target = filepath.Join(root, "outside.tar.gz")
	if err := os.WriteFile(target, []byte("outside"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, filepath.Join(dir, linkName)); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, dirName), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir, target
}

func names(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, de := range des {
		out = append(out, de.Name())
	}
	slices.Sort(out)
	return out
}

func without(all []string, gone []string) []string {
	var out []string
	for _, n := range all {
		if !slices.Contains(gone, n) {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

func TestApply(t *testing.T) {
	tests := []struct {
		name   string
		rules  Rules
		now    time.Time
		dryRun bool
		want   []string // removed (or would be), newest first
	}{
		{name: "no limits", rules: Rules{}, now: now},
		{name: "keep_last 1", rules: Rules{KeepLast: 1}, now: now, want: []string{a, b, c, e, d, f}},
		{name: "keep_last 3", rules: Rules{KeepLast: 3}, now: now, want: []string{c, e, d, f}},
		{name: "keep_last beyond count", rules: Rules{KeepLast: 50}, now: now},
		{name: "keep_days 7", rules: Rules{KeepDays: 7}, now: now, want: []string{e, d, f}},
		{name: "keep_days 1 is 24 hours", rules: Rules{KeepDays: 1}, now: now, want: []string{b, c, e, d, f}},
		{name: "keep_days 2", rules: Rules{KeepDays: 2}, now: now, want: []string{c, e, d, f}},
		{name: "either rule removes", rules: Rules{KeepLast: 2, KeepDays: 7}, now: now, want: []string{b, c, e, d, f}},
		{name: "all expired keeps newest", rules: Rules{KeepDays: 30}, now: now.AddDate(2, 0, 0), want: []string{a, b, c, e, d, f}},
		{name: "all expired and keep_last 1 keeps newest", rules: Rules{KeepLast: 1, KeepDays: 1}, now: now.AddDate(1, 0, 0), want: []string{a, b, c, e, d, f}},
		{name: "dry run keep_last 1", rules: Rules{KeepLast: 1}, now: now, dryRun: true, want: []string{a, b, c, e, d, f}},
		{name: "dry run keep_days 7", rules: Rules{KeepDays: 7}, now: now, dryRun: true, want: []string{e, d, f}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, target := setup(t)
			before := names(t, dir)
			var logBuf testlog.Buffer
			log := slog.New(slog.NewTextHandler(&logBuf, nil))

			got, err := Apply(context.Background(), local.New(dir), tt.rules, tt.now, parse, tt.dryRun, log)
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("removed (-want +got):\n%s", diff)
			}
			wantLeft := without(before, tt.want)
			if tt.dryRun {
				wantLeft = before
			}
			if diff := cmp.Diff(wantLeft, names(t, dir)); diff != "" {
				t.Errorf("directory after Apply (-want +got):\n%s", diff)
			}
			if !slices.Contains(names(t, dir), a2) {
				t.Errorf("newest archive %s was removed", a2)
			}
			if _, err := os.Stat(target); err != nil {
				t.Errorf("symlink target outside the directory: %v", err)
			}
			// Every deletion is logged, by file name.
			logged := logBuf.String()
			for _, n := range tt.want {
				if !strings.Contains(logged, n) {
					t.Errorf("deletion of %s not logged; log:\n%s", n, logged)
				}
			}
			wantMsg := "retention: removed archive"
			if tt.dryRun {
				wantMsg = "would remove archive"
			}
			if n := strings.Count(logged, wantMsg); n != len(tt.want) {
				t.Errorf("log has %d %q lines, want %d; log:\n%s", n, wantMsg, len(tt.want), logged)
			}
		})
	}
}

func TestApply_onlyDecoys(t *testing.T) {
	dir := t.TempDir()
	for _, n := range decoys {
		if err := os.WriteFile(filepath.Join(dir, n), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := Apply(context.Background(), local.New(dir), Rules{KeepLast: 1, KeepDays: 1}, now, parse, false, nil)
	if err != nil || len(got) != 0 {
		t.Fatalf("Apply = %v, %v; want nothing removed", got, err)
	}
	if diff := cmp.Diff(without(decoys, nil), names(t, dir)); diff != "" {
		t.Errorf("directory (-want +got):\n%s", diff)
	}
}

func TestApply_missingDir(t *testing.T) {
	_, err := Apply(context.Background(), local.New(filepath.Join(t.TempDir(), "absent")), Rules{KeepLast: 1}, now, parse, false, nil)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Apply on a missing directory = %v, want fs.ErrNotExist", err)
	}
}

func TestApply_canceled(t *testing.T) {
	dir, _ := setup(t)
	before := names(t, dir)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	got, err := Apply(ctx, local.New(dir), Rules{KeepLast: 1}, now, parse, false, nil)
	if !errors.Is(err, context.Canceled) || len(got) != 0 {
		t.Fatalf("Apply with a canceled context = %v, %v; want nothing removed and context.Canceled", got, err)
	}
	if diff := cmp.Diff(before, names(t, dir)); diff != "" {
		t.Errorf("directory changed (-want +got):\n%s", diff)
	}
}

func TestPlan(t *testing.T) {
	mk := func(names ...string) []Entry {
		var es []Entry
		for _, n := range names {
			es = append(es, Entry{Name: n})
		}
		return es
	}
	const (
		s1  = "hubble_schema_backup_2024_06_15_02_00_00.tar.gz"
		s2  = "hubble_schema_backup_2024_06_15_02_00_00_2.tar.gz"
		s10 = "hubble_schema_backup_2024_06_15_02_00_00_10.tar.gz"
		old = "hubble_schema_backup_2023_06_15_02_00_00.tar.gz"
	)
	tests := []struct {
		name       string
		entries    []Entry
		rules      Rules
		keep, gone []Entry
	}{
		{name: "empty", rules: Rules{KeepLast: 1}},
		{
			name:    "suffix orders numerically",
			entries: mk(s2, old, s10, s1),
			rules:   Rules{KeepLast: 2},
			keep:    mk(s10, s2),
			gone:    mk(s1, old),
		},
		{
			name:    "single expired archive stays",
			entries: mk(old),
			rules:   Rules{KeepDays: 1},
			keep:    mk(old),
		},
		{
			name:    "non-archives are in neither list",
			entries: mk("notes.txt", old, s1+".partial"),
			rules:   Rules{KeepLast: 1},
			keep:    mk(old),
		},
		{
			name:    "negative limits mean none",
			entries: mk(old, s1),
			rules:   Rules{KeepLast: -1, KeepDays: -1},
			keep:    mk(s1, old),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keep, gone := Plan(tt.entries, tt.rules, now, parse)
			if diff := cmp.Diff(tt.keep, keep); diff != "" {
				t.Errorf("keep (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.gone, gone); diff != "" {
				t.Errorf("remove (-want +got):\n%s", diff)
			}
		})
	}
}
