package slacksessions_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/resetbot/resetbot/internal/fake"
	slackfake "github.com/resetbot/resetbot/internal/fake/slack"
	slacksessions "github.com/resetbot/resetbot/internal/provider/slack"
	"github.com/resetbot/resetbot/internal/reset"
	"github.com/resetbot/resetbot/internal/reset/resettest"
)

const (
	aliceID    = "W0ALICE"
	aliceEmail = "alice@example.com"
	resetOp    = "admin.users.session.reset"
	lookupOp   = "users.lookupByEmail"
)

var (
	alice = reset.Target{OktaID: "00u1alice", Login: aliceEmail, Email: aliceEmail, DisplayName: "Alice Example"}
	bob   = reset.Target{OktaID: "00u1bob", Login: "bob@example.com", Email: "bob@example.com", DisplayName: "Bob Nosl"}
)

// start runs a fake Slack with Alice, in an Enterprise Grid org unless plain, and a provider
// using token (the org admin's when empty).
func start(t *testing.T, plain bool, token func(*slackfake.Server) string) (*slackfake.Server, *slacksessions.Provider) {
	t.Helper()
	var opts []slackfake.Option
	if !plain {
		opts = append(opts, slackfake.WithEnterprise("E0GRID"))
	}
	srv := slackfake.Start(opts...)
	t.Cleanup(srv.Close)
	srv.AddUser(slackfake.User{ID: aliceID, Name: "alice", RealName: "Alice Example", Email: aliceEmail, EnterpriseID: "E0GRID"})
	tok := srv.AdminToken()
	if token != nil {
		tok = token(srv)
	}
	p, err := slacksessions.New(t.Context(), slacksessions.Config{AdminToken: tok, APIURL: srv.APIURL()})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if calls := srv.Calls(); len(calls) != 0 {
		t.Fatalf("New touched the network: %v", calls)
	}
	return srv, p
}

func TestName(t *testing.T) {
	t.Parallel()
	_, p := start(t, false, nil)
	if p.Name() != "slack" {
		t.Errorf("Name = %q, want slack", p.Name())
	}
}

