package postgres

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hubble/hubble-applianceapi/internal/pgtest"
	"github.com/jackc/pgx/v5"
)

const transferSQL = `
CREATE SCHEMA hubble;
CREATE TABLE hubble.account (id int PRIMARY KEY, balance bigint NOT NULL);
INSERT INTO hubble.account SELECT g, 1000 FROM generate_series(1, 100) g;
CREATE TABLE hubble.ledger (id bigserial PRIMARY KEY, from_id int, to_id int, amount bigint, note text);
INSERT INTO hubble.ledger (from_id, to_id, amount, note)
	SELECT 0, 0, 0, repeat(md5(g::text), 4) FROM generate_series(1, 100000) g;
CREATE TABLE hubble.counter (transfers bigint NOT NULL);
INSERT INTO hubble.counter VALUES (0);
`

// transfer moves money between two accounts, appends to the ledger and
// counts the transfer, in one transaction.
func transfer(ctx context.Context, conn *pgx.Conn, rnd *rand.Rand) error {
	from, to, amount := 1+rnd.IntN(100), 1+rnd.IntN(100), int64(1+rnd.IntN(50))
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.Background())
	batch := &pgx.Batch{}
	batch.Queue("UPDATE hubble.account SET balance = balance - $2 WHERE id = $1", from, amount)
	batch.Queue("UPDATE hubble.account SET balance = balance + $2 WHERE id = $1", to, amount)
	batch.Queue("INSERT INTO hubble.ledger (from_id, to_id, amount, note) VALUES ($1, $2, $3, 'transfer')", from, to, amount)
	batch.Queue("UPDATE hubble.counter SET transfers = transfers + 1")
	if err := tx.SendBatch(ctx, batch).Close(); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// While a writer keeps transferring, the restored copy must satisfy the
// invariants that hold between the tables at every commit.
func TestSnapshot_ConsistentUnderWrites(t *testing.T) {
	ctx := testCtx(t)
	src := pgtest.NewDB(t)
	if err := pgtest.Exec(ctx, src, transferSQL); err != nil {
		t.Fatal(err)
	}

	writerCtx, stopWriter := context.WithCancel(ctx)
	defer stopWriter()
	var transfers atomic.Int64
	writerErr := make(chan error, 1)
	go func() {
		writerErr <- func() error {
			conn, err := pgx.Connect(writerCtx, src)
			if err != nil {
				return err
			}
			defer conn.Close(context.Background())
			rnd := rand.New(rand.NewPCG(1, 2))
			for {
				if err := transfer(writerCtx, conn, rnd); err != nil {
					if writerCtx.Err() != nil {
						return nil
					}
					return err
				}
				transfers.Add(1)
			}
		}()
	}()
	waitTransfers := func(n int64) {
		deadline := time.Now().Add(time.Minute)
		for transfers.Load() < n {
			if time.Now().After(deadline) {
				t.Fatalf("the writer made only %d transfers", transfers.Load())
			}
			time.Sleep(5 * time.Millisecond) // polling the writer's progress with a deadline
		}
	}
	waitTransfers(50)
	before := transfers.Load()

	dir := t.TempDir()
	backupTo(ctx, t, newEngine(t, Config{DSN: src}), "hubble", 2, dir)

	waitTransfers(before + 50) // the writer kept committing during and after the backup
	stopWriter()
	if err := <-writerErr; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("writer: %v", err)
	}

	dst := pgtest.NewDB(t)
	runCopyIn(ctx, t, dir, dst)
	var sum, accounts, ledgerTransfers, counted int
	checks := []struct {
		sql string
		dst *int
	}{
		{"SELECT sum(balance)::int FROM hubble.account", &sum},
		{"SELECT count(*)::int FROM hubble.account", &accounts},
		{"SELECT count(*)::int FROM hubble.ledger WHERE note = 'transfer'", &ledgerTransfers},
		{"SELECT transfers::int FROM hubble.counter", &counted},
	}
	for _, c := range checks {
		if err := queryInt(ctx, dst, c.sql, c.dst); err != nil {
			t.Fatalf("%s: %v", c.sql, err)
		}
	}
	if sum != 100*1000 || accounts != 100 {
		t.Errorf("restored accounts: %d rows summing to %d, want 100 summing to 100000", accounts, sum)
	}
	if ledgerTransfers != counted || counted < int(before) {
		t.Errorf("restored ledger has %d transfers, counter says %d (the writer had made %d before the backup)",
			ledgerTransfers, counted, before)
	}
	var netFlow int
	if err := queryInt(ctx, dst, `SELECT count(*)::int FROM hubble.account a WHERE a.balance <> 1000
		+ coalesce((SELECT sum(amount) FROM hubble.ledger WHERE to_id = a.id), 0)
		- coalesce((SELECT sum(amount) FROM hubble.ledger WHERE from_id = a.id), 0)`, &netFlow); err != nil {
		t.Fatal(err)
	}
	if netFlow != 0 {
		t.Errorf("%d restored balances disagree with the restored ledger", netFlow)
	}
}
