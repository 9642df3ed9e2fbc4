package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// PasswordRole creates a superuser login role that must authenticate with
// password (SCRAM, over TCP from 127.0.0.1; every other role keeps the test
// server's trust), and returns the DSN of dsn's database for that role,
// without the password. The server must be local: its pg_hba.conf is
// edited, and restored at the end of the test, when the role is dropped.
func PasswordRole(t testing.TB, dsn, password string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b := make([]byte, 4)
	rand.Read(b)
	role := "hubble_pw_" + hex.EncodeToString(b)
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	var hba string
	err = conn.QueryRow(ctx, "SHOW hba_file").Scan(&hba)
	conn.Close(context.Background())
	if err != nil {
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
		Exec(context.Background(), dsn, "SELECT pg_reload_conf()")
		Exec(context.Background(), dsn, "DROP ROLE IF EXISTS "+role)
	})
	quoted := "'" + strings.ReplaceAll(password, "'", "''") + "'"
	if err := Exec(ctx, dsn, "CREATE ROLE "+role+" LOGIN SUPERUSER PASSWORD "+quoted+"; SELECT pg_reload_conf()"); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User(role)
	return u.String()
}