func TestRevokeThroughExecutor(t *testing.T) {
	t.Parallel()
	member := func(s *slackfake.Server) string { return s.UserToken(aliceID) }
	withoutWrite := func(s *slackfake.Server) string {
		return s.UserToken(slackfake.AdminUserID, "users:read", "users:read.email")
	}
	tests := []struct {
		name      string
		plain     bool // a workspace without Enterprise Grid
		token     func(*slackfake.Server) string
		target    reset.Target
		script    func(*slackfake.Server)
		status    reset.Status
		attempts  int
		retryable bool
		detail    []string // each must appear in Outcome.Detail
		minWait   time.Duration
		resetsIn  int // admin.users.session.reset calls that reached the fake
		wiped     int // of which wiped every session of Alice's
	}{
		{name: "revoked", status: reset.Revoked, attempts: 1, resetsIn: 1, wiped: 1},
		{name: "found by the okta login when there is no email", target: reset.Target{Login: aliceEmail},
			status: reset.Revoked, attempts: 1, resetsIn: 1, wiped: 1},
		{name: "no account", target: bob, status: reset.NoAccount, attempts: 1},
		{
			name:   "rate limited with Retry-After, then revoked",
			script: func(s *slackfake.Server) { s.RateLimit(resetOp, 1, 7*time.Second) },
			status: reset.Revoked, attempts: 2, minWait: 7 * time.Second, resetsIn: 2, wiped: 1,
		},
		{
			name:   "lookup rate limited with Retry-After, then revoked",
			script: func(s *slackfake.Server) { s.RateLimit(lookupOp, 1, 3*time.Second) },
			status: reset.Revoked, attempts: 2, minWait: 3 * time.Second, resetsIn: 1, wiped: 1,
		},
		{
			name: "slack's trouble until attempts run out",
			script: func(s *slackfake.Server) {
				s.FailTimes(resetOp, 5, fake.Fault{Status: http.StatusOK, Message: "internal_error"})
			},
			status: reset.Failed, attempts: 3, retryable: true, resetsIn: 3,
			detail: []string{"revoke slack sessions for Alice Example <alice@example.com>: internal_error", "gave up after 3 attempts"},
		},
		{
			name:   "a server error, then revoked",
			script: func(s *slackfake.Server) { s.Fail(resetOp, fake.Fault{Status: http.StatusServiceUnavailable}) },
			status: reset.Revoked, attempts: 2, resetsIn: 2, wiped: 1,
		},
		{
			name: "not an admin's token fails at once, naming what to grant", token: member,
			status: reset.Failed, attempts: 1, resetsIn: 1,
			detail: []string{"revoke slack sessions for Alice Example <alice@example.com>: not_an_admin",
				"org-level user token of an Enterprise Grid Org Admin or Owner", "admin.users:write, users:read and users:read.email"},
		},
		{
			name: "a token without admin.users:write", token: withoutWrite,
			status: reset.Failed, attempts: 1, resetsIn: 1,
			detail: []string{"missing_scope (the token lacks admin.users:write; grant: SLACK_ADMIN_TOKEN must be the org-level user token"},
		},
		{
			name: "a token of the wrong kind",
			script: func(s *slackfake.Server) {
				s.Fail(resetOp, fake.Fault{Status: http.StatusOK, Message: "not_allowed_token_type"})
			},
			status: reset.Failed, attempts: 1, resetsIn: 1,
			detail: []string{"not_allowed_token_type (permission denied; grant: SLACK_ADMIN_TOKEN must be the org-level user token"},
		},
		{
			name: "a lookup slack serves no org-level token",
			script: func(s *slackfake.Server) {
				s.Fail(lookupOp, fake.Fault{Status: http.StatusOK, Message: "enterprise_is_restricted"})
			},
			status: reset.Failed, attempts: 1,
			detail: []string{"revoke slack sessions for Alice Example <alice@example.com>: enterprise_is_restricted (Slack refuses this call with an org-level token"},
		},
		{
			name: "a token Slack does not take", token: func(*slackfake.Server) string { return "xoxp-1-2-3-revoked" },
			status: reset.Failed, attempts: 1,
			detail: []string{"revoke slack sessions for Alice Example <alice@example.com>: invalid_auth", "Slack does not take SLACK_ADMIN_TOKEN"},
		},
		{
			name: "a workspace without Enterprise Grid", plain: true,
			status: reset.Failed, attempts: 1, resetsIn: 1,
			detail: []string{"feature_not_enabled", "only in Enterprise Grid orgs", "leave SLACK_ADMIN_TOKEN unset"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, p := start(t, tt.plain, tt.token)
			if tt.script != nil {
				tt.script(srv)
			}
			target := alice
			if tt.target.Email != "" || tt.target.Login != "" {
				target = tt.target
			}
			o, waits := resettest.Revoke(t, p, target, 3)
			if o.Provider != "slack" || o.Status != tt.status || o.Attempts != tt.attempts || o.Retryable != tt.retryable {
				t.Errorf("outcome = %s %s, attempts %d, retryable %v; want %s, %d, %v (detail %q)",
					o.Provider, o.Status, o.Attempts, o.Retryable, tt.status, tt.attempts, tt.retryable, o.Detail)
			}
			for _, want := range tt.detail {
				if !strings.Contains(o.Detail, want) {
					t.Errorf("detail %q does not mention %q", o.Detail, want)
				}
			}
			if strings.Contains(o.Detail, "xoxp-") || strings.Contains(o.Detail, srv.AdminToken()) {
				t.Errorf("detail %q shows a token", o.Detail)
			}
			if tt.minWait > 0 && (len(waits) == 0 || waits[0] < tt.minWait) {
				t.Errorf("waits = %v, want the first at least %v (Retry-After)", waits, tt.minWait)
			}
			if got := srv.Count(resetOp); got != tt.resetsIn {
				t.Errorf("%s calls = %d, want %d", resetOp, got, tt.resetsIn)
			}
			if got := srv.SessionResets(aliceID); got != tt.wiped {
				t.Errorf("Alice's sessions wiped %d times, want %d", got, tt.wiped)
			}
		})
	}
}

func TestLookup(t *testing.T) {
	t.Parallel()
	srv, p := start(t, false, nil)
	srv.AddUser(slackfake.User{ID: "W0GONE", Name: "gone", Email: "gone@example.com", Deleted: true})
	tests := []struct {
		name      string
		target    reset.Target
		noAccount bool
		detail    string
	}{
		{name: "by email", target: alice},
		{name: "by okta login", target: reset.Target{Login: aliceEmail}},
		{name: "nobody", target: bob, noAccount: true, detail: "look up slack user Bob Nosl <bob@example.com>: users_not_found"},
		{name: "deactivated", target: reset.Target{Email: "gone@example.com"}, noAccount: true, detail: "the slack account W0GONE is deactivated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := p.Lookup(t.Context(), tt.target)
			if errors.Is(err, reset.ErrNoAccount) != tt.noAccount || !tt.noAccount && err != nil {
				t.Fatalf("Lookup = %v, want no account: %v", err, tt.noAccount)
			}
			if tt.noAccount && !strings.Contains(err.Error(), tt.detail) {
				t.Errorf("Lookup = %q, want it to say %q", err, tt.detail)
			}
		})
	}
	if err := p.Lookup(t.Context(), reset.Target{OktaID: "00u1noemail", Login: "noemail"}); err == nil || errors.Is(err, reset.ErrNoAccount) {
		t.Errorf("Lookup of someone with no address = %v, want a permanent error", err)
	}
	if n := srv.Count("admin.users.session.reset"); n != 0 {
		t.Errorf("a lookup wiped sessions: %d resets", n)
	}
}

