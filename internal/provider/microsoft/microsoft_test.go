package microsoft_test

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
	graphfake "github.com/resetbot/resetbot/internal/fake/microsoft"
	"github.com/resetbot/resetbot/internal/provider/edge"
	"github.com/resetbot/resetbot/internal/provider/microsoft"
	"github.com/resetbot/resetbot/internal/reset"
	"github.com/resetbot/resetbot/internal/reset/resettest"
)

var alice = reset.Target{OktaID: "00u1alice", Login: "alice@example.com", Email: "alice@example.com", DisplayName: "Alice"}

// start runs a fake with alice in it and a provider configured for it, the way internal/app
// wires one from AZURE_* and MSGRAPH_API_URL.
func start(t *testing.T, edit ...func(*microsoft.Config)) (*graphfake.Server, *microsoft.Provider) {
	t.Helper()
	srv := graphfake.Start()
	t.Cleanup(srv.Close)
	srv.AddUser(alice.Login)
	return srv, provider(t, srv, edit...)
}

func provider(t *testing.T, srv *graphfake.Server, edit ...func(*microsoft.Config)) *microsoft.Provider {
	t.Helper()
	cfg := microsoft.Config{
		TenantID:      srv.TenantID(),
		ClientID:      srv.ClientID(),
		ClientSecret:  srv.ClientSecret(),
		AuthorityHost: srv.AuthorityHost(),
		GraphURL:      srv.GraphURL(),
		HTTPClient:    edge.Client(srv.Roots()),
	}
	for _, e := range edit {
		e(&cfg)
	}
	p, err := microsoft.New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return p
}

func retryAfter(secs string) http.Header { return http.Header{"Retry-After": {secs}} }

