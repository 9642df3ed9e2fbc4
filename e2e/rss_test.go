package e2e

import (
	"context"
	"fmt"
	"github.com/hubble/hubble-applianceapi/internal/ostest"
	"os"
	"path/filepath"
	"testing"

	"github.com/hubble/hubble-applianceapi/internal/pgtest"
)

// TestBackup_peakRSS: a backup's memory does not grow with the size of the
// largest table (issue 11: 4 times larger raises peak RSS by less than
// 10 %) and stays under 150 MB, at the product's default level.
func TestBackup_peakRSS(t *testing.T) {
	dsn := pgtest.NewDB(t)
	ctx := context.Background()
	// COPY text of about 100 bytes a row that compresses about 3:1.
	for schema, rows := range map[string]int{"rss1": 300_000, "rss4": 1_200_000} {
		err := pgtest.Exec(ctx, dsn, fmt.Sprintf(`CREATE SCHEMA %[1]s;
			CREATE TABLE %[1]s.big AS SELECT i, md5(i::text) AS h, (i %% 9973) * 1.25 AS amount,
				date '2020-01-01' + i %% 2000 AS day, repeat('x', i %% 23) AS pad FROM generate_series(1, %[2]d) i;
			CREATE TABLE %[1]s.small AS SELECT i FROM generate_series(1, 1000) i;`, schema, rows))
		if err != nil {
			t.Fatal(err)
		}
	}
	// The highest of three runs each: a short backup does not always reach
	// its steady peak (one CI run read 42 MB for the small table, where it
	// usually reads 47-48 MB, as the large one does).
	peak := map[string]int64{}
	for _, schema := range []string{"rss1", "rss4", "rss1", "rss4", "rss1", "rss4"} {
		if kb := backupRSS(t, dsn, schema); kb > peak[schema] {
			peak[schema] = kb
		}
	}
	t.Logf("peak RSS: largest table of 0.3 M rows: %d KB, 4 times larger: %d KB", peak["rss1"], peak["rss4"])
	if peak["rss4"] > peak["rss1"]*110/100 {
		t.Errorf("peak RSS grows with the largest table: %d KB, then %d KB for 4 times the data", peak["rss1"], peak["rss4"])
	}
	if peak["rss4"] > 150<<10 {
		t.Errorf("peak RSS %d KB, over 150 MB", peak["rss4"])
	}
}

// backupRSS runs `hubble-applianceapi backup` of schema and returns its
// peak resident set size in KB.
func backupRSS(t *testing.T, dsn, schema string) int64 {
	t.Helper()
	dir := t.TempDir()
	cfg := fmt.Sprintf(`backup_dir: %[1]s
temp_dir: %[2]s
min_free_mb: 1
log_file: %[3]s
state_dir: %[4]s
database:
  dsn: %[5]q
  schema: %[6]s
replication:
  enabled: false
`, t.TempDir(), t.TempDir(), filepath.Join(dir, "log"), filepath.Join(dir, "state"), dsn, schema)
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd, peakKB := ostest.MeasuredCommand(t, binary(t), "backup", "--config", path)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("backup of %s: %v\n%s", schema, err, out)
	}
	kb := peakKB()
	if kb == 0 {
		t.Fatal("GNU time wrote no peak RSS")
	}
	return kb
}
