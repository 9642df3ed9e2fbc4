package backup_test

import (
	"os"
	"path/filepath"

	"context"
	"github.com/hubble/hubble-applianceapi/internal/archive"
	"testing"

	"github.com/hubble/hubble-applianceapi/internal/backup"
	"github.com/hubble/hubble-applianceapi/internal/pgtest"
)

// TestPipeline_Run_progressBytes: the data phase reports bytes as they are
// copied, before the first table is done, and the last report (which the
// job record keeps) holds them all.
func TestPipeline_Run_progressBytes(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.NewDB(t)
	// One table of about 30 MB of COPY text: several progress steps.
	if err := pgtest.Exec(ctx, dsn, `CREATE SCHEMA hubble;
		CREATE TABLE hubble.big AS SELECT i, md5(i::text) || md5((i * 7)::text) AS t FROM generate_series(1, 400000) i;
		CREATE TABLE hubble.small (x int); INSERT INTO hubble.small VALUES (1)`); err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, dsn)
	f.p.Opts.Replication = nil
	f.p.Opts.Parallel = 1 // the big table first, alone
	var reports []backup.Progress
	res, err := f.p.Run(ctx, "0123456789abcdef0123456789abcdef", func(p backup.Progress) { reports = append(reports, p) })
	if err != nil {
		t.Fatal(err)
	}
	m := readManifest(t, f.backupDir, res.Name)
	var total int64
	for _, tb := range m.Tables {
		total += tb.Bytes
	}
	var early bool
	var last int64
	for _, p := range reports {
		if p.Phase == "data" && p.TablesDone == 0 && p.Bytes > 0 {
			early = true
		}
		if p.Phase == "data" || p.Phase == "publish" {
			if p.Bytes < last {
				t.Errorf("bytes went back from %d to %d", last, p.Bytes)
			}
			last = p.Bytes
		}
	}
	if !early {
		t.Errorf("no report counted bytes before the first table was done: %+v", reports)
	}
	end := reports[len(reports)-1]
	if end.Phase != "publish" || end.Bytes != total || end.TablesDone != len(m.Tables) {
		t.Errorf("last report %+v, want publish with %d bytes and %d tables", end, total, len(m.Tables))
	}
}

// readManifest opens an archive of backupDir through its index.
func readManifest(t *testing.T, backupDir, name string) *archive.Manifest {
	t.Helper()
	f, err := os.Open(filepath.Join(backupDir, name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	r, err := archive.OpenIndexed(f, st.Size(), archive.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return r.Manifest()
}