// TestResetThroughExecutor runs the real SDK against the fake through the executor, as a
// Slack-approved reset does, and checks what the responder sees and what reached Graph.
func TestResetThroughExecutor(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		setup         func(*graphfake.Server)
		target        reset.Target
		want          reset.Status
		attempts      int
		retryable     bool
		detail        []string
		waits         []time.Duration
		revokeCalls   int
		tokenCalls    int
		revocations   int
		noSecretShown bool
	}{
		{
			name: "revoked", want: reset.Revoked, attempts: 1,
			revokeCalls: 1, tokenCalls: 1, revocations: 1,
		},
		{
			name:   "no account is its own outcome, not a failure",
			target: reset.Target{Login: "bob@example.com", Email: "bob@example.com"},
			want:   reset.NoAccount, attempts: 1, revokeCalls: 1, tokenCalls: 1,
		},
		{
			name: "rate limited, then revoked after the wait Graph asked for",
			setup: func(s *graphfake.Server) {
				s.Fail(graphfake.OpRevoke, fake.Fault{Status: http.StatusTooManyRequests, Header: retryAfter("7")})
			},
			want: reset.Revoked, attempts: 2, waits: []time.Duration{7 * time.Second},
			revokeCalls: 2, tokenCalls: 1, revocations: 1,
		},
		{
			name: "gateway timeout with Retry-After, then revoked",
			setup: func(s *graphfake.Server) {
				s.Fail(graphfake.OpRevoke, fake.Fault{Status: http.StatusGatewayTimeout, Header: retryAfter("3")})
			},
			want: reset.Revoked, attempts: 2, waits: []time.Duration{3 * time.Second},
			revokeCalls: 2, tokenCalls: 1, revocations: 1,
		},
		{
			name: "persistent 503 fails after bounded attempts with Graph's words",
			setup: func(s *graphfake.Server) {
				s.FailTimes(graphfake.OpRevoke, 10, fake.Fault{Status: http.StatusServiceUnavailable})
			},
			want: reset.Failed, attempts: 3, retryable: true,
			detail: []string{
				"revoke microsoft 365 sessions for alice@example.com: serviceNotAvailable: The service is not available.",
				"gave up after 3 attempts",
			},
			revokeCalls: 3, tokenCalls: 1,
		},
		{
			name:  "401 fails at once naming the permission",
			setup: func(s *graphfake.Server) { s.Fail(graphfake.OpRevoke, fake.Fault{Status: http.StatusUnauthorized}) },
			want:  reset.Failed, attempts: 1,
			detail:      []string{"InvalidAuthenticationToken", "User.RevokeSessions.All"},
			revokeCalls: 1, tokenCalls: 1,
		},
		{
			name:  "403 fails at once naming the permission",
			setup: func(s *graphfake.Server) { s.Fail(graphfake.OpRevoke, fake.Fault{Status: http.StatusForbidden}) },
			want:  reset.Failed, attempts: 1,
			detail: []string{
				"Authorization_RequestDenied: Insufficient privileges to complete the operation.",
				"grant the Microsoft Graph application permission User.RevokeSessions.All",
			},
			revokeCalls: 1, tokenCalls: 1,
		},
		{
			name: "wrong client secret fails at once naming the setting, never the secret",
			setup: func(s *graphfake.Server) {
				s.SetCredentials(s.TenantID(), s.ClientID(), "rotated~secret")
			},
			want: reset.Failed, attempts: 1,
			detail:      []string{"getting a Microsoft Graph token", "AADSTS7000215: Invalid client secret provided.", "AZURE_CLIENT_SECRET"},
			revokeCalls: 0, tokenCalls: 1, noSecretShown: true,
		},
		{
			name: "token service busy, then revoked",
			setup: func(s *graphfake.Server) {
				s.Fail(graphfake.OpToken, fake.Fault{Status: http.StatusServiceUnavailable, Header: retryAfter("2")})
			},
			want: reset.Revoked, attempts: 2, waits: []time.Duration{2 * time.Second},
			revokeCalls: 1, tokenCalls: 2, revocations: 1,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, p := start(t)
			if tc.setup != nil {
				tc.setup(srv)
			}
			target := tc.target
			if target.Login == "" {
				target = alice
			}
			var mu sync.Mutex
			var waits []time.Duration
			ex := reset.NewExecutor([]reset.Provider{p},
				reset.WithRetry(reset.RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond}),
				reset.WithSleep(func(_ context.Context, d time.Duration) error {
					mu.Lock()
					defer mu.Unlock()
					waits = append(waits, d)
					return nil
				}))
			outs := ex.RunAll(context.Background(), target, nil)
			if len(outs) != 1 {
				t.Fatalf("outcomes = %+v, want one", outs)
			}
			o := outs[0]
			if o.Provider != "microsoft" || o.Status != tc.want || o.Attempts != tc.attempts || o.Retryable != tc.retryable {
				t.Errorf("outcome = %q, want status %q after %d attempts, retryable %v", o.Line(), tc.want, tc.attempts, tc.retryable)
			}
			for _, d := range tc.detail {
				if !strings.Contains(o.Detail, d) {
					t.Errorf("detail %q does not contain %q", o.Detail, d)
				}
			}
			if tc.noSecretShown && (strings.Contains(o.Detail, graphfake.DefaultClientSecret) || strings.Contains(o.Detail, "rotated~secret")) {
				t.Errorf("detail shows a client secret: %q", o.Detail)
			}
			if tc.waits != nil {
				mu.Lock()
				got := append([]time.Duration(nil), waits...)
				mu.Unlock()
				if !equalDurations(got, tc.waits) {
					t.Errorf("waits = %v, want %v", got, tc.waits)
				}
			}
			if got := srv.Count(graphfake.OpRevoke); got != tc.revokeCalls {
				t.Errorf("revoke calls = %d, want %d", got, tc.revokeCalls)
			}
			if got := srv.Count(graphfake.OpToken); got != tc.tokenCalls {
				t.Errorf("token calls = %d, want %d", got, tc.tokenCalls)
			}
			if got := srv.Revocations(target.Login); got != tc.revocations {
				t.Errorf("revocations of %s = %d, want %d", target.Login, got, tc.revocations)
			}
		})
	}
}

