package postgres

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hubble/hubble-applianceapi/internal/engine"
	"github.com/hubble/hubble-applianceapi/internal/pgtest"
	"github.com/jackc/pgx/v5"
)

// dataFileNames names each table's file "<table>.<schema>" as SPEC section 5
// asks (the backup pipeline owns the real naming; this stands in for it).
func dataFileNames(tables []engine.Table) []string {
	clean := func(s string) string {
		return strings.Map(func(r rune) rune {
			if r == '_' || r == '-' || r < 128 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
				return r
			}
			return '_'
		}, s)
	}
	seen := map[string]bool{}
	names := make([]string, len(tables))
	for i, t := range tables {
		base := clean(t.Name) + "." + clean(t.Schema)
		name := base
		for n := 2; seen[name]; n++ {
			name = fmt.Sprintf("%s_%d", base, n)
		}
		seen[name] = true
		names[i] = name
	}
	return names
}

// backupTo writes every table's data file and the scripts into dir, copying
// with as many goroutines as the snapshot has workers.
func backupTo(ctx context.Context, t *testing.T, e *Engine, schema string, workers int, dir string) engine.Info {
	t.Helper()
	s, err := e.Snapshot(ctx, schema, workers)
	if err != nil {
		t.Fatalf("Snapshot() error = %v", err)
	}
	defer func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close() error = %v", err)
		}
	}()
	tables := s.Tables()
	names := dataFileNames(tables)
	jobs := make(chan int)
	errs := make(chan error, len(tables))
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				f, err := os.Create(filepath.Join(dir, names[i]))
				if err != nil {
					errs <- err
					continue
				}
				_, err = s.CopyOut(ctx, tables[i], f)
				if cerr := f.Close(); err == nil {
					err = cerr
				}
				if err != nil {
					errs <- err
				}
			}
		}()
	}
	for i := range tables {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("CopyOut() error = %v", err)
	}
	files, err := s.Files(ctx, names)
	if err != nil {
		t.Fatalf("Files() error = %v", err)
	}
	var got []string
	for _, f := range files {
		got = append(got, f.Name)
		if err := os.WriteFile(filepath.Join(dir, f.Name), f.Data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff([]string{"copy.in", "copy.out", "schema.dump"}, got); diff != "" {
		t.Errorf("Files() names (-want +got):\n%s", diff)
	}
	return s.Info()
}

// runCopyIn runs copy.in with psql exactly as the runbook says, from inside
// dir, into dsn, and fails the test when psql reports an error.
func runCopyIn(ctx context.Context, t *testing.T, dir, dsn string) string {
	t.Helper()
	psql, err := pgtest.Bin("psql")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, psql, "-X", "-v", "ON_ERROR_STOP=1", "-d", dsn, "-f", "copy.in")
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil || strings.Contains(out.String(), "ERROR") {
		t.Fatalf("psql -f copy.in: %v\n%s", err, out.String())
	}
	return out.String()
}

// relationHashes hashes the contents of every table and materialized view of
// schema (partitioned parents through their partitions, parents with their
// children, as SELECT sees them).
func relationHashes(ctx context.Context, t *testing.T, dsn, schema string) map[string]string {
	t.Helper()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := conn.Query(ctx, `SELECT c.relname, c.relkind = 'm' AND NOT c.relispopulated FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'm')`, schema)
	if err != nil {
		t.Fatal(err)
	}
	unpopulated := map[string]bool{}
	var name string
	var empty bool
	_, err = pgx.ForEachRow(rows, []any{&name, &empty}, func() error {
		unpopulated[name] = empty
		return nil
	})
	conn.Close(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	hashes := map[string]string{}
	for name, empty := range unpopulated {
		if empty {
			hashes[name] = "not populated"
			continue
		}
		h, err := pgtest.TableHash(ctx, dsn, pgtest.QuoteQualified(schema, name))
		if err != nil {
			t.Fatal(err)
		}
		hashes[name] = h
	}
	return hashes
}

func TestSnapshot_RestoreScript(t *testing.T) {
	tests := []struct {
		name   string
		schema string
		create func(ctx context.Context, dsn, schema string) error
	}{
		{"hubble", "hubble", func(ctx context.Context, dsn, schema string) error {
			return pgtest.CreateHubble(ctx, dsn, pgtest.HubbleOptions{Schema: schema, Rows: 400})
		}},
		{"object rich", `Rich "Schema" ü`, pgtest.CreateObjectRich},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testCtx(t)
			src := pgtest.NewDB(t)
			if err := tt.create(ctx, src, tt.schema); err != nil {
				t.Fatal(err)
			}
			// A neighbour schema that must not be copied.
			if err := pgtest.Exec(ctx, src, `CREATE SCHEMA neighbour; CREATE TABLE neighbour.n (a int);
				CREATE VIEW neighbour.v AS SELECT 1 AS one`); err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			info := backupTo(ctx, t, newEngine(t, Config{DSN: src}), tt.schema, 2, dir)
			if info.Schema != tt.schema || info.SnapshotTime.IsZero() || info.ClientVersion == "" {
				t.Errorf("Info() = %+v", info)
			}

			dst := pgtest.NewDB(t)
			if err := pgtest.CreateERP(ctx, dst); err != nil {
				t.Fatal(err)
			}
			runCopyIn(ctx, t, dir, dst)

			if diff := cmp.Diff(relationHashes(ctx, t, src, tt.schema), relationHashes(ctx, t, dst, tt.schema)); diff != "" {
				t.Errorf("table contents differ (-source +restored):\n%s", diff)
			}
			wantSeq, err := pgtest.SequenceValues(ctx, src, tt.schema)
			if err != nil {
				t.Fatal(err)
			}
			gotSeq, err := pgtest.SequenceValues(ctx, dst, tt.schema)
			if err != nil {
				t.Fatal(err)
			}
			if len(wantSeq) == 0 {
				t.Errorf("the fixture has no sequence")
			}
			if diff := cmp.Diff(wantSeq, gotSeq); diff != "" {
				t.Errorf("sequence values differ (-source +restored):\n%s", diff)
			}
			wantDDL, err := pgtest.SchemaDDL(ctx, src, tt.schema)
			if err != nil {
				t.Fatal(err)
			}
			gotDDL, err := pgtest.SchemaDDL(ctx, dst, tt.schema)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(wantDDL, gotDDL); diff != "" {
				t.Errorf("schema definition differs (-source +restored):\n%s", diff)
			}
			var neighbours int
			if err := queryInt(ctx, dst, "SELECT count(*) FROM pg_namespace WHERE nspname = 'neighbour'", &neighbours); err != nil || neighbours != 0 {
				t.Errorf("the neighbour schema was restored (%d, %v)", neighbours, err)
			}
		})
	}
}

func queryInt(ctx context.Context, dsn, sql string, dst *int) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	return conn.QueryRow(ctx, sql).Scan(dst)
}
