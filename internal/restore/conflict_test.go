package restore_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/hubble/hubble-applianceapi/internal/engine"
	"github.com/hubble/hubble-applianceapi/internal/pgtest"
	"github.com/hubble/hubble-applianceapi/internal/restore"
)

// hubbleArchive is an archive of a fresh Hubble schema, and its source.
func hubbleArchive(t *testing.T) (src, arch string) {
	t.Helper()
	src = pgtest.NewDB(t)
	if err := pgtest.CreateHubble(testCtx(t), src, pgtest.HubbleOptions{Rows: 300}); err != nil {
		t.Fatal(err)
	}
	return src, makeArchive(t, src, "hubble", false)
}

// erpDB is a fresh target database with the erp table the views need.
func erpDB(t *testing.T) string {
	t.Helper()
	dst := pgtest.NewDB(t)
	if err := pgtest.CreateERP(testCtx(t), dst); err != nil {
		t.Fatal(err)
	}
	return dst
}

func mustQueryInt(t *testing.T, dsn, sql string) int {
	t.Helper()
	conn, err := pgx.Connect(testCtx(t), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(testCtx(t), sql).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRestorer_Run_ExistingSchema(t *testing.T) {
	src, arch := hubbleArchive(t)
	want := stateOf(t, src, "hubble")
	tests := []struct {
		name    string
		prepare func(ctx context.Context, dst string) error
		clean   bool
		wantErr string // "" = restores
	}{
		{"empty schema", func(ctx context.Context, dst string) error {
			return pgtest.Exec(ctx, dst, "CREATE SCHEMA hubble")
		}, false, ""},
		{"fresh appliance's empty activity tables", func(ctx context.Context, dst string) error {
			return pgtest.CreateActivityTables(ctx, dst, "hubble")
		}, false, ""},
		{"non-empty conflicting table", func(ctx context.Context, dst string) error {
			if err := pgtest.CreateActivityTables(ctx, dst, "hubble"); err != nil {
				return err
			}
			return pgtest.Exec(ctx, dst, "INSERT INTO hubble.activity_log (message) VALUES ('precious')")
		}, false, `TABLE "hubble"."activity_log": exists in the target and holds rows`},
		{"non-empty conflicting table with --clean", func(ctx context.Context, dst string) error {
			if err := pgtest.CreateActivityTables(ctx, dst, "hubble"); err != nil {
				return err
			}
			return pgtest.Exec(ctx, dst, "INSERT INTO hubble.activity_log (message) VALUES ('replaced')")
		}, true, ""},
		{"non-empty conflicting tables, views on them named like the archive's, with --clean", func(ctx context.Context, dst string) error {
			if err := pgtest.CreateActivityTables(ctx, dst, "hubble"); err != nil {
				return err
			}
			return pgtest.Exec(ctx, dst, `INSERT INTO hubble.activity (name) VALUES ('replaced');
				CREATE VIEW hubble.v_activity_overview AS SELECT id FROM hubble.activity;
				CREATE VIEW hubble.v_mine AS SELECT id FROM hubble.v_activity_overview`)
		}, true, ""},
		{"empty table a view depends on", func(ctx context.Context, dst string) error {
			if err := pgtest.CreateActivityTables(ctx, dst, "hubble"); err != nil {
				return err
			}
			return pgtest.Exec(ctx, dst, "CREATE VIEW public.watch AS SELECT * FROM hubble.activity")
		}, false, `view public.watch`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testCtx(t)
			dst := erpDB(t)
			if err := tt.prepare(ctx, dst); err != nil {
				t.Fatal(err)
			}
			before := stateOf(t, dst, "hubble")
			f := newFixture(t, dst, arch)
			f.opts.Clean = tt.clean
			_, err := f.run(t)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Run() error = %v", err)
				}
				assertSame(t, want, stateOf(t, dst, "hubble"))
				return
			}
			var re *engine.RestoreError
			if !errors.As(err, &re) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Run() error = %v, want a restore error containing %q", err, tt.wantErr)
			}
			// Stopped before any change.
			if diff := cmp.Diff(before, stateOf(t, dst, "hubble")); diff != "" {
				t.Errorf("target changed (-before +after):\n%s", diff)
			}
		})
	}
}