func equalDurations(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestLookup pins the plan card's answers: found, no account, or why it could not be asked.
func TestLookup(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		target    reset.Target
		fault     *fake.Fault
		noAccount bool
		kind      reset.Kind
		message   string
	}{
		{name: "account found", target: alice},
		{
			name: "no account", target: reset.Target{Login: "bob@example.com"}, noAccount: true, kind: reset.NotFound,
			message: "look up microsoft 365 account for bob@example.com: no account has the UPN, mail or proxy address bob@example.com",
		},
		{
			name: "missing read permission names User.Read.All", target: alice,
			fault: &fake.Fault{Status: http.StatusForbidden}, kind: reset.Permanent,
			message: "grant the Microsoft Graph application permission User.Read.All",
		},
		{
			name: "throttled lookup is retryable", target: alice,
			fault: &fake.Fault{Status: http.StatusTooManyRequests, Header: retryAfter("1")}, kind: reset.Retryable,
			message: "TooManyRequests: Please retry again later.",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, p := start(t)
			if tc.fault != nil {
				srv.Fail(graphfake.OpLookup, *tc.fault)
			}
			err := p.Lookup(context.Background(), tc.target)
			if tc.message == "" {
				if err != nil {
					t.Fatalf("Lookup: %v", err)
				}
			} else {
				if err == nil || !strings.Contains(err.Error(), tc.message) {
					t.Fatalf("Lookup error = %v, want it to contain %q", err, tc.message)
				}
				if kind, _, _ := reset.Classify(err); kind != tc.kind {
					t.Errorf("kind = %v, want %v", kind, tc.kind)
				}
			}
			if got := errors.Is(err, reset.ErrNoAccount); got != tc.noAccount {
				t.Errorf("errors.Is(err, ErrNoAccount) = %v, want %v", got, tc.noAccount)
			}
			if got := srv.Count(graphfake.OpLookup); got != 1 {
				t.Errorf("lookup calls = %d, want 1", got)
			}
		})
	}
}

// TestRevokeMissingAccountIsNotFound: the executor reads the kind, so Revoke must say not-found.
func TestRevokeMissingAccountIsNotFound(t *testing.T) {
	t.Parallel()
	srv, p := start(t)
	err := p.Revoke(context.Background(), reset.Target{Login: "bob@example.com"})
	if kind, _, _ := reset.Classify(err); kind != reset.NotFound || !errors.Is(err, reset.ErrNoAccount) {
		t.Fatalf("Revoke error = %v (kind %v), want not found", err, kind)
	}
	if got := srv.Count(graphfake.OpRevoke); got != 1 {
		t.Errorf("revoke calls = %d, want 1", got)
	}
}

// A person renamed or on a second domain keeps their old address as a proxy address: Graph finds
// no UPN by it, so the account is looked for by mail and proxyAddresses, and the account found
// is the one signed out and named. Two accounts holding one address sign out nobody.
func TestFoundByMailOrProxyAddress(t *testing.T) {
	t.Parallel()
	srv, p := start(t)
	renamed := srv.AddMailbox("a.liddell@corp.onmicrosoft.example", "alice.liddell@corp.example", "alice@old.example")
	srv.AddMailbox("shared1@corp.example", "", "team@corp.example")
	srv.AddMailbox("shared2@corp.example", "", "team@corp.example")

	for _, name := range []string{"alice@old.example", "ALICE.LIDDELL@corp.example", "a.liddell@corp.onmicrosoft.example"} {
		before := srv.Revocations("a.liddell@corp.onmicrosoft.example")
		if err := p.Lookup(t.Context(), reset.Target{Login: name}); err != nil {
			t.Errorf("Lookup(%s): %v", name, err)
		}
		o, _ := resettest.Revoke(t, p, reset.Target{Login: name, Email: name}, 3)
		if o.Status != reset.Revoked {
			t.Fatalf("revoke %s: %s — %s", name, o.Status, o.Detail)
		}
		if want := "a.liddell@corp.onmicrosoft.example"; strings.EqualFold(name, want) && o.As != "" || !strings.EqualFold(name, want) && o.As != want {
			t.Errorf("revoke %s: the summary says %q; it names the UPN signed out only when it was not the name asked", name, o.Line())
		}
		if got := srv.Revocations("a.liddell@corp.onmicrosoft.example"); got != before+1 {
			t.Errorf("revoke %s: the account %s was signed out %d times, want once", name, renamed, got-before)
		}
	}

	o, _ := resettest.Revoke(t, p, reset.Target{Login: "team@corp.example"}, 3)
	if o.Status != reset.Failed || !strings.Contains(o.Detail, "several accounts have the address team@corp.example") || o.Retryable {
		t.Errorf("a shared address: %s — %s (retryable %v), want a permanent failure naming it", o.Status, o.Detail, o.Retryable)
	}
	if srv.Revocations("shared1@corp.example")+srv.Revocations("shared2@corp.example") != 0 {
		t.Error("an account was signed out by an address two accounts share")
	}
	if err := p.Lookup(t.Context(), reset.Target{Login: "o'hara@corp.example"}); !errors.Is(err, reset.ErrNoAccount) {
		t.Errorf("an address with a quote: %v, want no account (the filter must stay well formed)", err)
	}
}

