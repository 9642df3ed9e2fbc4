package archive

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestName(t *testing.T) {
	berlin := time.FixedZone("CET", 3600)
	tests := []struct {
		t    time.Time
		seq  int
		want string
	}{
		{time.Date(2025, 3, 9, 7, 5, 1, 999, time.UTC), 0, "hubble_schema_backup_2025_03_09_07_05_01.tar.gz"},
		{time.Date(2025, 3, 9, 7, 5, 1, 0, time.UTC), 1, "hubble_schema_backup_2025_03_09_07_05_01.tar.gz"},
		{time.Date(2025, 3, 9, 7, 5, 1, 0, time.UTC), 2, "hubble_schema_backup_2025_03_09_07_05_01_2.tar.gz"},
		{time.Date(2025, 3, 9, 7, 5, 1, 0, time.UTC), 12, "hubble_schema_backup_2025_03_09_07_05_01_12.tar.gz"},
		{time.Date(2025, 1, 1, 0, 30, 0, 0, berlin), 1, "hubble_schema_backup_2024_12_31_23_30_00.tar.gz"},
	}
	for _, tt := range tests {
		if got := Name(tt.t, tt.seq); got != tt.want {
			t.Errorf("Name(%v, %d) = %q, want %q", tt.t, tt.seq, got, tt.want)
		}
	}
}

func TestParseName(t *testing.T) {
	type result struct {
		T   time.Time
		Seq int
		OK  bool
	}
	at := time.Date(2025, 3, 9, 7, 5, 1, 0, time.UTC)
	tests := []struct {
		name string
		want result
	}{
		{"hubble_schema_backup_2025_03_09_07_05_01.tar.gz", result{at, 1, true}},
		{"hubble_schema_backup_2025_03_09_07_05_01_2.tar.gz", result{at, 2, true}},
		{"hubble_schema_backup_2025_03_09_07_05_01_37.tar.gz", result{at, 37, true}},
		{"hubble_schema_backup_2025_03_09_07_05_01.tar.gz.age", result{at, 1, true}},
		{"hubble_schema_backup_2025_03_09_07_05_01_2.tar.gz.age", result{at, 2, true}},
		{"hubble_schema_backup_2025_03_09_07_05_01.tar.gz.age.age", result{}},
		{"hubble_schema_backup_2025_03_09_07_05_01.age", result{}},
		{"hubble_schema_backup_2025_03_09_07_05_01.tar.gz.AGE", result{}},
		{"hubble_schema_backup_2025_03_09_07_05_01_1.tar.gz", result{}},  // Name never writes _1
		{"hubble_schema_backup_2025_03_09_07_05_01_0.tar.gz", result{}},  // nor _0
		{"hubble_schema_backup_2025_03_09_07_05_01_02.tar.gz", result{}}, // nor a leading zero
		{"hubble_schema_backup_2025_03_09_07_05_01_.tar.gz", result{}},
		{"hubble_schema_backup_2025_03_09_07_05_01_x.tar.gz", result{}},
		{"hubble_schema_backup_2025_03_09_07_05_01_99999999999.tar.gz", result{}},
		{"hubble_schema_backup_2025_03_09_07_05_01.tar.gz.tmp", result{}},
		{".hubble_schema_backup_2025_03_09_07_05_01.tar.gz.tmp", result{}},
		{"hubble_schema_backup_2025_03_09_07_05_01.tar.gz.partial", result{}},
		{"hubble_schema_backup_2025_03_09_07_05_01.tar", result{}},
		{"hubble_schema_backup_2025_3_9_7_5_1.tar.gz", result{}},
		{"hubble_schema_backup_2025_13_09_07_05_01.tar.gz", result{}},
		{"hubble_schema_backup_2025_02_30_07_05_01.tar.gz", result{}},
		{"hubble_schema_backup_2025_03_09_24_05_01.tar.gz", result{}},
		{"hubble_schema_backup_2025_03_09_07_05_60.tar.gz", result{}},
		{"hubble_schema_backup_2025-03-09_07_05_01.tar.gz", result{}},
		{"hubble_schema_backup_+025_03_09_07_05_01.tar.gz", result{}},
		{"dir/hubble_schema_backup_2025_03_09_07_05_01.tar.gz", result{}},
		{"HUBBLE_SCHEMA_BACKUP_2025_03_09_07_05_01.tar.gz", result{}},
		{"", result{}},
	}
	for _, tt := range tests {
		tm, seq, ok := ParseName(tt.name)
		if diff := cmp.Diff(tt.want, result{tm, seq, ok}); diff != "" {
			t.Errorf("ParseName(%q) mismatch (-want +got):\n%s", tt.name, diff)
		}
	}
}

