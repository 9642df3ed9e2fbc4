package postgres

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hubble/hubble-applianceapi/internal/engine"
	"github.com/hubble/hubble-applianceapi/internal/pgtest"
)

// dieAt makes e's restores die, as far as the database can tell, when
// they reach point: every session they opened is terminated (a kill -9
// closes them all), so nothing after it commits and the in-process undo
// cannot run; the journal's lock goes when the restore returns.
func dieAt(t *testing.T, e *Engine, dsn, point string) {
	e.afterCommit = func(ctx context.Context, p string) {
		if p != point {
			return
		}
		if err := pgtest.Exec(ctx, dsn, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
			WHERE starts_with(application_name, 'hubble-applianceapi restore ') AND datname = current_database()`); err != nil {
			t.Error(err)
		}
	}
}

func journalFiles(t *testing.T, dir string) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*"))
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func exists(ctx context.Context, t *testing.T, dsn, sql string) bool {
	t.Helper()
	var n int
	if err := queryInt(ctx, dsn, "SELECT count(*)::int FROM ("+sql+") s", &n); err != nil {
		t.Fatal(err)
	}
	return n > 0
}

// Issues 8/10: a restore that died after committing its objects (kill -9)
// left them, and the same restore again, even with --clean, stopped on
// `function "fmt_amount" already exists`. The next restore into the schema
// now finds the dead one's journal, removes exactly what it had created,
// moves the tables it had set aside back, and restores.
func TestRestore_DeadRestoreUndone(t *testing.T) {
	for _, target := range []string{"", "copy"} {
		t.Run("target="+target, func(t *testing.T) {
			ctx := testCtx(t)
			f := newHoldFixture(t, ctx)
			schema := cmpOr(target, "hubble")
			if target == "" {
				// The appliance's empty activity tables (set aside, then
				// replaced) and objects of the user's, which must survive.
				if err := pgtest.CreateActivityTables(ctx, f.dst, "hubble"); err != nil {
					t.Fatal(err)
				}
				mustExecT(t, f.dst, "CREATE TABLE hubble.mine (a int); INSERT INTO hubble.mine VALUES (7); CREATE FUNCTION hubble.keep_me() RETURNS int LANGUAGE sql AS 'SELECT 1'")
			}
			req := f.req
			req.TargetSchema, req.JournalDir = target, t.TempDir()
			dying := newEngine(t, Config{DSN: f.dst})
			dieAt(t, dying, f.dst, "objects")
			if _, err := dying.Restore(ctx, req); err == nil {
				t.Fatal("the restore succeeded without its sessions")
			}
			fn := "SELECT 1 FROM pg_proc WHERE proname = 'fmt_amount' AND pronamespace = '" + schema + "'::regnamespace"
			if !exists(ctx, t, f.dst, fn) || len(journalFiles(t, req.JournalDir)) != 1 {
				t.Fatalf("after the death: function left %v, journal %v; want both", exists(ctx, t, f.dst, fn), journalFiles(t, req.JournalDir))
			}
			// Someone else's object, made after the death: not the dead restore's.
			mustExecT(t, f.dst, "CREATE TABLE "+schema+".later (a int)")

			// The defect: without the journal the retry stops on the leftovers.
			blind := req
			blind.JournalDir, blind.Clean = "", true
			if _, err := f.eng.Restore(ctx, blind); err == nil || !strings.Contains(err.Error(), "already exists") {
				t.Fatalf("a retry blind to the journal: %v, want \"already exists\"", err)
			}

			// A plan names what would be undone, and changes nothing.
			plan, err := f.eng.PlanRestore(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			dr := plan.DeadRestore
			if dr == nil || dr.Finished || dr.PID != os.Getpid() || !slices.Contains(dr.Removed, "function "+schema+".fmt_amount(numeric)") {
				t.Fatalf("plan.DeadRestore = %+v, want the function among what would be removed", dr)
			}
			for _, c := range plan.Conflicts {
				if !strings.Contains(c.Table, "activity") {
					t.Errorf("the plan counts the dead restore's %s as a conflict", c.Table)
				}
			}
			if !exists(ctx, t, f.dst, fn) {
				t.Fatal("the plan removed the function")
			}

			// The retry, without --clean.
			res, err := f.eng.Restore(ctx, req)
			if err != nil {
				t.Fatalf("retry: %v (dead restore: %+v)", err, res.DeadRestore)
			}
			if res.DeadRestore == nil || len(res.DeadRestore.Removed) == 0 || len(res.DeadRestore.NotUndone) > 0 {
				t.Fatalf("retry's DeadRestore = %+v", res.DeadRestore)
			}
			if target == "" && len(res.DeadRestore.PutBack) != len(pgtest.ActivityTables) {
				t.Errorf("put back %v, want the %d activity tables", res.DeadRestore.PutBack, len(pgtest.ActivityTables))
			}
			if res.Tables != len(req.Tables) {
				t.Errorf("retry restored %d tables, want %d", res.Tables, len(req.Tables))
			}
			keep := []string{"SELECT 1 FROM pg_class WHERE oid = '" + schema + ".later'::regclass"}
			if target == "" {
				keep = append(keep, "SELECT 1 FROM hubble.mine WHERE a = 7", "SELECT 1 FROM pg_proc WHERE proname = 'keep_me'")
			}
			for _, q := range keep {
				if !exists(ctx, t, f.dst, q) {
					t.Errorf("dropped what the dead restore had not created: %s", q)
				}
			}
			if exists(ctx, t, f.dst, "SELECT 1 FROM pg_namespace WHERE nspname LIKE 'hubble_restore_hold_%'") {
				t.Error("a holding schema is left")
			}
			if left := journalFiles(t, req.JournalDir); len(left) != 0 {
				t.Errorf("journal left: %v", left)
			}
		})
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// A restore into a schema another restore is running into is refused before
// any change; a plan says so.
func TestRestore_JournalBusy(t *testing.T) {
	ctx := testCtx(t)
	f := newHoldFixture(t, ctx)
	req := f.req
	req.JournalDir = t.TempDir()
	other := newEngine(t, Config{DSN: f.dst})
	var second error
	var plan engine.RestorePlan
	f.eng.afterCommit = func(ctx context.Context, p string) {
		if p == "objects" {
			_, second = other.Restore(ctx, req)
			plan, _ = other.PlanRestore(ctx, req)
		}
	}
	if _, err := f.eng.Restore(ctx, req); err != nil {
		t.Fatal(err)
	}
	var re *engine.RestoreError
	if !errors.As(second, &re) || !strings.Contains(re.Issue.Reason, "another restore into this schema is running") {
		t.Errorf("second restore: %v, want it refused", second)
	}
	if plan.RunningPID != os.Getpid() {
		t.Errorf("plan.RunningPID = %d, want %d", plan.RunningPID, os.Getpid())
	}
	if left := journalFiles(t, req.JournalDir); len(left) != 0 {
		t.Errorf("journal left: %v", left)
	}
}

// A restore that died after its last commit (before removing its journal)
// had finished: the next one undoes nothing of it.
func TestRestore_DeadAfterFinishing(t *testing.T) {
	ctx := testCtx(t)
	f := newHoldFixture(t, ctx)
	req := f.req
	req.JournalDir = t.TempDir()
	var record []byte
	var path string
	f.eng.afterCommit = func(ctx context.Context, p string) {
		if p == "finished" {
			names, _ := filepath.Glob(filepath.Join(req.JournalDir, "*.json"))
			if len(names) != 1 {
				t.Fatalf("journal at the end: %v", names)
			}
			path = names[0]
			record, _ = os.ReadFile(path)
		}
	}
	if _, err := f.eng.Restore(ctx, req); err != nil {
		t.Fatal(err)
	}
	// It died before removing it.
	if err := os.MkdirAll(req.JournalDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, record, 0o600); err != nil {
		t.Fatal(err)
	}
	e := newEngine(t, Config{DSN: f.dst})
	plan, err := e.PlanRestore(ctx, req)
	if err != nil || plan.DeadRestore == nil || !plan.DeadRestore.Finished {
		t.Fatalf("plan: %+v, %v; want a finished dead restore", plan.DeadRestore, err)
	}
	// The restore again finds all of it (and stops on it: only tables are
	// replaced, with --clean).
	req.Clean = true
	res, err := e.Restore(ctx, req)
	if err == nil || !strings.Contains(err.Error(), "already exists") || res.DeadRestore == nil || !res.DeadRestore.Finished || len(res.DeadRestore.Removed) > 0 {
		t.Fatalf("restore: %v, %+v; want nothing undone", err, res.DeadRestore)
	}
	if left := journalFiles(t, req.JournalDir); len(left) != 0 {
		t.Errorf("journal left: %v", left)
	}
}

// What depends on an object of the dead restore and is not one of its own
// (a view someone made on its table meanwhile) is never dropped with it: the
// restore stops naming it, the journal stays, and once that view is gone the
// next restore undoes the rest and goes on.
func TestRestore_DeadRestoreNeverCascades(t *testing.T) {
	ctx := testCtx(t)
	f := newHoldFixture(t, ctx)
	req := f.req
	req.JournalDir = t.TempDir()
	dying := newEngine(t, Config{DSN: f.dst})
	dieAt(t, dying, f.dst, "objects")
	if _, err := dying.Restore(ctx, req); err == nil {
		t.Fatal("the restore succeeded without its sessions")
	}
	mustExecT(t, f.dst, "CREATE VIEW public.users_view AS SELECT count(*) FROM hubble.gl_budget")
	res, err := f.eng.Restore(ctx, req)
	var re *engine.RestoreError
	if !errors.As(err, &re) || !strings.Contains(re.Issue.Reason, "could not be undone") || !strings.Contains(re.Issue.Reason, "users_view") {
		t.Fatalf("restore: %v, want it stopped naming the view that depends on the dead restore's table", err)
	}
	t.Logf("stopped: %v", err)
	if res.DeadRestore == nil || len(res.DeadRestore.NotUndone) == 0 {
		t.Errorf("DeadRestore = %+v", res.DeadRestore)
	}
	if !exists(ctx, t, f.dst, "SELECT 1 FROM pg_class WHERE relname = 'users_view'") {
		t.Fatal("the view someone else made was dropped")
	}
	if len(journalFiles(t, req.JournalDir)) == 0 {
		t.Fatal("the journal went with what it names still there")
	}
	mustExecT(t, f.dst, "DROP VIEW public.users_view")
	if res, err := f.eng.Restore(ctx, req); err != nil || res.DeadRestore == nil || len(res.DeadRestore.Removed) == 0 {
		t.Fatalf("restore after the view went: %v, %+v", err, res.DeadRestore)
	}
}