// TestSDKDoesNotRetryByItself: every attempt the executor makes is exactly one request, so
// its retry budget and Retry-After handling are the only ones.
func TestSDKDoesNotRetryByItself(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		op     string
		status int
		wait   time.Duration
	}{
		{"graph 429", graphfake.OpRevoke, http.StatusTooManyRequests, 5 * time.Second},
		{"graph 500", graphfake.OpRevoke, http.StatusInternalServerError, 0},
		{"graph 503", graphfake.OpRevoke, http.StatusServiceUnavailable, 4 * time.Second},
		{"graph 504", graphfake.OpRevoke, http.StatusGatewayTimeout, 4 * time.Second},
		{"token 429", graphfake.OpToken, http.StatusTooManyRequests, 6 * time.Second},
		{"token 503", graphfake.OpToken, http.StatusServiceUnavailable, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, p := start(t)
			f := fake.Fault{Status: tc.status}
			if tc.wait > 0 {
				f.Header = retryAfter(strings.TrimSuffix(tc.wait.String(), "s"))
			}
			srv.FailTimes(tc.op, 5, f)
			err := p.Revoke(context.Background(), alice)
			kind, wait, _ := reset.Classify(err)
			if kind != reset.Retryable || wait != tc.wait {
				t.Errorf("Revoke error = %v: kind %v wait %v, want retryable after %v", err, kind, wait, tc.wait)
			}
			if got := srv.Count(tc.op); got != 1 {
				t.Errorf("%s calls = %d, want 1 (the SDK retried by itself)", tc.op, got)
			}
		})
	}
}

