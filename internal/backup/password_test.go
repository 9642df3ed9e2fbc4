package backup_test

import (
	"context"
	"strings"
	"testing"

	"github.com/hubble/hubble-applianceapi/internal/engine/postgres"
	"github.com/hubble/hubble-applianceapi/internal/pgtest"
)

// The password reaches every session, pg_dump's included, by environment
// only; a wrong one is a clear connection failure that never shows it.
func TestPipeline_Run_PasswordAuthentication(t *testing.T) {
	dsn := hubbleDB(t)
	const pw = "Pa55-w0rd-never-shown"
	roleDSN := pgtest.PasswordRole(t, dsn, pw)

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
