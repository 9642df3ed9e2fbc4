package backup_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hubble/hubble-applianceapi/internal/archive"
	"github.com/hubble/hubble-applianceapi/internal/backup"
	"github.com/hubble/hubble-applianceapi/internal/engine/postgres"
	"github.com/hubble/hubble-applianceapi/internal/pgtest"
	"github.com/hubble/hubble-applianceapi/internal/storage/local"
)

// extract unpacks an archive the way the runbook does: gunzip, then tar xvf.
func extract(t *testing.T, archivePath string) string {
	t.Helper()
	dir := t.TempDir()
	tarPath := filepath.Join(dir, "a.tar")
	gz, err := exec.Command("gunzip", "-c", archivePath).Output()
	if err != nil {
		t.Fatalf("gunzip: %v", err)
	}
	if err := os.WriteFile(tarPath, gz, 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "x")
	os.Mkdir(out, 0o755)
	if b, err := exec.Command("tar", "xvf", tarPath, "-C", out).CombinedOutput(); err != nil {
		t.Fatalf("tar xvf: %v\n%s", err, b)
	}
	return out
}

func TestPipeline_Run_ArchiveLayoutAndManifest(t *testing.T) {
	ctx := context.Background()
	dsn := hubbleDB(t)
	f := newFixture(t, dsn)
	var phases []string
	res, err := f.p.Run(ctx, "0123456789abcdef0123456789abcdef", func(p backup.Progress) {
		if len(phases) == 0 || phases[len(phases)-1] != p.Phase {
			phases = append(phases, p.Phase)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := "preflight replication snapshot data publish"; strings.Join(phases, " ") != want {
		t.Errorf("phases %v, want %s", phases, want)
	}
	if _, _, ok := archive.ParseName(res.Name); !ok {
		t.Errorf("archive name %q does not follow the pattern", res.Name)
	}
	path := filepath.Join(f.backupDir, res.Name)
	raw, _ := os.ReadFile(path)
	if sum := sha256.Sum256(raw); hex.EncodeToString(sum[:]) != res.SHA256 || int64(len(raw)) != res.Bytes {
		t.Errorf("result sha256/bytes do not match the file")
	}
	// Nothing else in backup_dir, nothing in temp_dir.
	if des, _ := os.ReadDir(f.backupDir); len(des) != 1 {
		t.Errorf("backup_dir holds %d entries, want 1", len(des))
	}
	if des, _ := os.ReadDir(f.tempDir); len(des) != 0 {
		t.Errorf("temp_dir not empty: %v", des)
	}

	dir := extract(t, path)
	mb, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := archive.ParseManifest(mb)
	if err != nil {
		t.Fatal(err)
	}
	// Exactly the SPEC layout: manifest, replication export, scripts and one
	// data file per table, nothing else.
	want := []string{"AttunityBackup/Replication_Definition.json", "DatabaseBackup/copy.in", "DatabaseBackup/copy.out", "manifest.json"}
	for _, tf := range m.Tables {
		want = append(want, tf.File)
	}
	for _, ff := range m.Files {
		if !strings.HasPrefix(ff.Path, "DatabaseBackup/copy.") && ff.Path != archive.ReplicationFile {
			want = append(want, ff.Path) // engine extras, e.g. schema.dump
		}
	}
	sort.Strings(want)
	var got []string
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			rel, _ := filepath.Rel(dir, p)
			got = append(got, filepath.ToSlash(rel))
		}
		return nil
	})
	sort.Strings(got)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("layout:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// Every table of the schema has its file; the erp schema's does not.
	tables, err := pgtest.Tables(ctx, dsn, "hubble")
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Tables) != len(tables) {
		t.Errorf("manifest has %d tables, schema %d", len(m.Tables), len(tables))
	}
	for _, tf := range m.Tables {
		if tf.Schema != "hubble" || strings.HasSuffix(tf.File, ".erp") {
			t.Errorf("table of another schema archived: %+v", tf)
		}
		data, err := os.ReadFile(filepath.Join(dir, tf.File))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		if hex.EncodeToString(sum[:]) != tf.SHA256 || int64(len(data)) != tf.Bytes {
			t.Errorf("%s: manifest checksum/size wrong", tf.File)
		}
		var rows int64
		if err := queryRow(ctx, dsn, "SELECT count(*) FROM ONLY "+tf.Name, &rows); err != nil {
			t.Fatal(err)
		}
		if rows != tf.Rows {
			t.Errorf("%s: manifest says %d rows, table has %d", tf.Name, tf.Rows, rows)
		}
	}
	for _, ff := range m.Files {
		data, _ := os.ReadFile(filepath.Join(dir, ff.Path))
		if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != ff.SHA256 {
			t.Errorf("%s: manifest checksum wrong", ff.Path)
		}
	}

	// The runbook's restore: psql with copy.in alone, inside DatabaseBackup,
	// into an empty database where the erp table the views use exists.
	target := pgtest.NewDB(t)
	if err := pgtest.CreateERP(ctx, target); err != nil {
		t.Fatal(err)
	}
	psql := exec.Command("psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", target, "-f", "copy.in")
	psql.Dir = filepath.Join(dir, "DatabaseBackup")
	if out, err := psql.CombinedOutput(); err != nil {
		t.Fatalf("psql copy.in: %v\n%s", err, out)
	}
	srcHashes, err := pgtest.TableHashes(ctx, dsn, "hubble")
	if err != nil {
		t.Fatal(err)
	}
	dstHashes, err := pgtest.TableHashes(ctx, target, "hubble")
	if err != nil {
		t.Fatal(err)
	}
	for name, h := range srcHashes {
		if dstHashes[name] != h {
			t.Errorf("table %s differs after restore", name)
		}
	}
	srcSeq, _ := pgtest.SequenceValues(ctx, dsn, "hubble")
	dstSeq, _ := pgtest.SequenceValues(ctx, target, "hubble")
	for name, v := range srcSeq {
		if dstSeq[name] != v {
			t.Errorf("sequence %s = %s after restore, want %s", name, dstSeq[name], v)
		}
	}
}