// TestSeveralRevokesOneToken: the token is cached, so a burst of resets (concurrent ones
// included) costs one token request, and Check at startup leaves the first reset none to do.
func TestSeveralRevokesOneToken(t *testing.T) {
	t.Parallel()
	srv, p := start(t)
	people := []string{"bob@example.com", "carol@example.com", "dave@example.com", "erin@example.com"}
	for _, upn := range people {
		srv.AddUser(upn)
	}
	ctx := context.Background()
	if err := p.Check(ctx); err != nil {
		t.Fatalf("Check: %v", err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2*len(people))
	for _, upn := range people {
		wg.Go(func() {
			target := reset.Target{Login: upn, Email: upn}
			errs <- p.Lookup(ctx, target)
			errs <- p.Revoke(ctx, target)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("reset: %v", err)
		}
	}
	if err := p.Revoke(ctx, alice); err != nil {
		t.Errorf("Revoke alice: %v", err)
	}
	for _, upn := range append(people, alice.Login) {
		if got := srv.Revocations(upn); got != 1 {
			t.Errorf("revocations of %s = %d, want 1", upn, got)
		}
	}
	if got := srv.Count(graphfake.OpToken); got != 1 {
		t.Errorf("token calls = %d, want 1", got)
	}
	if got := srv.Count(graphfake.OpOpenID); got != 1 {
		t.Errorf("tenant discovery calls = %d, want 1", got)
	}
}

// TestAddressesReachGraphIntact: UPNs with characters that need escaping in a path, and
// targets whose Okta login is not an address.
func TestAddressesReachGraphIntact(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		target reset.Target
		upn    string
	}{
		{"plus and apostrophe", reset.Target{Login: "o'brien+ops@example.com"}, "o'brien+ops@example.com"},
		{"hash, bang, caret and tilde", reset.Target{Login: "a#b!c^d~e@example.com"}, "a#b!c^d~e@example.com"},
		{"login without @ uses the email", reset.Target{Login: "alice", Email: "alice.w@example.com"}, "alice.w@example.com"},
		// Each of these would change the URL if it reached it unescaped: '/' and '..' climb to
		// another path (Graph or a proxy resolves dot segments), '?' starts the query, '#' the
		// fragment, '%' an escape.
		{"slash and dot segments stay in the segment", reset.Target{Login: "../../me/x/..@example.com"}, "../../me/x/..@example.com"},
		{"question mark and hash stay in the segment", reset.Target{Login: "a?$select=id#b@example.com"}, "a?$select=id#b@example.com"},
		{"percent is not an escape", reset.Target{Login: "a%2F..%2Fb@example.com"}, "a%2F..%2Fb@example.com"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, p := start(t)
			srv.AddUser(tc.upn)
			ctx := context.Background()
			if err := p.Lookup(ctx, tc.target); err != nil {
				t.Errorf("Lookup: %v", err)
			}
			if err := p.Revoke(ctx, tc.target); err != nil {
				t.Errorf("Revoke: %v", err)
			}
			if got := srv.Revocations(tc.upn); got != 1 {
				t.Errorf("revocations of %s = %d, want 1", tc.upn, got)
			}
			// One call each, on the user's own path: nothing was redirected, cut off or climbed.
			want := map[string]string{
				graphfake.OpLookup: "/v1.0/users/" + tc.upn,
				graphfake.OpRevoke: "/v1.0/users/" + tc.upn + "/revokeSignInSessions",
			}
			var got []string
			for _, c := range srv.Calls() {
				if c.Op != graphfake.OpToken && c.Op != graphfake.OpOpenID {
					got = append(got, c.Op)
					if c.Path != want[c.Op] {
						t.Errorf("%s reached path %q, want %q", c.Op, c.Path, want[c.Op])
					}
				}
			}
			if len(got) != 2 || got[0] != graphfake.OpLookup || got[1] != graphfake.OpRevoke {
				t.Errorf("Graph calls = %v, want one lookup and one revoke", got)
			}
		})
	}
}

// TestDotSegmentsNeverReachGraph: "." and ".." as a whole name would be resolved as a path
// step by Graph or a proxy on the way, so they are refused before any call.
func TestDotSegmentsNeverReachGraph(t *testing.T) {
	t.Parallel()
	for _, name := range []string{".", ".."} {
		srv, p := start(t)
		target := reset.Target{OktaID: "00u9", Login: name, Email: name}
		for _, err := range []error{p.Lookup(context.Background(), target), p.Revoke(context.Background(), target)} {
			if kind, _, _ := reset.Classify(err); kind != reset.Permanent || !strings.Contains(err.Error(), "no user principal name") {
				t.Errorf("%q: error = %v (kind %v), want permanent naming the missing UPN", name, err, kind)
			}
		}
		if n := len(srv.Calls()); n != 0 {
			t.Errorf("%q: %d calls reached the fake, want none", name, n)
		}
	}
}

func TestRevokeWithoutAddressFailsPermanently(t *testing.T) {
	t.Parallel()
	srv, p := start(t)
	err := p.Revoke(context.Background(), reset.Target{OktaID: "00u9", Login: "svc-build"})
	if kind, _, _ := reset.Classify(err); kind != reset.Permanent || !strings.Contains(err.Error(), "no user principal name") {
		t.Fatalf("Revoke error = %v (kind %v), want permanent naming the missing UPN", err, kind)
	}
	if n := len(srv.Calls()); n != 0 {
		t.Errorf("%d calls reached the fake, want none", n)
	}
}