func TestParseName_roundTrip(t *testing.T) {
	for _, seq := range []int{1, 2, 9, 10, 1000} {
		at := time.Date(1999, 12, 31, 23, 59, 59, 0, time.UTC)
		got, gotSeq, ok := ParseName(Name(at, seq))
		if !ok || !got.Equal(at) || gotSeq != seq {
			t.Errorf("ParseName(Name(%v, %d)) = %v, %d, %v", at, seq, got, gotSeq, ok)
		}
	}
}

func TestDataFileName(t *testing.T) {
	tests := []struct {
		schema, table string
		taken         []string
		want          string
	}{
		{"hubble", "gl_budget", nil, "gl_budget.hubble"},
		{"hubble", "Mixed-Case_9", nil, "Mixed-Case_9.hubble"},
		{"hubble", "has space", nil, "has_space.hubble"},
		{"hub.ble", `we"ird'`, nil, "we_ird_.hub_ble"},
		{"hubble", "ünïcödé", nil, "_n_c_d_.hubble"},
		{"hubble", "日本", nil, "__.hubble"},
		{"hubble", "a/../b", nil, "a____b.hubble"},
		{"hubble", "", nil, "_.hubble"},
		{"", "", nil, "_._"},
		{"hubble", "\xff\x00", nil, "__.hubble"},
		{"hubble", "gl_budget", []string{"gl_budget.hubble"}, "gl_budget_2.hubble"},
		{"hubble", "gl budget", []string{"gl_budget.hubble", "gl_budget_2.hubble"}, "gl_budget_3.hubble"},
		{"in", "copy", nil, "copy_2.in"},
		{"out", "copy", nil, "copy_2.out"},
		{"dump", "schema", nil, "schema_2.dump"},
		{"hubble", "t_2", []string{"t.hubble"}, "t_2.hubble"},
		{"hubble", "t", []string{"t.hubble", "t_2.hubble"}, "t_3.hubble"},
	}
	for _, tt := range tests {
		taken := map[string]bool{}
		for _, n := range tt.taken {
			taken[n] = true
		}
		got := DataFileName(tt.schema, tt.table, taken)
		if got != tt.want {
			t.Errorf("DataFileName(%q, %q, %v) = %q, want %q", tt.schema, tt.table, tt.taken, got, tt.want)
		}
		if !taken[got] {
			t.Errorf("DataFileName(%q, %q) did not record %q in taken", tt.schema, tt.table, got)
		}
	}
}

func TestDataFileName_longNames(t *testing.T) {
	long := string(make([]byte, 300))
	got := DataFileName(long, long, map[string]bool{})
	if len(got) > 2*maxNamePart+1 {
		t.Errorf("DataFileName of 300-byte names has %d bytes", len(got))
	}
}

func TestQualifiedName(t *testing.T) {
	tests := []struct{ schema, table, want string }{
		{"hubble", "gl_budget", `"hubble"."gl_budget"`},
		{"Hub ble", `a"b`, `"Hub ble"."a""b"`},
	}
	for _, tt := range tests {
		if got := QualifiedName(tt.schema, tt.table); got != tt.want {
			t.Errorf("QualifiedName(%q, %q) = %q, want %q", tt.schema, tt.table, got, tt.want)
		}
	}
}
