package zoom_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/resetbot/resetbot/internal/fake"
	zoomfake "github.com/resetbot/resetbot/internal/fake/zoom"
	"github.com/resetbot/resetbot/internal/provider/edge"
	"github.com/resetbot/resetbot/internal/provider/zoom"
	"github.com/resetbot/resetbot/internal/reset"
	"github.com/resetbot/resetbot/internal/reset/resettest"
)

const aliceEmail = "alice@example.com"

var alice = reset.Target{OktaID: "00u1alice", Login: aliceEmail, Email: aliceEmail, DisplayName: "Alice"}

// config points a provider at srv with the app credentials it accepts.
func config(srv *zoomfake.Server) zoom.Config {
	return zoom.Config{
		AccountID:    srv.AccountID(),
		ClientID:     srv.ClientID(),
		ClientSecret: srv.ClientSecret(),
		APIURL:       srv.APIURL(),
		OAuthURL:     srv.OAuthURL(),
		HTTPClient:   edge.Client(srv.Roots()),
	}
}

// start runs a fake Zoom with alice and a provider for it; edit changes the config first.
func start(t *testing.T, edit ...func(*zoom.Config)) (*zoomfake.Server, *zoom.Provider) {
	t.Helper()
	srv := zoomfake.Start()
	t.Cleanup(srv.Close)
	srv.AddUser(aliceEmail)
	cfg := config(srv)
	for _, e := range edit {
		e(&cfg)
	}
	p, err := zoom.New(t.Context(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return srv, p
}

// revokeThroughExecutor runs one reset of alice the way the bot does, recording the waits
// between attempts instead of sleeping.
func revokeThroughExecutor(t *testing.T, p *zoom.Provider) (reset.Outcome, []time.Duration) {
	t.Helper()
	return resettest.Revoke(t, p, alice, 3)
}

func TestRevokeThroughExecutor(t *testing.T) {
	t.Parallel()
	retryAfter := func(s string) http.Header { return http.Header{"Retry-After": {s}} }
	tests := []struct {
		name      string
		edit      func(*zoom.Config)
		script    func(*zoomfake.Server)
		status    reset.Status
		attempts  int
		retryable bool
		detail    []string // each must appear in Outcome.Detail
		minWait   time.Duration
		revokes   int // DELETE calls that reached the fake
		revoked   int // of which revoked alice's token
	}{
		{name: "revoked, at the configured API URL rather than the token's api_url", status: reset.Revoked, attempts: 1, revokes: 1, revoked: 1},
		{
			name:   "no account",
			script: func(s *zoomfake.Server) { s.Fail("revoke", fake.Fault{Status: http.StatusNotFound}) },
			status: reset.NoAccount, attempts: 1, revokes: 1,
		},
		{
			name:   "rate limited then revoked after the asked wait",
			script: func(s *zoomfake.Server) { s.Fail("revoke", fake.Fault{Status: 429, Header: retryAfter("7")}) },
			status: reset.Revoked, attempts: 2, minWait: 7 * time.Second, revokes: 2, revoked: 1,
		},
		{
			name: "daily limit then revoked at the time Zoom names",
			script: func(s *zoomfake.Server) {
				at := time.Now().Add(20 * time.Second).UTC().Format(time.RFC3339)
				s.Fail("revoke", fake.Fault{Status: 429, Header: http.Header{"Retry-After": {at}, "X-RateLimit-Type": {"Daily-limit"}}})
			},
			status: reset.Revoked, attempts: 2, minWait: 10 * time.Second, revokes: 2, revoked: 1,
		},
		{
			name:   "server errors until attempts run out",
			script: func(s *zoomfake.Server) { s.FailTimes("revoke", 5, fake.Fault{Status: 502}) },
			status: reset.Failed, attempts: 3, retryable: true, revokes: 3,
			detail: []string{"revoke zoom sessions for alice@example.com: Internal Server Error", "gave up after 3 attempts"},
		},
		{
			name:   "access token rejected",
			script: func(s *zoomfake.Server) { s.Fail("revoke", fake.Fault{Status: 401}) },
			status: reset.Failed, attempts: 1, revokes: 1,
			detail: []string{"revoke zoom sessions for alice@example.com: Invalid access token.", "user:write:admin"},
		},
		{
			name:   "scope missing",
			script: func(s *zoomfake.Server) { s.Fail("revoke", fake.Fault{Status: 403}) },
			status: reset.Failed, attempts: 1, revokes: 1,
			detail: []string{"does not contain scopes:[user:write:admin]", "grant the scope user:write:admin"},
		},
		{
			name:   "wrong client secret",
			edit:   func(c *zoom.Config) { c.ClientSecret = "not-the-secret" },
			status: reset.Failed, attempts: 1,
			detail: []string{"zoom refused an access token (invalid_client: Invalid client_id or client_secret)", "ZOOM_CLIENT_SECRET"},
		},
		{
			name:   "wrong account id",
			edit:   func(c *zoom.Config) { c.AccountID = "someone-else" },
			status: reset.Failed, attempts: 1,
			detail: []string{"invalid_request: Invalid account_id", "ZOOM_ACCOUNT_ID"},
		},
		{
			name:   "token endpoint rate limited then revoked",
			script: func(s *zoomfake.Server) { s.Fail("token", fake.Fault{Status: 429, Header: retryAfter("3")}) },
			status: reset.Revoked, attempts: 2, minWait: 3 * time.Second, revokes: 1, revoked: 1,
		},
		{
			name:   "token endpoint down",
			script: func(s *zoomfake.Server) { s.FailTimes("token", 5, fake.Fault{Status: 503}) },
			status: reset.Failed, attempts: 3, retryable: true,
			detail: []string{"zoom refused an access token (server_error: Internal Server Error)"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var edits []func(*zoom.Config)
			if tt.edit != nil {
				edits = append(edits, tt.edit)
			}
			srv, p := start(t, edits...)
			if tt.script != nil {
				tt.script(srv)
			}
			o, waits := revokeThroughExecutor(t, p)
			if o.Status != tt.status || o.Attempts != tt.attempts || o.Retryable != tt.retryable {
				t.Errorf("outcome = %s, attempts %d, retryable %v; want %s, %d, %v (detail %q)",
					o.Status, o.Attempts, o.Retryable, tt.status, tt.attempts, tt.retryable, o.Detail)
			}
			for _, want := range tt.detail {
				if !strings.Contains(o.Detail, want) {
					t.Errorf("detail %q does not mention %q", o.Detail, want)
				}
			}
			if strings.Contains(o.Detail, srv.ClientSecret()) || strings.Contains(o.Detail, "fake-") {
				t.Errorf("detail %q shows a secret", o.Detail)
			}
			if tt.minWait > 0 && (len(waits) == 0 || waits[0] < tt.minWait) {
				t.Errorf("waits = %v, want the first at least %v (Retry-After)", waits, tt.minWait)
			}
			if got := srv.Count("revoke"); got != tt.revokes {
				t.Errorf("revoke calls = %d, want %d", got, tt.revokes)
			}
			if got := srv.Revocations(aliceEmail); got != tt.revoked {
				t.Errorf("alice's token revoked %d times, want %d", got, tt.revoked)
			}
		})
	}
}

func TestRevokeEscapesTheEmail(t *testing.T) {
	t.Parallel()
	srv, p := start(t)
	odd := "pat#1?x/y+z@example.com"
	srv.AddUser(odd)
	if err := p.Revoke(t.Context(), reset.Target{Email: odd}); err != nil {
		t.Fatalf("Revoke(%s): %v", odd, err)
	}
	if n := srv.Revocations(odd); n != 1 {
		t.Errorf("revocations of %s = %d, want 1", odd, n)
	}
	calls := srv.Calls()
	last := calls[len(calls)-1]
	if last.Method != http.MethodDelete || last.Path != "/v2/users/"+odd+"/token" {
		t.Errorf("last call = %s %s, want DELETE /v2/users/%s/token", last.Method, last.Path, odd)
	}
}

func TestNoAccount(t *testing.T) {
	t.Parallel()
	srv, p := start(t)
	bob := reset.Target{Login: "bob@example.com", Email: "bob@example.com"}

	err := p.Lookup(t.Context(), bob)
	if !errors.Is(err, reset.ErrNoAccount) {
		t.Errorf("Lookup = %v, want ErrNoAccount", err)
	}
	if want := "look up zoom account bob@example.com: User does not exist: bob@example.com"; err == nil || err.Error() != want {
		t.Errorf("Lookup error = %q, want %q", err, want)
	}
	err = p.Revoke(t.Context(), bob)
	if kind, _, _ := reset.Classify(err); kind != reset.NotFound {
		t.Errorf("Revoke = %v (kind %s), want a not-found error", err, kind)
	}
	if want := "revoke zoom sessions for bob@example.com: User does not exist: bob@example.com"; err == nil || err.Error() != want {
		t.Errorf("Revoke error = %q, want %q", err, want)
	}
	if srv.Count("lookup") != 1 || srv.Count("revoke") != 1 {
		t.Errorf("calls = %+v, want one lookup and one revoke", srv.Calls())
	}
}

// Zoom's "User does not exist" code means no account whatever status carries it.
func TestCodeUserNotFoundIsNoAccountWithAnyStatus(t *testing.T) {
	t.Parallel()
	tokens := zoomfake.Start()
	t.Cleanup(tokens.Close)
	api := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"code":1001,"message":"User does not exist: bob@example.com."}`))
	}))
	t.Cleanup(api.Close)
	cfg := config(tokens)
	cfg.APIURL = api.URL + "/v2"
	p, err := zoom.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Lookup(t.Context(), reset.Target{Email: "bob@example.com"}); !errors.Is(err, reset.ErrNoAccount) {
		t.Errorf("Lookup = %v, want ErrNoAccount", err)
	}
}

func TestLookupFindsAccount(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		target reset.Target
	}{
		{"by email", alice},
		{"by login when there is no email", reset.Target{Login: aliceEmail}},
		{"email in another case", reset.Target{Email: "Alice@Example.com"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, p := start(t)
			if err := p.Lookup(t.Context(), tt.target); err != nil {
				t.Errorf("Lookup(%v) = %v, want account found", tt.target, err)
			}
			if n := srv.Count("lookup"); n != 1 {
				t.Errorf("lookups = %d, want 1", n)
			}
		})
	}
}

func TestTokenIsFetchedOnceForManyCalls(t *testing.T) {
	t.Parallel()
	srv, p := start(t)
	users := []string{"a@example.com", "b@example.com", "c@example.com"}
	for _, u := range users {
		srv.AddUser(u)
	}
	var wg sync.WaitGroup
	for _, u := range users {
		wg.Go(func() {
			if err := p.Revoke(t.Context(), reset.Target{Email: u}); err != nil {
				t.Errorf("Revoke(%s): %v", u, err)
			}
		})
	}
	wg.Wait()
	if err := p.Lookup(t.Context(), alice); err != nil {
		t.Errorf("Lookup: %v", err)
	}
	if n := srv.Count("token"); n != 1 {
		t.Errorf("token fetches = %d, want 1 for %d calls", n, len(users)+1)
	}
	for _, u := range users {
		if n := srv.Revocations(u); n != 1 {
			t.Errorf("revocations of %s = %d, want 1", u, n)
		}
	}
}

func TestRejectedTokenIsReplacedOnTheNextCall(t *testing.T) {
	t.Parallel()
	srv, p := start(t)
	srv.Fail("revoke", fake.Fault{Status: 401})
	if err := p.Revoke(t.Context(), alice); err == nil {
		t.Fatal("Revoke with a rejected token succeeded")
	}
	if err := p.Revoke(t.Context(), alice); err != nil {
		t.Fatalf("second Revoke: %v", err)
	}
	if n := srv.Count("token"); n != 2 {
		t.Errorf("token fetches = %d, want 2 (the rejected token is not reused)", n)
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		edit   func(*zoom.Config)
		script func(*zoomfake.Server)
		want   []string // empty: Check succeeds
	}{
		{name: "token and read allowed"},
		{
			name: "wrong client id",
			edit: func(c *zoom.Config) { c.ClientID = "someone-else" },
			want: []string{"check zoom access: zoom refused an access token (invalid_client: Invalid client_id or client_secret)", "ZOOM_CLIENT_ID"},
		},
		{
			name:   "read scope missing",
			script: func(s *zoomfake.Server) { s.Fail("list", fake.Fault{Status: 403}) },
			want:   []string{"does not contain scopes:[user:read:admin]", "grant the scope user:read:admin"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var edits []func(*zoom.Config)
			if tt.edit != nil {
				edits = append(edits, tt.edit)
			}
			srv, p := start(t, edits...)
			if tt.script != nil {
				tt.script(srv)
			}
			err := p.Check(t.Context())
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				if srv.Count("token") != 1 || srv.Count("list") != 1 {
					t.Errorf("calls = %+v, want one token and one list", srv.Calls())
				}
				return
			}
			if err == nil {
				t.Fatal("Check succeeded, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Check error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestCheckWarmsTheTokenCache(t *testing.T) {
	t.Parallel()
	srv, p := start(t)
	if err := p.Check(t.Context()); err != nil {
		t.Fatalf("Check: %v", err)
	}
	if err := p.Revoke(t.Context(), alice); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	if n := srv.Count("token"); n != 1 {
		t.Errorf("token fetches = %d, want 1 (fetched by Check, reused by Revoke)", n)
	}
}

func TestHangingTokenEndpointEndsWithTheDeadline(t *testing.T) {
	t.Parallel()
	srv, p := start(t)
	srv.SetLatency("token", 30*time.Second)
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	err := p.Revoke(ctx, alice)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Revoke = %v, want it cut by the deadline", err)
	}
	if kind, _, _ := reset.Classify(err); kind != reset.Retryable {
		t.Errorf("kind = %s, want retryable", kind)
	}
	if n := srv.Count("revoke"); n != 0 {
		t.Errorf("revokes = %d, want 0 without a token", n)
	}
}

func TestNewRejectsBadConfigWithoutNetwork(t *testing.T) {
	t.Parallel()
	srv := zoomfake.Start()
	t.Cleanup(srv.Close)
	tests := []struct {
		name string
		edit func(*zoom.Config)
		want string
	}{
		{"no account id", func(c *zoom.Config) { c.AccountID = "" }, "ZOOM_ACCOUNT_ID"},
		{"no client id", func(c *zoom.Config) { c.ClientID = " " }, "ZOOM_CLIENT_ID"},
		{"no client secret", func(c *zoom.Config) { c.ClientSecret = "" }, "ZOOM_CLIENT_SECRET"},
		{"bad API URL", func(c *zoom.Config) { c.APIURL = "api.zoom.us/v2" }, "ZOOM_API_URL"},
		{"bad OAuth URL", func(c *zoom.Config) { c.OAuthURL = "ftp://zoom.us/oauth/token" }, "ZOOM_OAUTH_URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := config(srv)
			tt.edit(&cfg)
			_, err := zoom.New(t.Context(), cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New = %v, want an error naming %s", err, tt.want)
			}
			if strings.Contains(err.Error(), srv.ClientSecret()) {
				t.Errorf("error %q shows the client secret", err)
			}
		})
	}
	if _, err := zoom.New(t.Context(), config(srv)); err != nil {
		t.Errorf("New with a good config: %v", err)
	}
	if calls := srv.Calls(); len(calls) != 0 {
		t.Errorf("New reached the network: %+v", calls)
	}
}