func queryRow(ctx context.Context, dsn, sql string, dst ...any) error {
	conn, err := pgxConnect(dsn)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	return conn.QueryRow(ctx, sql).Scan(dst...)
}

func TestPipeline_Run_NameNeverReused(t *testing.T) {
	f := newFixture(t, hubbleDB(t))
	fixed := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	f.p.Now = func() time.Time { return fixed }
	f.p.Opts.Replication = nil
	for _, want := range []string{"hubble_schema_backup_2026_01_02_03_04_05.tar.gz", "hubble_schema_backup_2026_01_02_03_04_05_2.tar.gz"} {
		res, err := f.p.Run(context.Background(), "0123456789abcdef0123456789abcdef", nil)
		if err != nil {
			t.Fatal(err)
		}
		if res.Name != want {
			t.Errorf("name %s, want %s", res.Name, want)
		}
	}
	// Replication disabled: no AttunityBackup folder.
	dir := extract(t, filepath.Join(f.backupDir, "hubble_schema_backup_2026_01_02_03_04_05.tar.gz"))
	if _, err := os.Stat(filepath.Join(dir, "AttunityBackup")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("AttunityBackup present with replication disabled: %v", err)
	}
}

type failRename struct{}

func (failRename) RenameNoReplace(string, string) error {
	return errors.New("injected: stale NFS file handle")
}

func (failRename) Link(string, string) error { return errors.New("injected: stale NFS file handle") }

func TestPipeline_Run_Failures(t *testing.T) {
	dsn := hubbleDB(t)
	tests := []struct {
		name  string
		setup func(t *testing.T, f *fixture)
		want  string // exact message; {backup}, {temp}, {file} are replaced
	}{
		{"backup_dir missing", func(t *testing.T, f *fixture) { f.p.Opts.BackupDir = filepath.Join(f.backupDir, "nfs") },
			"Directory '{backup}/nfs' does not exist."},
		{"temp_dir missing", func(t *testing.T, f *fixture) { f.p.Opts.TempDir = filepath.Join(f.tempDir, "gone") },
			"Directory '{temp}/gone' does not exist."},
		{"not enough space", func(t *testing.T, f *fixture) { f.p.Opts.MinFreeMB = 1 << 40 },
			"Not enough space is left in '{backup}': minimum required 1099511627776MB, space left "},
		{"statfs fails", func(t *testing.T, f *fixture) { f.p.FS = fakeFS{freeErr: errors.New("injected")} },
			"Unable to determine the drive of path '{backup}'"},
		{"database unreachable", func(t *testing.T, f *fixture) {
			f.p.Engine = mustEngine(t, "postgres://hubble:secretpw@127.0.0.1:1/db?sslmode=disable&connect_timeout=5")
		}, "Unable to connect to the database: "},
		{"schema missing", func(t *testing.T, f *fixture) { f.p.Opts.Schema = "nope" },
			"Schema 'nope' does not exist in database '{db}'."},
		{"replication fails", func(t *testing.T, f *fixture) { f.p.Opts.Replication.Env = map[string]string{"REPCTL_FAIL": "1"} },
			"An error occurred while executing system command: {repctl} exportrepository json_file={temp}/"},
		{"replication writes nothing", func(t *testing.T, f *fixture) {
			f.p.Opts.Replication.Env = map[string]string{"REPCTL_NO_OUTPUT": "1"}
		},
			"File {temp}/"},
		{"rename fails", func(t *testing.T, f *fixture) { f.p.Target = local.NewWithFS(f.backupDir, failRename{}) },
			"Unable to move file: publish archive: injected: stale NFS file handle"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, dsn)
			tt.setup(t, f)
			_, err := f.p.Run(context.Background(), "0123456789abcdef0123456789abcdef", nil)
			if err == nil {
				t.Fatal("backup succeeded")
			}
			var db string
			queryRow(context.Background(), dsn, "SELECT current_database()", &db)
			want := strings.NewReplacer("{backup}", f.backupDir, "{temp}", f.tempDir, "{db}", db,
				"{repctl}", f.p.Opts.Replication.Argv[0]).Replace(tt.want)
			if !strings.HasPrefix(err.Error(), want) {
				t.Errorf("error:\n%s\nwant prefix:\n%s", err, want)
			}
			if strings.Contains(err.Error(), "secretpw") {
				t.Errorf("password leaked into %q", err)
			}
			f.assertNothingLeft(t)
		})
	}
	assertNoBackends(t, dsn)
}

func mustEngine(t *testing.T, dsn string) *postgres.Engine {
	e, err := postgres.New(postgres.Config{DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	return e
}