// TestCheck is `resetbot check`: what an operator reads when the setup is right or wrong.
func TestCheck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		setup func(*graphfake.Server)
		edit  func(*microsoft.Config)
		want  []string // empty: Check passes
	}{
		{name: "ready"},
		{
			name: "wrong secret",
			edit: func(c *microsoft.Config) { c.ClientSecret = "rotated~secret" },
			want: []string{"check microsoft 365: getting a Microsoft Graph token: invalid_client: AADSTS7000215", "check AZURE_CLIENT_SECRET"},
		},
		{
			name: "unknown app",
			edit: func(c *microsoft.Config) { c.ClientID = "00000000-0000-0000-0000-000000000000" },
			want: []string{"AADSTS700016", "check AZURE_CLIENT_ID"},
		},
		{
			name: "unknown tenant",
			edit: func(c *microsoft.Config) { c.TenantID = "contoso.example" },
			want: []string{"AADSTS90002: Tenant 'contoso.example' not found", "check AZURE_TENANT_ID"},
		},
		{
			name: "scope of another resource",
			edit: func(c *microsoft.Config) { c.Scopes = []string{"https://example.com/.default"} },
			want: []string{"AADSTS500011", "check MSGRAPH_API_URL"},
		},
		{
			name: "authority host that is not Entra ID",
			edit: func(c *microsoft.Config) { c.AuthorityHost = notEntra(t) },
			want: []string{"getting a Microsoft Graph token: HTTP 404 Not Found", "check AZURE_AUTHORITY_HOST"},
		},
		{
			name:  "read permission missing",
			setup: func(s *graphfake.Server) { s.Fail(graphfake.OpList, fake.Fault{Status: http.StatusForbidden}) },
			want:  []string{"check microsoft 365: Authorization_RequestDenied", "User.Read.All"},
		},
		{
			name: "wrong Graph path",
			edit: func(c *microsoft.Config) { c.GraphURL = strings.TrimSuffix(c.GraphURL, "/v1.0") + "/v2.0" },
			want: []string{"check microsoft 365: BadRequest: Resource not found for the segment 'users'."},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := graphfake.Start()
			t.Cleanup(srv.Close)
			if tc.setup != nil {
				tc.setup(srv)
			}
			var edits []func(*microsoft.Config)
			if tc.edit != nil {
				edits = append(edits, tc.edit)
			}
			p := provider(t, srv, edits...)
			err := p.Check(context.Background())
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				if srv.Count(graphfake.OpToken) != 1 || srv.Count(graphfake.OpList) != 1 {
					t.Errorf("calls = %+v, want one token and one list", srv.Calls())
				}
				return
			}
			if err == nil {
				t.Fatal("Check passed, want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Check error %q does not contain %q", err, w)
				}
			}
			if kind, _, _ := reset.Classify(err); kind != reset.Permanent {
				t.Errorf("kind = %v, want permanent", kind)
			}
			if strings.Contains(err.Error(), graphfake.DefaultClientSecret) || strings.Contains(err.Error(), "rotated~secret") {
				t.Errorf("error shows a client secret: %q", err)
			}
		})
	}
}

// notEntra is an https server that is not a token service (httptest's TLS servers share one
// certificate, so the fake's roots trust it).
func notEntra(t *testing.T) string {
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	t.Cleanup(srv.Close)
	return srv.URL + "/"
}

