package store

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/resetbot/resetbot/internal/store/storetest"
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
	{Postgres, storetest.PostgresURL},
}

func sqliteDatabase(t testing.TB) string {
	return filepath.Join(t.TempDir(), "resetbot.db")
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
		// Many replicas in one test, beside the other packages' tests on the same server, must
		// fit under its connection limit (100 by default): one connection each is still a
		// connection of its own.
		dbURL = storetest.WithParam(t, dbURL, "pool_max_conns", "1")
	}
	stores := make([]*Store, n)
	for i := range stores {
		stores[i] = open(t, dbURL)
	}
	return stores
}
