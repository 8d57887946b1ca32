// Package store keeps resetbot's requests and its append-only audit log, in SQLite (the
// embedded default) or in PostgreSQL (shared by replicas). Both backends run the same SQL
// through database/sql; what differs — how to connect, how times are written, how migrations
// are locked — is kept in one place per backend.
//
// Every contested change is a single conditional UPDATE (a compare-and-swap on the state or
// lease columns), so duplicates are harmless: of any number of concurrent callers, on any
// connection or process, exactly one changes a row and the others see that they did not.
// Leases are measured on the database's clock (Clock), so replicas whose clocks disagree still
// agree on whose lease has lapsed; everything else takes now from the caller, so tests control
// expiry.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"modernc.org/sqlite" // also registers the "sqlite" database/sql driver
)

// Errors callers branch on; test them with errors.Is.
var (
	// ErrNotFound is returned when no request has the given id.
	ErrNotFound = errors.New("request not found")
	// ErrConflict is returned when the request is not in the state a change needs, e.g.
	// approving a request that is no longer pending. The request as it now stands is returned
	// alongside, so the caller can say who got there first.
	ErrConflict = errors.New("request is not in the state the change needs")
	// ErrExpired is the conflict of acting on a pending request after its expiry; an error that
	// is ErrExpired is also ErrConflict.
	ErrExpired = errors.New("request expired")
	// ErrLeaseLost is returned to a replica renewing or finishing a request that it no longer
	// runs: another replica took it over, or it already ended.
	ErrLeaseLost = errors.New("lease on request lost")
	// ErrBadURL is matched by errors.Is when the database URL itself is wrong (empty, an
	// unknown scheme, a PostgreSQL URL that does not parse): the operator's to fix, as opposed
	// to a database that does not answer.
	ErrBadURL = errors.New("bad database URL")
	// ErrDuplicate is returned by Create when the request's id or event source is already
	// stored: a re-delivered event must not start a second reset.
	ErrDuplicate = errors.New("request already stored")
)

// Backend names, as Backend reports them.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// Store is the requests and audit log of one resetbot database. It is safe for concurrent use,
// and any number of Stores (in any number of processes) may share one database.
type Store struct {
	db      *sql.DB
	backend string
	// closePool releases what the backend holds besides db (the pgx pool).
	closePool func()
}

// Open connects to the database named by databaseURL and brings its schema up to date. A file path or
// file: URL selects SQLite (the file is created if missing); a postgres:// or postgresql://
// URL selects PostgreSQL, whose objects live in the first schema of its search_path. Replicas
// may Open the same database at once: migrations are applied by one of them under a lock.
func Open(ctx context.Context, databaseURL string) (*Store, error) {
	var (
		s   *Store
		err error
	)
	switch backendOf(databaseURL) {
	case Postgres:
		s, err = openPostgres(ctx, databaseURL)
	case SQLite:
		s, err = openSQLite(ctx, databaseURL)
	case "":
		return nil, fmt.Errorf("open store: no database URL or file path given: %w", ErrBadURL)
	default:
		// Never echo the URL: it may carry a password.
		return nil, fmt.Errorf("open store: unsupported database URL scheme %q: use a file path, a file: URL or postgres:// (%w)", scheme(databaseURL), ErrBadURL)
	}
	if err != nil {
		return nil, err
	}
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("migrate %s database: %w", s.backend, err)
	}
	return s, nil
}

// Close releases the store's connections.
func (s *Store) Close() error {
	err := s.db.Close()
	if s.closePool != nil {
		s.closePool()
	}
	return err
}

// Ping checks that the database answers, for readiness probes.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("ping %s database: %w", s.backend, err)
	}
	return nil
}

// Backend reports which database the store uses: "sqlite" or "postgres".
func (s *Store) Backend() string { return s.backend }

// backendOf says which backend databaseURL selects: SQLite or Postgres, "" for an empty URL,
// and "unsupported" for a URL of any other scheme.
func backendOf(databaseURL string) string {
	switch {
	case databaseURL == "":
		return ""
	case strings.HasPrefix(databaseURL, "postgres://") || strings.HasPrefix(databaseURL, "postgresql://"):
		return Postgres
	case hasScheme(databaseURL) && !strings.HasPrefix(databaseURL, "file:"):
		return "unsupported"
	default:
		return SQLite
	}
}

var schemeRE = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.-]*://`)

func hasScheme(u string) bool { return schemeRE.MatchString(u) }

func scheme(u string) string { return strings.SplitN(u, ":", 2)[0] }

// sqlitePragmas are set on every SQLite connection. busy_timeout makes a writer wait for the
// lock (held by another connection or process) instead of failing; _txlock=immediate takes
// the write lock when a transaction begins, so a transaction never fails halfway on a snapshot
// that another writer moved.
const sqlitePragmas = "_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_txlock=immediate"