// Defect 6 of issue 8: a view of the schema reads erp.gl_account (a table
// of another schema, which the replication tasks create). A target without
// it used to be found out halfway, after work was done, while --dry-run
// said "Conflicts: none". Now the dry run, the restore and copy.in all name
// it before any change, with what to do.
func TestRestorer_Run_MissingERP(t *testing.T) {
	src, arch := hubbleArchive(t)
	want := stateOf(t, src, "hubble")
	const missing = "table erp.gl_account"

	t.Run("dry run names it", func(t *testing.T) {
		f := newFixture(t, pgtest.NewDB(t), arch)
		f.opts.DryRun = true
		if _, err := f.run(t); err != nil {
			t.Fatalf("Run() error = %v", err)
		}
		for _, s := range []string{"missing in the target: 1", "  " + missing + "\n", "would stop before any change", "re-run the replication tasks"} {
			if !strings.Contains(f.out.String(), s) {
				t.Errorf("plan does not say %q", s)
			}
		}
	})

	t.Run("stops before any change, retry succeeds", func(t *testing.T) {
		dst := pgtest.NewDB(t)
		roles := mustQueryInt(t, dst, "SELECT count(*) FROM pg_roles")
		f := newFixture(t, dst, arch)
		_, err := f.run(t)
		var re *engine.RestoreError
		if !errors.As(err, &re) {
			t.Fatalf("Run() error = %v, want *engine.RestoreError", err)
		}
		for _, s := range []string{missing, "nothing was changed", "re-run the replication tasks"} {
			if !strings.Contains(err.Error(), s) || !strings.Contains(f.out.String(), s) {
				t.Errorf("error %q / summary does not say %q", err, s)
			}
		}
		if strings.Contains(err.Error(), "erp.gl_account.") {
			t.Errorf("the columns of the missing table are named too: %v", err)
		}
		if n := mustQueryInt(t, dst, "SELECT count(*) FROM pg_namespace WHERE nspname = 'hubble'"); n != 0 {
			t.Errorf("schema hubble created by a restore that stopped")
		}
		if n := mustQueryInt(t, dst, "SELECT count(*) FROM pg_roles"); n != roles {
			t.Errorf("roles: %d before, %d after", roles, n)
		}
		if err := pgtest.CreateERP(testCtx(t), dst); err != nil {
			t.Fatal(err)
		}
		f.out.Reset()
		if _, err := f.run(t); err != nil {
			t.Fatalf("retry: Run() error = %v", err)
		}
		assertSame(t, want, stateOf(t, dst, "hubble"))
	})

	t.Run("copy.in stops before any change", func(t *testing.T) {
		dst := pgtest.NewDB(t)
		code, out := runbookCopyIn(t, arch, dst)
		if code == 0 || !strings.Contains(out, "ERROR:") || !strings.Contains(out, missing) ||
			!strings.Contains(out, "re-run the replication tasks") {
			t.Errorf("psql -f copy.in exit %d, output:\n%s", code, out)
		}
		if n := mustQueryInt(t, dst, "SELECT count(*) FROM pg_namespace WHERE nspname = 'hubble'"); n != 0 {
			t.Errorf("schema hubble created by a copy.in that stopped")
		}
	})

	t.Run("continue on error", func(t *testing.T) {
		dst := pgtest.NewDB(t)
		f := newFixture(t, dst, arch)
		f.opts.ContinueOnError = true
		res, err := f.run(t)
		if !errors.Is(err, restore.ErrRestoredWithErrors) {
			t.Fatalf("Run() error = %v, want ErrRestoredWithErrors", err)
		}
		for _, s := range []string{"SCHEMA hubble: needs objects outside the schema that the target lacks: " + missing,
			"VIEW hubble.v_gl_budget_named: relation \"erp.gl_account\" does not exist"} {
			if !strings.Contains(f.out.String(), s) {
				t.Errorf("summary does not say %q", s)
			}
		}
		for _, is := range res.Database.Issues {
			if !strings.Contains(is.Object, "v_gl_budget_named") && is.Object != "SCHEMA hubble" {
				t.Errorf("unexpected failure: %+v", is)
			}
		}
		got := stateOf(t, dst, "hubble")
		if diff := cmp.Diff(want.Hashes, got.Hashes); diff != "" {
			t.Errorf("table contents differ (-source +target):\n%s", diff)
		}
		if diff := cmp.Diff(want.Seqs, got.Seqs); diff != "" {
			t.Errorf("sequences differ (-source +target):\n%s", diff)
		}
		out := readFile(t, f.opts.OutputFile)
		if !strings.Contains(out, "ERROR: VIEW hubble.v_gl_budget_named") || !strings.Contains(out, "STATEMENT: CREATE VIEW") {
			t.Errorf("restore_output.txt:\n%s", out)
		}
	})
}

