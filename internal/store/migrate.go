package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"time"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// migrations holds one directory of goose SQL migrations per backend; the schemas are kept
// apart because the column types differ (timestamptz and identity columns on PostgreSQL).
//
//go:embed migrations
var migrations embed.FS

// migrate brings the schema up to date. Replicas starting together are safe: the migrations
// run under a lock, and whoever gets it second finds nothing left to do.
func (s *Store) migrate(ctx context.Context) error {
	fsys, err := fs.Sub(migrations, "migrations/"+s.backend)
	if err != nil {
		return err
	}
	dialect, locker := goose.DialectSQLite3, lock.SessionLocker(newSQLiteLocker())
	if s.backend == Postgres {
		id, err := s.postgresLockID(ctx)
		if err != nil {
			return err
		}
		// Polled every second for up to five minutes: a replica that loses the race waits for
		// the winner's migrations, which take milliseconds.
		locker, err = lock.NewPostgresSessionLocker(lock.WithLockID(id), lock.WithLockTimeout(1, 300))
		if err != nil {
			return err
		}
		dialect = goose.DialectPostgres
	}
	p, err := goose.NewProvider(dialect, s.db, fsys,
		goose.WithSessionLocker(locker),
		goose.WithDisableGlobalRegistry(true),
		goose.WithLogger(goose.NopLogger()),
	)
	if err != nil {
		return err
	}
	// Checking first, without the lock, keeps the common start (nothing to do) from queueing
	// every replica behind one lock.
	pending, err := p.HasPending(ctx)
	if err != nil {
		return err
	}
	if !pending {
		return nil
	}
	_, err = p.Up(ctx)
	return err
}

// postgresLockID derives the migration lock from the database and schema migrated, so that
// databases or schemas sharing one server (tests, several deployments) never wait on each
// other, while replicas of one deployment always share the lock.
func (s *Store) postgresLockID(ctx context.Context) (int64, error) {
	var database string
	var schema sql.NullString
	err := s.db.QueryRowContext(ctx, `SELECT current_database(), current_schema()`).Scan(&database, &schema)
	if err != nil {
		return 0, fmt.Errorf("find the schema to migrate: %w", err)
	}
	if !schema.Valid {
		return 0, errors.New("find the schema to migrate: no schema in the search_path exists; create it or fix search_path")
	}
	h := fnv.New64a()
	fmt.Fprintf(h, "resetbot migrations %s.%s", database, schema.String)
	return int64(h.Sum64()), nil
}

// sqliteLocker serialises migrations between processes sharing a SQLite file, which has no
// advisory locks: the lock is a row, taken by an upsert that succeeds only when the row is
// absent or its lease ran out. The lease frees the lock if its holder crashed mid-migration.
type sqliteLocker struct {
	owner string
	lease time.Duration
	poll  time.Duration
}

func newSQLiteLocker() *sqliteLocker {
	return &sqliteLocker{owner: rand.Text(), lease: 2 * time.Minute, poll: 50 * time.Millisecond}
}

// SessionLock waits until this process holds the migration lock or ctx ends.
func (l *sqliteLocker) SessionLock(ctx context.Context, conn *sql.Conn) error {
	_, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS resetbot_migration_lock (
		id INTEGER PRIMARY KEY CHECK (id = 1),
		owner TEXT NOT NULL,
		until_unix_ms INTEGER NOT NULL)`)
	if err != nil {
		return fmt.Errorf("create migration lock table: %w", err)
	}
	for {
		now := time.Now()
		res, err := conn.ExecContext(ctx, `INSERT INTO resetbot_migration_lock (id, owner, until_unix_ms)
			VALUES (1, $1, $2)
			ON CONFLICT (id) DO UPDATE SET owner = excluded.owner, until_unix_ms = excluded.until_unix_ms
			WHERE resetbot_migration_lock.until_unix_ms < $3`,
			l.owner, now.Add(l.lease).UnixMilli(), now.UnixMilli())
		if err != nil {
			return fmt.Errorf("take migration lock: %w", err)
		}
		if n, err := res.RowsAffected(); err == nil && n == 1 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("take migration lock: another process is migrating: %w", ctx.Err())
		case <-time.After(l.poll):
		}
	}
}

// SessionUnlock releases the lock if this process still holds it.
func (l *sqliteLocker) SessionUnlock(ctx context.Context, conn *sql.Conn) error {
	if _, err := conn.ExecContext(ctx, `DELETE FROM resetbot_migration_lock WHERE owner = $1`, l.owner); err != nil {
		return fmt.Errorf("release migration lock: %w", err)
	}
	return nil
}