// sqliteMaxConns bounds one process's connections to the file: SQLite has one writer at a
// time, so more connections only add waiting.
const sqliteMaxConns = 4

func openSQLite(ctx context.Context, path string) (*Store, error) {
	dsn := path + "?" + sqlitePragmas
	if before, query, ok := strings.Cut(path, "?"); ok {
		// The caller's own parameters come after ours, so theirs win.
		dsn = before + "?" + sqlitePragmas + "&" + query
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", Describe(path), err)
	}
	db.SetMaxOpenConns(sqliteMaxConns)
	db.SetMaxIdleConns(sqliteMaxConns)
	if err := useWAL(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", Describe(path), err)
	}
	return &Store{db: db, backend: SQLite}, nil
}

// useWAL puts the file in write-ahead-log mode, so readers run beside the one writer. The mode
// is kept in the file, so every later connection (of any process) uses it. SQLite refuses a
// mode change that races another connection with SQLITE_BUSY at once, without waiting out the
// busy timeout — which is what replicas opening a new file together do — so it is retried.
func useWAL(ctx context.Context, db *sql.DB) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		var mode string
		err := db.QueryRowContext(ctx, "PRAGMA journal_mode = WAL").Scan(&mode)
		switch {
		case err == nil && strings.EqualFold(mode, "wal"):
			return nil
		case err == nil:
			return fmt.Errorf("switch to write-ahead logging: the database stays in journal mode %q", mode)
		case !isBusy(err):
			return fmt.Errorf("switch to write-ahead logging: %w", err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("switch to write-ahead logging: %w", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// isBusy reports whether SQLite refused err's statement because another connection held a lock.
func isBusy(err error) bool {
	var se *sqlite.Error
	const sqliteBusy = 5 // SQLITE_BUSY, extended codes keep it in the low byte
	return errors.As(err, &se) && se.Code()&0xff == sqliteBusy
}

// postgresMaxConns is the pool size unless the URL sets pool_max_conns: enough for a bot's
// concurrent clicks and a running reset, small enough for several replicas under PostgreSQL's
// default of 100 connections.
const postgresMaxConns = 10

func openPostgres(ctx context.Context, raw string) (*Store, error) {
	cfg, err := parsePostgres(raw)
	if err != nil {
		return nil, fmt.Errorf("open postgres database: %w", err)
	}
	if u, err := url.Parse(raw); err == nil && !u.Query().Has("pool_max_conns") {
		cfg.MaxConns = postgresMaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres database: %w", err)
	}
	return &Store{db: stdlib.OpenDBFromPool(pool), backend: Postgres, closePool: pool.Close}, nil
}

// parsePostgres parses a PostgreSQL URL as pgx does, refusing what pgx accepts only by
// misreading it. Its errors hold no part of raw: pgx's own quote the URL with what pgx
// recognises as a password masked, which it calls best effort, and a malformed URL is where
// it can miss one.
func parsePostgres(raw string) (*pgxpool.Config, error) {
	cfg, err := pgxpool.ParseConfig(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: it does not parse (pgx's reason is not shown, as it may quote the password); "+
			"percent-encode any of # ? / @ : %% in the password, and check the port and the parameters (sslmode is disable, allow, prefer, require, verify-ca or verify-full)", ErrBadURL)
	}
	if strings.Contains(cfg.ConnConfig.Database, "@") {
		// postgres://u:1234/abcd@host/db reads as host u, port 1234 and database abcd@host/db:
		// the rest of the password would be shown as the database's name.
		return nil, fmt.Errorf("%w: the database name it gives has an @ in it, which is what a password with an unencoded / turns into: percent-encode / as %%2F", ErrBadURL)
	}
	return cfg, nil
}

// sqliteTime is the one layout SQLite stores times in: UTC, fixed width, microseconds, so that
// string order is time order.
const sqliteTime = "2006-01-02T15:04:05.000000Z"

// precision is what both backends keep of a time (PostgreSQL's timestamptz has microseconds).
const precision = time.Microsecond

// at encodes t for the backend; the zero time is stored as NULL.
func (s *Store) at(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	t = t.UTC().Truncate(precision)
	if s.backend == SQLite {
		return t.Format(sqliteTime)
	}
	return t
}

// stamp scans a stored time from either backend into t, in UTC; NULL becomes the zero time.
type stamp struct{ t *time.Time }

func (s stamp) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*s.t = time.Time{}
	case time.Time:
		*s.t = v.UTC()
	case string:
		return s.parse(v)
	case []byte:
		return s.parse(string(v))
	default:
		return fmt.Errorf("stored time has unexpected type %T", src)
	}
	return nil
}

func (s stamp) parse(v string) error {
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return fmt.Errorf("parse stored time %q: %w", v, err)
	}
	*s.t = t.UTC()
	return nil
}