// TestSlackGoRetriesAreOff: a 429 reaches the executor after one call, not after slack-go
// waited it out on its own.
func TestSlackGoRetriesAreOff(t *testing.T) {
	t.Parallel()
	srv, p := start(t, false, nil)
	srv.RateLimit(lookupOp, 1, 30*time.Second)
	start := time.Now()
	err := p.Lookup(t.Context(), alice)
	var re *reset.Error
	if !errors.As(err, &re) || re.Kind != reset.Retryable || re.Reason != "rate_limited" || re.RetryAfter != 30*time.Second {
		t.Fatalf("Lookup = %v (%+v), want a retryable rate limit asking for 30s", err, re)
	}
	if n, took := srv.Count(lookupOp), time.Since(start); n != 1 || took > 10*time.Second {
		t.Errorf("%d calls in %s, want one, answered at once", n, took)
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		plain bool
		token func(*slackfake.Server) string
		want  []string // empty: Check passes
	}{
		{name: "an org admin's org-level token"},
		{name: "a workspace without Enterprise Grid", plain: true,
			want: []string{"check slack access: SLACK_ADMIN_TOKEN is not an Enterprise Grid token", "leave SLACK_ADMIN_TOKEN unset and slack is skipped"}},
		{name: "a member's token", token: func(s *slackfake.Server) string { return s.UserToken(aliceID) },
			want: []string{"belongs to alice (W0ALICE), who is not an Org Admin or Owner of E0GRID", "not_an_admin"}},
		{name: "a token without admin.users:write", token: func(s *slackfake.Server) string {
			return s.UserToken(slackfake.AdminUserID, "users:read", "users:read.email")
		}, want: []string{"lacks the scopes admin.users:write (it has users:read,users:read.email)", "reinstall the app at the org level"}},
		{name: "a token without users:read.email", token: func(s *slackfake.Server) string {
			return s.UserToken(slackfake.AdminUserID, "admin.users:write", "users:read")
		}, want: []string{"lacks the scopes users:read.email"}},
		{name: "a token Slack does not take", token: func(*slackfake.Server) string { return "xoxp-1-2-3-revoked" },
			want: []string{"check slack access: invalid_auth", "Slack does not take SLACK_ADMIN_TOKEN"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, p := start(t, tt.plain, tt.token)
			err := p.Check(t.Context())
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
			} else if err == nil {
				t.Fatal("Check passed")
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Check = %q, want it to say %q", err, want)
				}
			}
			if n := len(srv.Resets()); n != 0 {
				t.Errorf("Check wiped sessions: %d resets", n)
			}
		})
	}
}

func TestNewNamesWhatIsWrong(t *testing.T) {
	t.Parallel()
	const secret = "xoxb-1234-5678-not-for-your-eyes"
	tests := []struct {
		name string
		cfg  slacksessions.Config
		want string
	}{
		{"no token", slacksessions.Config{}, "SLACK_ADMIN_TOKEN is empty"},
		{"the bot's token", slacksessions.Config{AdminToken: secret}, "SLACK_ADMIN_TOKEN is a bot token (xoxb-…)"},
		{"an app-level token", slacksessions.Config{AdminToken: "xapp-1-A0-not-for-your-eyes"}, "SLACK_ADMIN_TOKEN is an app-level token"},
		{"a base that is no URL", slacksessions.Config{AdminToken: "xoxp-1", APIURL: "slack.com/api"}, `SLACK_API_URL "slack.com/api" is not an http(s) URL`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := slacksessions.New(t.Context(), tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New = %v, want it to say %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "not-for-your-eyes") {
				t.Errorf("New = %q, which shows the token", err)
			}
		})
	}
}

// TestAPIURLWithoutTrailingSlash: SLACK_API_URL given without its trailing slash still
// reaches the methods, for slack-go's calls and this package's own alike.
func TestAPIURLWithoutTrailingSlash(t *testing.T) {
	t.Parallel()
	srv := slackfake.Start(slackfake.WithEnterprise("E0GRID"))
	t.Cleanup(srv.Close)
	srv.AddUser(slackfake.User{ID: aliceID, Name: "alice", Email: aliceEmail})
	p, err := slacksessions.New(t.Context(), slacksessions.Config{AdminToken: srv.AdminToken(), APIURL: strings.TrimSuffix(srv.APIURL(), "/")})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Revoke(t.Context(), alice); err != nil || srv.SessionResets(aliceID) != 1 {
		t.Errorf("Revoke = %v with %d resets, want Alice signed out", err, srv.SessionResets(aliceID))
	}
}
