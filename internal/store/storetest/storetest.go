// Package storetest gives tests a fresh PostgreSQL schema of their own on the server named by
// RESETBOT_TEST_DATABASE_URL, so store and replica tests run in parallel and repeated runs
// never see each other's rows. Without the variable those tests skip, saying how to run them.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
)

// Env names the server the PostgreSQL tests use; each test gets its own schema there,
// so tests run in parallel and repeated runs never see each other's rows.
const Env = "RESETBOT_TEST_DATABASE_URL"

// SkipWithoutPostgres skips t, saying how to run it, unless a PostgreSQL server is named.
func SkipWithoutPostgres(t testing.TB) {
	if os.Getenv(Env) == "" {
		t.Skipf("PostgreSQL tests skipped: set %s to a server the tests may create schemas in, e.g. "+
			"%s='postgres://postgres@127.0.0.1:5432/test?sslmode=disable' go test ./...",
			Env, Env)
	}
}

// PostgresURL makes a fresh schema and returns the URL that opens it; it is dropped when the
// test ends.
func PostgresURL(t testing.TB) string {
	SkipWithoutPostgres(t)
	base := os.Getenv(Env)
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("connect to %s: %v", Env, err)
	}
	schema := "resetbot_test_" + strings.ToLower(rand.Text())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := admin.ExecContext(ctx, `CREATE SCHEMA `+schema); err != nil {
		admin.Close()
		t.Fatalf("create test schema: %v", err)
	}
	t.Cleanup(func() {
		defer admin.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := admin.ExecContext(ctx, `DROP SCHEMA `+schema+` CASCADE`); err != nil {
			t.Errorf("drop test schema %s: %v", schema, err)
		}
	})
	return WithParam(t, base, "search_path", schema)
}

// WithParam sets a query parameter on a postgres:// URL (pool size, search_path).
func WithParam(t testing.TB, raw, key, value string) string {
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("parse database URL: %v", err)
	}
	q := u.Query()
	q.Set(key, value)
	u.RawQuery = q.Encode()
	return u.String()
}
