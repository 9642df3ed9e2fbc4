package postgres

import (
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"time"
)

// PrepareReplicationTarget creates, if missing, the login role schema
// (password given as a SCRAM-SHA-256 verifier computed here, so the clear
// password never reaches the server, its logs or pg_stat_activity) with
// CONNECT on the database, and the schema of that name owned by it.
func (e *Engine) PrepareReplicationTarget(ctx context.Context, schema, password string) (roleCreated, schemaCreated bool, err error) {
	conn, err := e.connect(ctx)
	if err != nil {
		return false, false, err
	}
	defer closeConn(conn)
	tx, err := conn.Begin(ctx)
	if err != nil {
		return false, false, fmt.Errorf("begin transaction: %w", err)
	}
	defer func() {
		rctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_ = tx.Rollback(rctx)
		cancel()
	}()
	var roleExists, schemaExists bool
	var db string
	err = tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1),
		EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1), current_database()`, schema).
		Scan(&roleExists, &schemaExists, &db)
	if err != nil {
		return false, false, fmt.Errorf("look up role and schema %q: %w", schema, err)
	}
	if !roleExists {
		if password == "" {
			return false, false, fmt.Errorf("create login role %q: no password (set replication.destination_password_file)", schema)
		}
		verifier, err := scramVerifier(password)
		if err != nil {
			return false, false, fmt.Errorf("create login role %q: %w", schema, err)
		}
		if _, err := tx.Exec(ctx, "CREATE ROLE "+quoteIdent(schema)+" LOGIN PASSWORD "+quoteLiteral(verifier)); err != nil {
			return false, false, fmt.Errorf("create login role %q: %w", schema, err)
		}
		roleCreated = true
	}
	if _, err := tx.Exec(ctx, "GRANT CONNECT ON DATABASE "+quoteIdent(db)+" TO "+quoteIdent(schema)); err != nil {
		return false, false, fmt.Errorf("grant connect on database %q to %q: %w", db, schema, err)
	}
	if !schemaExists {
		if _, err := tx.Exec(ctx, "CREATE SCHEMA "+quoteIdent(schema)+" AUTHORIZATION "+quoteIdent(schema)); err != nil {
			return false, false, fmt.Errorf("create schema %q: %w", schema, err)
		}
		schemaCreated = true
	}
	if err := tx.Commit(ctx); err != nil {
		return false, false, fmt.Errorf("commit: %w", err)
	}
	return roleCreated, schemaCreated, nil
}

// scramVerifier computes the SCRAM-SHA-256 verifier PostgreSQL stores for
// password (RFC 5802/7677, 4096 iterations), as psql's \password does.
func scramVerifier(password string) (string, error) {
	const iterations = 4096
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	if password == "" {
		return "", errors.New("empty password")
	}
	salted, err := pbkdf2.Key(sha256.New, password, salt, iterations, sha256.Size)
	if err != nil {
		return "", err
	}
	mac := func(key []byte, msg string) []byte {
		h := hmac.New(sha256.New, key)
		h.Write([]byte(msg))
		return h.Sum(nil)
	}
	stored := sha256.Sum256(mac(salted, "Client Key"))
	server := mac(salted, "Server Key")
	b64 := base64.StdEncoding.EncodeToString
	return fmt.Sprintf("SCRAM-SHA-256$%d:%s$%s:%s", iterations, b64(salt), b64(stored[:]), b64(server)), nil
}
