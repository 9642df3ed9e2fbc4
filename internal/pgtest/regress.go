package pgtest

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// The fidelity corpus: PostgreSQL's own regression test scripts
// (../shared/fixtures/pg-regress, PostgreSQL License), which nobody on this
// project wrote, loaded into one database. They leave behind hundreds of
// tables and every kind of object a schema can hold.

// regressSkipped are the scheduled scripts LoadRegress does not run, and why.
var regressSkipped = map[string]string{
	"psql_pipeline": "uses psql 18's pipeline meta-commands: psql 15 waits for input for ever",
	"stats":         "waits in loops for the statistics collector (30 s) for a few lasting tables",
}

// RegressDir finds the pg-regress fixtures: shared/fixtures/pg-regress
// beside the repository (CI: ../shared) or beside one of its parents (a
// worktree). Missing is an error: the corpus is never skipped.
func RegressDir() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		p := filepath.Join(d, "shared", "fixtures", "pg-regress")
		if _, err := os.Stat(filepath.Join(p, "parallel_schedule")); err == nil {
			return p, nil
		}
		if d == filepath.Dir(d) {
			return "", fmt.Errorf("no shared/fixtures/pg-regress/parallel_schedule beside %s or any parent: the fidelity corpus needs ../shared", dir)
		}
	}
}

// RegressReport says what LoadRegress ran.
type RegressReport struct {
	Scripts []string          // run, in schedule order
	Skipped map[string]string // not run, with the reason
	Errors  int               // ERROR lines in psql's output (expected: PostgreSQL 18 scripts on an older server)
}

// LoadRegress runs the regression scripts of dir in parallel_schedule's
// order, one psql -f each, with ON_ERROR_STOP=0 (statements that fail on
// this server or need the C test library regress.so are expected to fail),
// into the database of dsn, with the settings pg_regress gives them. A
// script that runs longer than perScript is an error.
func LoadRegress(ctx context.Context, dsn, dir string, perScript time.Duration) (RegressReport, error) {
	rep := RegressReport{Skipped: regressSkipped}
	psql, err := Bin("psql")
	if err != nil {
		return rep, err
	}
	order, err := regressSchedule(filepath.Join(dir, "parallel_schedule"))
	if err != nil {
		return rep, err
	}
	// pg_regress's database settings and session environment.
	if err := Exec(ctx, dsn, `DO $$ BEGIN
		EXECUTE format('ALTER DATABASE %I SET lc_messages TO ''C''', current_database());
		EXECUTE format('ALTER DATABASE %I SET lc_monetary TO ''C''', current_database());
		EXECUTE format('ALTER DATABASE %I SET lc_numeric TO ''C''', current_database());
		EXECUTE format('ALTER DATABASE %I SET lc_time TO ''C''', current_database());
		EXECUTE format('ALTER DATABASE %I SET bytea_output TO ''hex''', current_database());
		EXECUTE format('ALTER DATABASE %I SET timezone_abbreviations TO ''Default''', current_database());
		END $$`); err != nil {
		return rep, fmt.Errorf("set up the regression database: %w", err)
	}
	// Some scripts write files with server-side COPY (as the server's OS
	// user) under abs_builddir/results; regress.so is not there on purpose.
	build, err := os.MkdirTemp("", "hubble-regress-")
	if err != nil {
		return rep, err
	}
	defer os.RemoveAll(build)
	for _, d := range []string{build, filepath.Join(build, "results"), filepath.Join(build, "lib")} {
		if err := os.MkdirAll(d, 0o777); err != nil {
			return rep, err
		}
		if err := os.Chmod(d, 0o777); err != nil { // not the umask's
			return rep, err
		}
	}
	env := cleanEnv("PG_ABS_SRCDIR="+dir, "PG_ABS_BUILDDIR="+build, "PG_LIBDIR="+filepath.Join(build, "lib"),
		"PG_DLSUFFIX=.so", "PGTZ=PST8PDT", "PGDATESTYLE=Postgres, MDY", "LANG=C", "LC_ALL=C")
	for _, name := range order {
		if _, skip := regressSkipped[name]; skip {
			continue
		}
		n, err := runRegressScript(ctx, psql, dsn, filepath.Join(dir, "sql", name+".sql"), build, env, perScript)
		if err != nil {
			return rep, fmt.Errorf("regression script %s: %w", name, err)
		}
		rep.Scripts = append(rep.Scripts, name)
		rep.Errors += n
	}
	return rep, nil
}

// regressSchedule reads the test names of a parallel_schedule, in order.
func regressSchedule(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var order []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "test:"); ok {
			order = append(order, strings.Fields(rest)...)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(order) == 0 {
		return nil, fmt.Errorf("%s lists no test", path)
	}
	return order, nil
}

// runRegressScript runs one script and counts the ERROR lines of its output.
func runRegressScript(ctx context.Context, psql, dsn, script, dir string, env []string, timeout time.Duration) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, psql, "-X", "-q", "-v", "ON_ERROR_STOP=0", "-d", dsn, "-f", script)
	cmd.Env = env
	cmd.Dir = dir
	cmd.Stdin = nil // /dev/null: a script that reads stdin gets EOF
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		return 0, fmt.Errorf("still running after %s: %w", timeout, ctx.Err())
	}
	if err != nil {
		// With ON_ERROR_STOP=0 failing statements do not change psql's
		// exit code: anything else (the connection lost) is ours to see.
		return 0, fmt.Errorf("psql: %w: %s", err, tailOf(out, 2000))
	}
	return strings.Count(string(out), "ERROR:"), nil
}

func tailOf(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
