package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// database makes a fresh, empty database for one test and returns the URL that opens it; it
// is removed when the test ends.
type database func(t testing.TB) string

// backends are the databases every suite test runs against.
var backends = []struct {
	name string
	db   database
}{
	{SQLite, sqliteDatabase},
	{Postgres, postgresDatabase},
}

func sqliteDatabase(t testing.TB) string {
	return filepath.Join(t.TempDir(), "resetbot.db")
}

// postgresEnv names the server the PostgreSQL tests use; each test gets its own schema there,
// so tests run in parallel and repeated runs never see each other's rows.
const postgresEnv = "RESETBOT_TEST_DATABASE_URL"

// skipWithoutPostgres skips t, saying how to run it, unless a PostgreSQL server is named.
func skipWithoutPostgres(t testing.TB) {
	if os.Getenv(postgresEnv) == "" {
		t.Skipf("PostgreSQL tests skipped: set %s to a server the tests may create schemas in, e.g. "+
			"%s='postgres://postgres@127.0.0.1:5432/test?sslmode=disable' go test ./internal/store/",
			postgresEnv, postgresEnv)
	}
}

func postgresDatabase(t testing.TB) string {
	skipWithoutPostgres(t)
	base := os.Getenv(postgresEnv)
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("connect to %s: %v", postgresEnv, err)
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
	return withParam(t, base, "search_path", schema)
}

// withParam sets a query parameter on a postgres:// URL (pool size, search_path).
func withParam(t testing.TB, raw, key, value string) string {
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("parse database URL: %v", err)
	}
	q := u.Query()
	q.Set(key, value)
	u.RawQuery = q.Encode()
	return u.String()
}

// open opens a Store on dbURL, closed when the test ends.
func open(t testing.TB, dbURL string) *Store {
	t.Helper()
	s, err := Open(context.Background(), dbURL)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// replicas opens n Stores on one database, each with its own connections, as n replicas (or
// processes) sharing it would.
func replicas(t testing.TB, dbURL string, n int) []*Store {
	t.Helper()
	if strings.HasPrefix(dbURL, "postgres") {
		// Many replicas in one test must fit under the server's connection limit.
		dbURL = withParam(t, dbURL, "pool_max_conns", "2")
	}
	stores := make([]*Store, n)
	for i := range stores {
		stores[i] = open(t, dbURL)
	}
	return stores
}
