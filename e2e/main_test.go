package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/hubble/hubble-applianceapi/internal/pgtest"
	"github.com/hubble/hubble-applianceapi/internal/s3test"
)

// TestMain runs the tests against one throwaway PostgreSQL cluster; the
// binary under test is built once, on first use, into binDir.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "hubble-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := pgtest.Run(m)
	s3test.StopShared()
	printFaultFigures()
	os.RemoveAll(dir)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

var (
	binDir    string
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// binary builds ./cmd/hubble-applianceapi once per test binary and returns
// its path.
func binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		start := time.Now()
		defer func() { t.Logf("built the binary in %v", time.Since(start).Round(time.Millisecond)) }()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		buildPath = filepath.Join(binDir, "hubble-applianceapi")
		cmd := exec.CommandContext(ctx, "go", "build", "-o", buildPath, "-ldflags", "-X main.version=e2e",
			"github.com/hubble/hubble-applianceapi/cmd/hubble-applianceapi")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildPath
}

// The databases every test backs up. Schema "hubble" is the small Hubble-like
// fixture (a backup takes about a second); schema "bulk" holds one table
// big enough that its COPY takes seconds, for tests that need a job to stay
// in phase "data". They are made once and shared: backups only read them.
const (
	schemaSmall = "hubble"
	schemaBulk  = "bulk"
	bulkRows    = 2_000_000
)

var (
	sharedOnce sync.Once
	sharedDSN  string
	sharedErr  error
)

// sharedDB returns the DSN of the shared database, creating it on first use.
// It lives as long as the test cluster (pgtest removes the cluster at the
// end); against HUBBLE_TEST_DSN the database is left for the next run to
// drop.
func sharedDB(t testing.TB) string {
	t.Helper()
	sharedOnce.Do(func() {
		start := time.Now()
		sharedDSN, sharedErr = createShared()
		t.Logf("created the shared database in %v", time.Since(start).Round(time.Millisecond))
	})
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	return sharedDSN
}

func createShared() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	admin := pgtest.ServerDSN()
	if admin == "" {
		return "", fmt.Errorf("no test server: TestMain must run pgtest.Run")
	}
	const name = "hubble_e2e_shared"
	if err := pgtest.Exec(ctx, admin, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
		return "", err
	}
	if err := pgtest.Exec(ctx, admin, "CREATE DATABASE "+name+" TEMPLATE template0 ENCODING 'UTF8'"); err != nil {
		return "", err
	}
	dsn, err := pgtest.WithDatabase(admin, name)
	if err != nil {
		return "", err
	}
	if err := pgtest.CreateHubble(ctx, dsn, pgtest.HubbleOptions{Schema: schemaSmall}); err != nil {
		return "", fmt.Errorf("create schema %s: %w", schemaSmall, err)
	}
	// Random text compresses badly, so the archive writer has real work.
	// UNLOGGED: no WAL to write while filling it; COPY reads it all the same.
	bulk := fmt.Sprintf(`CREATE SCHEMA %[1]s;
CREATE UNLOGGED TABLE %[1]s.big (id bigint, a text, b text);
INSERT INTO %[1]s.big SELECT g, md5(random()::text), md5(random()::text) FROM generate_series(1, %[2]d) g;`, schemaBulk, bulkRows)
	if err := pgtest.Exec(ctx, dsn, bulk); err != nil {
		return "", fmt.Errorf("create schema %s: %w", schemaBulk, err)
	}
	return dsn, nil
}
