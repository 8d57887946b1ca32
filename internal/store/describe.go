package store

import (
	"net"
	"slices"
	"strconv"
	"strings"
)

// Describe names the database databaseURL selects, for logs and messages, with no secret in
// it. A PostgreSQL URL is described from the driver's own parse — its hosts and ports, the
// database and the user — and never from the string: net/url, and any redaction built on it,
// gives up on a password that was not percent-encoded (postgres://u:Pa#ss@db), which pgx
// accepts, and a password may sit in the query (?password=…) as well. So nothing of the
// query is shown, and a URL pgx cannot parse is named by a fixed phrase with no part of it.
// A SQLite file holds no credentials: its path is shown, without its query.
func Describe(databaseURL string) string {
	switch backendOf(databaseURL) {
	case Postgres:
		return describePostgres(databaseURL)
	case SQLite:
		return describeSQLite(databaseURL)
	case "":
		return "no database"
	default:
		return "unsupported database (" + scheme(databaseURL) + ")"
	}
}

// describePostgres is "postgres host:port,…/database user=name", every host pgx would try
// listed once (pgx lists a host twice when sslmode lets it retry without TLS).
func describePostgres(raw string) string {
	pool, err := parsePostgres(raw)
	if err != nil {
		return "postgres (URL does not parse)"
	}
	cfg := pool.ConnConfig.Config
	hosts := []string{net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port)))}
	for _, f := range cfg.Fallbacks {
		if h := net.JoinHostPort(f.Host, strconv.Itoa(int(f.Port))); !slices.Contains(hosts, h) {
			hosts = append(hosts, h)
		}
	}
	return "postgres " + strings.Join(hosts, ",") + "/" + cfg.Database + " user=" + cfg.User
}

// describeSQLite is "sqlite path". A path with an @ in it is withheld: it is more likely a
// mistyped PostgreSQL URL (postgres:/user:password@host, without the //), which Open takes
// for a file name, than a file.
func describeSQLite(path string) string {
	path, _, _ = strings.Cut(path, "?")
	if strings.Contains(path, "@") {
		return "sqlite (path not shown: it has an @, as a URL with a password does)"
	}
	return "sqlite " + path
}
