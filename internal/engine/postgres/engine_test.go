package postgres

import (
	"context"
	"errors"
	"net"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hubble/hubble-applianceapi/internal/engine"
	"github.com/hubble/hubble-applianceapi/internal/pgtest"
)

func newEngine(t *testing.T, cfg Config) *Engine {
	t.Helper()
	e, err := New(cfg)
	if err != nil {
		t.Fatalf("New() error = %v", err)
	}
	return e
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// freePort is a TCP port nothing listens on.
func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

func TestEngine_Check(t *testing.T) {
	ctx := testCtx(t)
	dsn := pgtest.NewDB(t)
	if err := pgtest.Exec(ctx, dsn, `CREATE SCHEMA "My Schema"`); err != nil {
		t.Fatal(err)
	}
	e := newEngine(t, Config{DSN: dsn})

	t.Run("present", func(t *testing.T) {
		info, err := e.Check(ctx, "My Schema")
		if err != nil {
			t.Fatalf("Check() error = %v", err)
		}
		if info.Engine != "postgres" || info.Schema != "My Schema" || info.Database == "" ||
			majorOf(info.ServerVersion) < 10 || majorOf(info.ClientVersion) < majorOf(info.ServerVersion) {
			t.Errorf("Check() info = %+v", info)
		}
		if strings.Contains(info.ServerVersion, " ") {
			t.Errorf("ServerVersion %q has a distribution suffix", info.ServerVersion)
		}
	})
	t.Run("missing schema", func(t *testing.T) {
		info, err := e.Check(ctx, "nope")
		if !errors.Is(err, engine.ErrSchemaNotFound) {
			t.Fatalf("Check() error = %v, want ErrSchemaNotFound", err)
		}
		if info.Database == "" {
			t.Errorf("Check() info.Database empty on a missing schema")
		}
	})
	t.Run("unreachable", func(t *testing.T) {
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatal(err)
		}
		const password = "Sup3rS3cretPassw0rd"
		u.User = url.UserPassword("hubble", password)
		u.Host = "127.0.0.1:" + strconv.Itoa(freePort(t))
		bad := newEngine(t, Config{DSN: u.String()})
		_, err = bad.Check(ctx, "My Schema")
		var ce *engine.ConnectError
		if !errors.As(err, &ce) {
			t.Fatalf("Check() error = %v (%T), want *engine.ConnectError", err, err)
		}
		if strings.Contains(err.Error(), password) || strings.Contains(ce.DSN, password) {
			t.Errorf("error shows the password: %q", err)
		}
		if !strings.Contains(ce.DSN, u.Host) {
			t.Errorf("ConnectError.DSN = %q, want it to name %s", ce.DSN, u.Host)
		}
		// Same with the password from the config rather than the DSN.
		u.User = url.User("hubble")
		bad = newEngine(t, Config{DSN: u.String(), Password: password})
		if _, err = bad.Check(ctx, "My Schema"); err == nil || strings.Contains(err.Error(), password) {
			t.Errorf("Check() error = %v, want an error without the password", err)
		}
	})
	t.Run("old client tools", func(t *testing.T) {
		e := newEngine(t, Config{DSN: dsn, BinDir: t.TempDir()})
		if _, err := e.Check(ctx, "My Schema"); err == nil {
			t.Errorf("Check() with no pg_dump in BinDir succeeded")
		}
	})
}
