package google_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/resetbot/resetbot/internal/fake"
	googlefake "github.com/resetbot/resetbot/internal/fake/google"
	"github.com/resetbot/resetbot/internal/provider/edge"
	"github.com/resetbot/resetbot/internal/provider/google"
	"github.com/resetbot/resetbot/internal/reset"
	"github.com/resetbot/resetbot/internal/reset/resettest"
)

const (
	adminEmail = "admin@example.com"
	aliceEmail = "alice@example.com"
	scope      = "https://www.googleapis.com/auth/admin.directory.user.security"
)

var alice = reset.Target{OktaID: "00u1alice", Login: aliceEmail, Email: aliceEmail, DisplayName: "Alice"}

// start runs a fake Google with an admin to impersonate and alice, and a provider acting as
// subject (the admin unless given).
func start(t *testing.T, subject ...string) (*googlefake.Server, *google.Provider) {
	t.Helper()
	srv := googlefake.Start()
	t.Cleanup(srv.Close)
	srv.AddAdmin(adminEmail)
	srv.AddUser(aliceEmail, "alice.alias@example.com")
	sub := adminEmail
	if len(subject) > 0 {
		sub = subject[0]
	}
	p, err := google.New(t.Context(), google.Config{
		CredentialsJSON: srv.CredentialsJSON(),
		Subject:         sub,
		APIURL:          srv.APIURL(),
		HTTPClient:      edge.Client(srv.Roots()),
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return srv, p
}

// revokeThroughExecutor runs one reset of alice the way the bot does, recording the waits
// between attempts instead of sleeping.
func revokeThroughExecutor(t *testing.T, p *google.Provider) (reset.Outcome, []time.Duration) {
	t.Helper()
	return resettest.Revoke(t, p, alice, 3)
}

func TestRevokeThroughExecutor(t *testing.T) {
	t.Parallel()
	retryAfter := func(s string) http.Header { return http.Header{"Retry-After": {s}} }
	tests := []struct {
		name      string
		script    func(*googlefake.Server)
		status    reset.Status
		attempts  int
		retryable bool
		detail    []string // each must appear in Outcome.Detail
		minWait   time.Duration
		revokes   int // signOut calls that reached the fake
		signedOut int // of which succeeded
	}{
		{name: "revoked", status: reset.Revoked, attempts: 1, revokes: 1, signedOut: 1},
		{
			name:   "no account",
			script: func(s *googlefake.Server) { s.Fail("revoke", fake.Fault{Status: http.StatusNotFound}) },
			status: reset.NoAccount, attempts: 1, revokes: 1,
		},
		{
			name:   "rate limited then revoked after the asked wait",
			script: func(s *googlefake.Server) { s.Fail("revoke", fake.Fault{Status: 429, Header: retryAfter("7")}) },
			status: reset.Revoked, attempts: 2, minWait: 7 * time.Second, revokes: 2, signedOut: 1,
		},
		{
			name:   "server errors until attempts run out",
			script: func(s *googlefake.Server) { s.FailTimes("revoke", 5, fake.Fault{Status: 503}) },
			status: reset.Failed, attempts: 3, retryable: true, revokes: 3,
			detail: []string{"revoke google sessions for alice@example.com: The service is currently unavailable.", "gave up after 3 attempts"},
		},
		{
			name:   "credentials rejected",
			script: func(s *googlefake.Server) { s.Fail("revoke", fake.Fault{Status: 401}) },
			status: reset.Failed, attempts: 1, revokes: 1,
			detail: []string{"revoke google sessions for alice@example.com: Invalid Credentials", scope, "domain-wide delegation"},
		},
		{
			name:   "permission denied",
			script: func(s *googlefake.Server) { s.Fail("revoke", fake.Fault{Status: 403}) },
			status: reset.Failed, attempts: 1, revokes: 1,
			detail: []string{"Not Authorized to access this resource/api", scope, "domain-wide delegation"},
		},
		{
			name:   "scope not delegated: token refused",
			script: func(s *googlefake.Server) { s.Delegate(googlefake.ScopeUserReadonly) },
			status: reset.Failed, attempts: 1,
			detail: []string{"unauthorized_client", "Client is unauthorized", "domain-wide delegation for client id", scope},
		},
		{
			name:   "token endpoint rate limited then revoked",
			script: func(s *googlefake.Server) { s.Fail("token", fake.Fault{Status: 429, Header: retryAfter("3")}) },
			status: reset.Revoked, attempts: 2, minWait: 3 * time.Second, revokes: 1, signedOut: 1,
		},
		{
			name:   "token endpoint down",
			script: func(s *googlefake.Server) { s.FailTimes("token", 5, fake.Fault{Status: 503}) },
			status: reset.Failed, attempts: 3, retryable: true,
			detail: []string{"google refused an access token (internal_failure: Backend Error)"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, p := start(t)
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
			assertNoSecrets(t, o.Detail)
			if tt.minWait > 0 && (len(waits) == 0 || waits[0] < tt.minWait) {
				t.Errorf("waits = %v, want the first at least %v (Retry-After)", waits, tt.minWait)
			}
			if got := srv.Count("revoke"); got != tt.revokes {
				t.Errorf("signOut calls = %d, want %d", got, tt.revokes)
			}
			if got := srv.SignOuts(aliceEmail); got != tt.signedOut {
				t.Errorf("alice signed out %d times, want %d", got, tt.signedOut)
			}
		})
	}
}

func TestRevokeSignsOutByPrimaryEmail(t *testing.T) {
	t.Parallel()
	srv, p := start(t)
	if err := p.Revoke(t.Context(), alice); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	var got []fake.Call
	for _, c := range srv.Calls() {
		if c.Op == "revoke" {
			got = append(got, c)
		}
	}
	if len(got) != 1 || got[0].Method != http.MethodPost || got[0].Path != "/admin/directory/v1/users/alice@example.com/signOut" {
		t.Errorf("revoke calls = %+v, want one POST /admin/directory/v1/users/alice@example.com/signOut", got)
	}
	if n := srv.SignOuts(aliceEmail); n != 1 {
		t.Errorf("alice signed out %d times, want 1", n)
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
	if want := "look up google account bob@example.com: Resource Not Found: userKey"; err == nil || err.Error() != want {
		t.Errorf("Lookup error = %q, want %q", err, want)
	}

	err = p.Revoke(t.Context(), bob)
	if kind, _, _ := reset.Classify(err); kind != reset.NotFound {
		t.Errorf("Revoke = %v (kind %s), want a not-found error", err, kind)
	}
	if want := "revoke google sessions for bob@example.com: Resource Not Found: userKey"; err == nil || err.Error() != want {
		t.Errorf("Revoke error = %q, want %q", err, want)
	}
	if srv.Count("lookup") != 1 || srv.Count("revoke") != 1 {
		t.Errorf("calls = %+v, want one lookup and one revoke", srv.Calls())
	}
}

func TestLookupFindsAccount(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		target reset.Target
	}{
		{"by primary email", alice},
		{"by alias", reset.Target{Email: "alice.alias@example.com"}},
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

// A person whose Okta login Google does not know is asked for under their other names; found
// by an alias, the plan names the account it belongs to; found under none, it lists the names
// tried.
func TestPlanAsksUnderEachNameAndNamesTheAccount(t *testing.T) {
	t.Parallel()
	srv, p := start(t)
	ex := reset.NewExecutor([]reset.Provider{p})
	renamed := reset.Target{OktaID: "00ualice", Login: "alice@new.example", Email: "alice@new.example", SecondEmail: "alice.alias@example.com"}
	got := ex.Plan(t.Context(), renamed)
	if len(got) != 1 || got[0].Account != reset.AccountFound || got[0].As != aliceEmail {
		t.Fatalf("plan = %+v, want the account found as %s", got, aliceEmail)
	}
	if n := srv.Count("lookup"); n != 2 {
		t.Errorf("lookups = %d, want 2 (the login, then the second email)", n)
	}
	o := ex.RunAll(t.Context(), renamed, nil)
	if len(o) != 1 || o[0].Status != reset.Revoked || srv.SignOuts(aliceEmail) != 1 {
		t.Errorf("run = %+v, sign-outs of %s = %d; want revoked once", o, aliceEmail, srv.SignOuts(aliceEmail))
	}

	nobody := reset.Target{Login: "carol@example.com", Email: "c.hale@example.com"}
	got = ex.Plan(t.Context(), nobody)
	if len(got) != 1 || got[0].Account != reset.AccountNone || !slices.Equal(got[0].Tried, []string{"carol@example.com", "c.hale@example.com"}) {
		t.Errorf("plan = %+v, want no account listing both names tried", got)
	}
}

func TestTargetWithoutEmailOrLoginFailsWithoutCalls(t *testing.T) {
	t.Parallel()
	srv, p := start(t)
	err := p.Revoke(t.Context(), reset.Target{OktaID: "00u9"})
	if kind, _, _ := reset.Classify(err); err == nil || kind != reset.Permanent {
		t.Errorf("Revoke = %v (kind %s), want a permanent error", err, kind)
	}
	if calls := srv.Calls(); len(calls) != 0 {
		t.Errorf("calls = %+v, want none", calls)
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
	if n := srv.Count("revoke"); n != len(users) {
		t.Errorf("revokes = %d, want %d", n, len(users))
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
		name    string
		subject string
		script  func(*googlefake.Server)
		want    []string // empty: Check succeeds
	}{
		{name: "token and read allowed", subject: adminEmail},
		{
			name: "subject is not an admin", subject: aliceEmail,
			want: []string{"check google access as alice@example.com: Not Authorized to access this resource/api", scope},
		},
		{
			name: "subject does not exist", subject: "nobody@example.com",
			want: []string{"invalid_grant: Invalid email or User ID", "GOOGLE_ADMIN_SUBJECT", scope},
		},
		{
			name: "scopes not delegated", subject: adminEmail,
			script: func(s *googlefake.Server) { s.Delegate() },
			want:   []string{"unauthorized_client", "domain-wide delegation for client id", scope},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, p := start(t, tt.subject)
			if tt.script != nil {
				tt.script(srv)
			}
			err := p.Check(t.Context())
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Check: %v", err)
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
			if !strings.Contains(err.Error(), "client id "+srv.ClientID()) {
				t.Errorf("Check error %q does not name the client id %s to delegate to", err, srv.ClientID())
			}
			assertNoSecrets(t, err.Error())
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
	if n := srv.Count("lookup"); n != 1 {
		t.Errorf("reads by Check = %d, want 1", n)
	}
}

func TestNewRejectsBadConfigWithoutNetwork(t *testing.T) {
	t.Parallel()
	srv := googlefake.Start()
	t.Cleanup(srv.Close)
	key := srv.CredentialsJSON()
	tests := []struct {
		name string
		cfg  google.Config
		want string
	}{
		{"no key", google.Config{Subject: adminEmail}, "GOOGLE_APPLICATION_CREDENTIALS"},
		{"not JSON", google.Config{CredentialsJSON: []byte("-----BEGIN PRIVATE KEY-----\nMIIE"), Subject: adminEmail}, "not a JSON key file"},
		{"user credentials", google.Config{CredentialsJSON: []byte(`{"type":"authorized_user","client_secret":"s3cret"}`), Subject: adminEmail}, `"authorized_user"`},
		{"broken private key", google.Config{CredentialsJSON: []byte(strings.Replace(string(key), "BEGIN PRIVATE KEY-----\\n", "BEGIN PRIVATE KEY-----\\nAAAA", 1)), Subject: adminEmail}, "private_key"},
		{"no subject", google.Config{CredentialsJSON: key}, "GOOGLE_ADMIN_SUBJECT"},
		{"bad API URL", google.Config{CredentialsJSON: key, Subject: adminEmail, APIURL: "admin.googleapis.com"}, "GOOGLE_API_URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := google.New(t.Context(), tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New = %v, want an error naming %q", err, tt.want)
			}
			assertNoSecrets(t, err.Error())
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error %q shows a secret", err)
			}
		})
	}
	if _, err := google.New(t.Context(), google.Config{CredentialsJSON: key, Subject: adminEmail, APIURL: srv.APIURL()}); err != nil {
		t.Errorf("New with a good config: %v", err)
	}
	if calls := srv.Calls(); len(calls) != 0 {
		t.Errorf("New reached the network: %+v", calls)
	}
}

// assertNoSecrets fails when text shows a private key or an access token.
func assertNoSecrets(t *testing.T, text string) {
	t.Helper()
	for _, secret := range []string{"PRIVATE KEY", "ya29."} {
		if strings.Contains(text, secret) {
			t.Errorf("%q shows a secret (%s)", text, secret)
		}
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
