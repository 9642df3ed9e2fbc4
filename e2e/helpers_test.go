package e2e

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
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

// appName is the application_name the service's database sessions carry;
// a restore's sessions carry it followed by " restore " and the restore's id.
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
		`SELECT count(*) FROM pg_stat_activity WHERE (application_name = $1 OR starts_with(application_name, $1 || ' '))
		AND pid <> pg_backend_pid()`, appName).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// descendants lists the live processes below pid (children, their
// children, ...), whatever process group they put themselves in, as
// "pid (comm)".
func descendants(pid int) map[int]string {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	parent := map[int]int{}
	name := map[int]string{}
	for _, p := range stats {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // the process ended meanwhile
		}
		// pid (comm) state ppid ...; comm may hold spaces and parentheses.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 2 || f[0] == "Z" {
			continue
		}
		p, _ := strconv.Atoi(strings.Fields(string(b))[0])
		pp, _ := strconv.Atoi(f[1])
		parent[p], name[p] = pp, string(b[:i+1])
	}
	found := map[int]string{}
	for p := range parent {
		for q := parent[p]; q > 1; q = parent[q] {
			if q == pid {
				found[p] = name[p]
				break
			}
		}
	}
	return found
}

// alive returns those of procs that still run (not zombies).
func alive(procs map[int]string) []string {
	var left []string
	for pid, name := range procs {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			continue
		}
		if i := bytes.LastIndexByte(b, ')'); i >= 0 && !bytes.HasPrefix(bytes.TrimSpace(b[i+1:]), []byte("Z")) {
			left = append(left, name)
		}
	}
	return left
}
