// Command devcluster runs a persistent local PostgreSQL cluster for demos and
// benchmarks, and fills databases with the generated Hubble-like datasets of
// internal/pgtest.
//
//	go run ./tools/devcluster start --dir D [--port 5432] [--db NAME]   # prints the DSN as the last line
//	go run ./tools/devcluster stop --dir D
//	go run ./tools/devcluster gen --dsn DSN --kind hubble|objectrich|bench [--schema S] [--size-mb N] [--if-missing]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/hubble/hubble-applianceapi/internal/pgtest"
	"github.com/jackc/pgx/v5"
)

const usage = `usage:
  devcluster start --dir DIR [--port PORT] [--db NAME]
                                             start (or reuse) the cluster in DIR, create database NAME
                                             if missing; prints its DSN as the last line
  devcluster stop --dir DIR                  stop the cluster in DIR (its files stay)
  devcluster gen --dsn DSN --kind hubble|objectrich|bench [--schema S] [--size-mb N] [--rows N] [--if-missing]
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "devcluster:", err)
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return flag.ErrHelp
	}
	fs := flag.NewFlagSet("devcluster "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "", "cluster directory (start, stop)")
	port := fs.Int("port", 0, "TCP port (start; 0 = the previous one or a free one)")
	db := fs.String("db", "postgres", "database to create if missing and print the DSN of (start)")
	dsn := fs.String("dsn", "", "database to fill (gen)")
	kind := fs.String("kind", "hubble", "dataset: hubble, objectrich or bench (gen)")
	schema := fs.String("schema", "", "schema name (gen; default hubble, or rich for objectrich)")
	sizeMB := fs.Int64("size-mb", 1024, "table data size in MB (gen --kind bench)")
	rows := fs.Int("rows", 0, "rows per big table (gen --kind hubble; 0 = default)")
	ifMissing := fs.Bool("if-missing", false, "do nothing when the schema already exists (gen)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	switch args[0] {
	case "start":
		if *dir == "" {
			return errors.New("start needs --dir")
		}
		c, err := pgtest.StartCluster(ctx, *dir, *port)
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "cluster in %s running on port %d (log %s)\n", c.Dir, c.Port, c.LogFile)
		if err := createDB(ctx, c.DSN("postgres"), *db); err != nil {
			return err
		}
		fmt.Fprintln(stdout, c.DSN(*db))
		return nil
	case "stop":
		if *dir == "" {
			return errors.New("stop needs --dir")
		}
		c, err := pgtest.OpenCluster(*dir)
		if err != nil {
			return err
		}
		return c.Stop(ctx)
	case "gen":
		if *dsn == "" {
			return errors.New("gen needs --dsn")
		}
		if *schema == "" {
			*schema = "hubble"
			if *kind == "objectrich" {
				*schema = "rich"
			}
		}
		if *ifMissing {
			exists, err := schemaExists(ctx, *dsn, *schema)
			if err != nil {
				return err
			}
			if exists {
				fmt.Fprintf(stderr, "schema %s already exists: nothing to do\n", *schema)
				return nil
			}
		}
		switch *kind {
		case "hubble":
			return pgtest.CreateHubble(ctx, *dsn, pgtest.HubbleOptions{Schema: *schema, Rows: *rows})
		case "objectrich":
			return pgtest.CreateObjectRich(ctx, *dsn, *schema)
		case "bench":
			return pgtest.GenerateBench(ctx, *dsn, *schema, *sizeMB<<20, stderr)
		}
		return fmt.Errorf("unknown --kind %q (hubble, objectrich or bench)", *kind)
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q: %w", args[0], flag.ErrHelp)
}

// createDB creates database db unless it exists.
func createDB(ctx context.Context, adminDSN, db string) error {
	conn, err := pgx.Connect(ctx, adminDSN)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.Background())
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", db).Scan(&exists); err != nil {
		return fmt.Errorf("look up database %s: %w", db, err)
	}
	if exists {
		return nil
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{db}.Sanitize()); err != nil {
		return fmt.Errorf("create database %s: %w", db, err)
	}
	return nil
}

func schemaExists(ctx context.Context, dsn, schema string) (bool, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return false, fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.Background())
	var ok bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", schema).Scan(&ok); err != nil {
		return false, fmt.Errorf("look up schema %s: %w", schema, err)
	}
	return ok, nil
}