// A failure after the objects were committed (here: an index name taken
// in the existing schema) removes what the restore created and keeps what
// was there.
func TestRestorer_Run_UndoKeepsExistingObjects(t *testing.T) {
	_, arch := hubbleArchive(t)
	dst := erpDB(t)
	mustExec(t, dst, `CREATE SCHEMA hubble; CREATE TABLE hubble.unrelated (a int);
		CREATE INDEX gl_budget_open_idx ON hubble.unrelated (a); INSERT INTO hubble.unrelated VALUES (1)`)
	before := stateOf(t, dst, "hubble")
	f := newFixture(t, dst, arch)
	_, err := f.run(t)
	if err == nil || !strings.Contains(err.Error(), "gl_budget_open_idx") {
		t.Fatalf("Run() error = %v, want the index conflict", err)
	}
	if diff := cmp.Diff(before, stateOf(t, dst, "hubble")); diff != "" {
		t.Errorf("target not back to its state (-before +after):\n%s", diff)
	}
}

func TestRestorer_Run_DryRun(t *testing.T) {
	_, arch := hubbleArchive(t)
	dst := erpDB(t)
	if err := pgtest.CreateActivityTables(testCtx(t), dst, "hubble"); err != nil {
		t.Fatal(err)
	}
	mustExec(t, dst, "INSERT INTO hubble.activity (name) VALUES ('x')")
	before := stateOf(t, dst, "hubble")
	f := newFixture(t, dst, arch)
	f.opts.DryRun = true
	f.opts.Schema = "hubble"
	if _, err := f.run(t); err != nil {
		t.Fatalf("Run() error = %v", err)
	}
	out := f.out.String()
	for _, s := range []string{"dry run", "Target: database", "schema hubble (exists)", `"hubble"."gl_budget"`, "300 rows",
		`"hubble"."activity": holds rows`, `"hubble"."activity_log": empty: dropped and recreated`, "would stop before any change"} {
		if !strings.Contains(out, s) {
			t.Errorf("plan does not say %q", s)
		}
	}
	if diff := cmp.Diff(before, stateOf(t, dst, "hubble")); diff != "" {
		t.Errorf("dry run changed the target (-before +after):\n%s", diff)
	}
}

// A restore killed with -9 left its staging folder (its mark unlocked); the
// next restore removes it.
func TestRestorer_Run_RemovesStagingOfDeadRestore(t *testing.T) {
	_, arch := hubbleArchive(t)
	f := newFixture(t, erpDB(t), arch)
	dead := filepath.Join(f.tempDir, "hubble-restore-dead")
	if err := os.MkdirAll(filepath.Join(dead, "DatabaseBackup"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dead+".owner", nil, 0o600); err != nil {
		t.Fatal(err)
	}
	f.opts.DryRun = true
	if _, err := f.run(t); err != nil { // run also checks temp_dir is empty afterwards
		t.Fatalf("Run() error = %v", err)
	}
}