// TestAnswersGraphWouldNotGive: a 2xx counts only when it is Graph's JSON, so a Graph URL that
// reaches something else fails the check, and a revoke Graph answers false is a failure.
func TestAnswersGraphWouldNotGive(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		contentType string
		body        string
		call        func(*microsoft.Provider, context.Context) error
		want        string
	}{
		{
			name: "a web page where the user list should be", contentType: "text/html; charset=utf-8", body: "<html>Sign in to the proxy</html>",
			call: (*microsoft.Provider).Check, want: "check microsoft 365: content type text/html",
		},
		{
			name: "a list where an object should be", contentType: "application/json", body: "[]",
			call: (*microsoft.Provider).Check, want: "check microsoft 365: graph answered with JSON that is not an object",
		},
		{
			name: "revoke answered false", contentType: "application/json", body: `{"value":false}`,
			call: func(p *microsoft.Provider, ctx context.Context) error { return p.Revoke(ctx, alice) },
			want: "revoke microsoft 365 sessions for alice@example.com: graph answered false",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := graphfake.Start()
			t.Cleanup(srv.Close)
			var mu sync.Mutex
			var got []string
			standIn := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				got = append(got, r.Method+" "+r.URL.Path)
				mu.Unlock()
				w.Header().Set("Content-Type", tc.contentType)
				_, _ = w.Write([]byte(tc.body))
			}))
			t.Cleanup(standIn.Close)
			p := provider(t, srv, func(c *microsoft.Config) { c.GraphURL = standIn.URL + "/v1.0" })
			err := tc.call(p, context.Background())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.want)
			}
			if kind, _, _ := reset.Classify(err); kind != reset.Permanent {
				t.Errorf("kind = %v, want permanent", kind)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(got) != 1 {
				t.Errorf("Graph stand-in got %v, want one call", got)
			}
		})
	}
}

// TestUnreachableIsRetryable: a token service that cannot be reached is worth another try.
func TestUnreachableIsRetryable(t *testing.T) {
	t.Parallel()
	srv := graphfake.Start()
	p := provider(t, srv)
	srv.Close()
	err := p.Revoke(context.Background(), alice)
	if kind, _, _ := reset.Classify(err); kind != reset.Retryable {
		t.Fatalf("Revoke error = %v (kind %v), want retryable", err, kind)
	}
	if !strings.HasPrefix(err.Error(), "revoke microsoft 365 sessions for alice@example.com: getting a Microsoft Graph token") {
		t.Errorf("error = %q, want it to say which step failed", err)
	}
}

// TestNew checks configuration errors name the variable to fix, never print the secret, and
// that building the client asks nothing of the network.
func TestNew(t *testing.T) {
	t.Parallel()
	srv := graphfake.Start()
	t.Cleanup(srv.Close)
	good := microsoft.Config{
		TenantID: srv.TenantID(), ClientID: srv.ClientID(), ClientSecret: srv.ClientSecret(),
		AuthorityHost: srv.AuthorityHost(), GraphURL: srv.GraphURL(), HTTPClient: edge.Client(srv.Roots()),
	}
	t.Cleanup(func() {
		if n := len(srv.Calls()); n != 0 {
			t.Errorf("New made %d calls, want none", n)
		}
	})
	tests := []struct {
		name string
		edit func(*microsoft.Config)
		want string // empty: New succeeds
	}{
		{name: "complete", edit: func(*microsoft.Config) {}},
		{name: "defaults for the public cloud", edit: func(c *microsoft.Config) { c.AuthorityHost, c.GraphURL, c.HTTPClient = "", "", nil }},
		{name: "no secret", edit: func(c *microsoft.Config) { c.ClientSecret = "" }, want: "missing AZURE_CLIENT_SECRET"},
		{name: "nothing", edit: func(c *microsoft.Config) { *c = microsoft.Config{} }, want: "missing AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET"},
		{name: "tenant with a slash", edit: func(c *microsoft.Config) { c.TenantID = "a/b" }, want: "AZURE_TENANT_ID"},
		{name: "plain http Graph", edit: func(c *microsoft.Config) { c.GraphURL = "http://graph.example/v1.0" }, want: "MSGRAPH_API_URL"},
		{name: "plain http authority", edit: func(c *microsoft.Config) { c.AuthorityHost = "http://login.example/" }, want: "AZURE_AUTHORITY_HOST"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := good
			tc.edit(&cfg)
			_, err := microsoft.New(context.Background(), cfg)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("New: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("New error = %v, want it to contain %q", err, tc.want)
			case err != nil && strings.Contains(err.Error(), srv.ClientSecret()):
				t.Errorf("New error shows the secret: %q", err)
			}
		})
	}
}
