package e2e

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// entries lists the names in dir.
func entries(t testing.TB, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, len(des))
	for i, de := range des {
		names[i] = de.Name()
	}
	return names
}

// assertEmpty fails when dir holds anything.
func assertEmpty(t testing.TB, dir string) {
	t.Helper()
	if names := entries(t, dir); len(names) > 0 {
		t.Errorf("left behind in %s: %v", dir, names)
	}
}

// appName is the application_name the service's database sessions carry.
const appName = "hubble-applianceapi"

// waitNoBackends polls pg_stat_activity until no session of the service is
// left in the shared database.
func waitNoBackends(t testing.TB, dsn string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		n := countBackends(t, dsn)
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d backends with application_name %q still in pg_stat_activity after %v", n, appName, within)
		}
		time.Sleep(pollInterval)
	}
}

func countBackends(t testing.TB, dsn string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(ctx,
		"SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()", appName).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
