package backup_test

import (
	"context"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/hubble/hubble-applianceapi/internal/engine/postgres"
	"github.com/hubble/hubble-applianceapi/internal/pgtest"
)

// requirePassword makes the test server demand a SCRAM password from role
// (only from it: other tests keep trust authentication) and returns the
// role's DSN, without the password.
func requirePassword(t *testing.T, dsn, role, password string) string {
	t.Helper()
	ctx := context.Background()
	var hba string
	if err := queryRow(ctx, dsn, "SHOW hba_file", &hba); err != nil {
		t.Fatal(err)
	}
	orig, err := os.ReadFile(hba)
	if err != nil {
		t.Fatalf("read %s (the test server must be local): %v", hba, err)
	}
	line := "host all " + role + " 127.0.0.1/32 scram-sha-256\n"
	if err := os.WriteFile(hba, append([]byte(line), orig...), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		os.WriteFile(hba, orig, 0o600)
		pgtest.Exec(context.Background(), dsn, "SELECT pg_reload_conf()")
	})
	if err := pgtest.Exec(ctx, dsn, "DROP ROLE IF EXISTS "+role+"; CREATE ROLE "+role+" LOGIN SUPERUSER PASSWORD '"+password+"'; SELECT pg_reload_conf()"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pgtest.Exec(context.Background(), dsn, "DROP ROLE IF EXISTS "+role) })
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User(role)
	return u.String()
}

// The password reaches every session, pg_dump's included, by environment
// only; a wrong one is a clear connection failure that never shows it.
func TestPipeline_Run_PasswordAuthentication(t *testing.T) {
	dsn := hubbleDB(t)
	const pw = "Pa55-w0rd-never-shown"
	roleDSN := requirePassword(t, dsn, "hubble_pw_backup", pw)

	f := newFixture(t, dsn)
	f.p.Opts.Replication = nil
	eng, err := postgres.New(postgres.Config{DSN: roleDSN, Password: pw})
	if err != nil {
		t.Fatal(err)
	}
	f.p.Engine = eng
	if _, err := f.p.Run(context.Background(), "0123456789abcdef0123456789abcdef", nil); err != nil {
		t.Fatalf("backup with password authentication: %v", err)
	}

	wrong := newFixture(t, dsn)
	wrong.p.Opts.Replication = nil
	eng, _ = postgres.New(postgres.Config{DSN: roleDSN, Password: "not-" + pw})
	wrong.p.Engine = eng
	_, err = wrong.p.Run(context.Background(), "0123456789abcdef0123456789abcdef", nil)
	if err == nil || !strings.HasPrefix(err.Error(), "Unable to connect to the database: ") || !strings.Contains(err.Error(), "password authentication failed") {
		t.Fatalf("err = %v, want the connection failure", err)
	}
	if strings.Contains(err.Error(), pw) {
		t.Errorf("password shown in %q", err)
	}
	wrong.assertNothingLeft(t)
}
