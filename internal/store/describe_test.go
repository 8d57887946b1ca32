package store

import (
	"context"
	"encoding/base64"
	"errors"
	"net"
	"net/url"
	"strings"
	"testing"
)

// secret is the password every URL of these tests carries, in one place or another.
const secret = "S3cretPw"

// shown returns the form of secret that text shows — as given, percent-encoded or base64 —
// or "" when it shows none.
func shown(text string) string {
	for _, form := range []string{secret, url.QueryEscape(secret), base64.StdEncoding.EncodeToString([]byte(secret))} {
		if strings.Contains(text, form) {
			return form
		}
	}
	return ""
}

func TestDescribeNamesTheDatabaseWithoutItsSecrets(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, url, want string
	}{
		{"a PostgreSQL URL is its host, port, database and user", "postgres://resetbot:" + secret + "@db.internal:5433/resetbot?sslmode=require", "postgres db.internal:5433/resetbot user=resetbot"},
		{"postgresql:// is PostgreSQL too, on the default port", "postgresql://resetbot:" + secret + "@db.internal/resetbot", "postgres db.internal:5432/resetbot user=resetbot"},
		{"a password with an unencoded #, which net/url cannot parse", "postgres://resetbot:Pa#" + secret + "@db.internal/resetbot", "postgres db.internal:5432/resetbot user=resetbot"},
		{"a password in the query", "postgres://resetbot@db.internal/resetbot?sslmode=disable&password=" + secret, "postgres db.internal:5432/resetbot user=resetbot"},
		{"every host of a multi-host URL, once", "postgres://resetbot:" + secret + "@db1.internal,db2.internal:5433/resetbot", "postgres db1.internal:5432,db2.internal:5433/resetbot user=resetbot"},
		{"an IPv6 host", "postgres://resetbot:" + secret + "@[::1]:5432/resetbot", "postgres [::1]:5432/resetbot user=resetbot"},
		{"a Unix socket", "postgres://resetbot:" + secret + "@/resetbot?host=/var/run/postgresql", "postgres /var/run/postgresql:5432/resetbot user=resetbot"},
		{"a URL pgx cannot parse is named by a fixed phrase", "postgres://resetbot:" + secret + "@db.internal:notaport/resetbot", "postgres (URL does not parse)"},
		{"a query parameter without a value", "postgres://resetbot@db.internal/resetbot?" + secret, "postgres (URL does not parse)"},
		{"an unknown sslmode", "postgres://resetbot:" + secret + "@db.internal/resetbot?sslmode=" + secret, "postgres (URL does not parse)"},
		{"a password cut at an unencoded /, which would read as the database", "postgres://resetbot:1234/" + secret + "@db.internal/resetbot", "postgres (URL does not parse)"},
		{"a SQLite path, without its query", "/var/lib/resetbot/resetbot.db?_pragma=busy_timeout(5000)", "sqlite /var/lib/resetbot/resetbot.db"},
		{"a SQLite file: URL, without its query", "file:/var/lib/resetbot/resetbot.db?mode=rwc", "sqlite file:/var/lib/resetbot/resetbot.db"},
		{"a PostgreSQL URL missing its //, which reads as a file", "postgres:resetbot:" + secret + "@db.internal/resetbot", "sqlite (path not shown: it has an @, as a URL with a password does)"},
		{"another scheme is named by the scheme alone", "mysql://resetbot:" + secret + "@db.internal/resetbot", "unsupported database (mysql)"},
		{"no URL", "", "no database"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := Describe(tc.url); got != tc.want {
				t.Errorf("Describe(%q) = %q, want %q", tc.url, got, tc.want)
			}
		})
	}
}

// TestOpenErrorsShowNoPassword: whatever goes wrong opening a database, the error — which
// `resetbot run` prints and logs — never shows the password.
func TestOpenErrorsShowNoPassword(t *testing.T) {
	t.Parallel()
	// A port nothing listens on: connections are refused at once.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := ln.Addr().String()
	ln.Close()
	tests := []struct {
		name, url string
		// badURL says the error is the URL's (ErrBadURL), not a database that does not answer.
		badURL bool
		want   string
	}{
		{"connection refused", "postgres://resetbot:" + secret + "@" + refused + "/resetbot?connect_timeout=2", false, "connection refused"},
		{"connection refused, postgresql://", "postgresql://resetbot:" + secret + "@" + refused + "/resetbot?connect_timeout=2", false, "connection refused"},
		{"connection refused, an unencoded # in the password", "postgres://resetbot:Pa#" + secret + "@" + refused + "/resetbot?connect_timeout=2", false, "connection refused"},
		{"connection refused, the password in the query", "postgres://resetbot@" + refused + "/resetbot?connect_timeout=2&password=" + secret, false, "connection refused"},
		{"a host that does not exist", "postgres://resetbot:" + secret + "@nowhere.invalid/resetbot?connect_timeout=2", false, "nowhere.invalid"},
		{"an unknown sslmode", "postgres://resetbot:" + secret + "@" + refused + "/resetbot?sslmode=" + secret, true, "sslmode is disable, allow"},
		{"a port that is not one", "postgres://resetbot:" + secret + "@db.internal:notaport/resetbot", true, "does not parse"},
		{"a password with a colon, read as the port", "postgres://resetbot@db.internal:" + secret + ":x/resetbot", true, "does not parse"},
		{"a query parameter without a value", "postgres://resetbot@db.internal/resetbot?" + secret, true, "does not parse"},
		{"a password cut at an unencoded /", "postgres://resetbot:1234/" + secret + "@" + refused + "/resetbot", true, "percent-encode / as %2F"},
		{"another scheme", "mysql://resetbot:" + secret + "@db.internal/resetbot", true, `unsupported database URL scheme "mysql"`},
		{"no URL at all", "", true, "no database URL"},
		{"a PostgreSQL URL missing its //, taken for a file", "postgres:resetbot:" + secret + "@db.internal/nowhere/resetbot", false, "path not shown"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, err := Open(context.Background(), tc.url)
			if err == nil {
				s.Close()
				t.Fatalf("Open(%q) succeeded, want an error", tc.url)
			}
			if form := shown(err.Error()); form != "" {
				t.Errorf("Open(%q)'s error shows the password as %q: %v", tc.url, form, err)
			}
			if errors.Is(err, ErrBadURL) != tc.badURL || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Open(%q) = %v; want it to say %q, and ErrBadURL %v", tc.url, err, tc.want, tc.badURL)
			}
		})
	}
}
