package okta_test

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/resetbot/resetbot/internal/fake"
	oktafake "github.com/resetbot/resetbot/internal/fake/okta"
	"github.com/resetbot/resetbot/internal/provider/edge"
	"github.com/resetbot/resetbot/internal/provider/okta"
	"github.com/resetbot/resetbot/internal/reset"
)

const (
	apiToken = "00secret-ssws-token-for-tests"
	clientID = "0oa1resetbotserviceapp"
)

var modes = []string{"ssws", "service app"}

// setup starts a fake org holding Alice and a provider for it in the given mode.
func setup(t *testing.T, mode string, scopes ...string) (*oktafake.Server, *okta.Provider, reset.Target) {
	t.Helper()
	srv := oktafake.Start()
	t.Cleanup(srv.Close)
	srv.SetToken(apiToken)
	key := srv.NewServiceApp(clientID)
	u := srv.AddUser(oktafake.User{Login: "alice@example.com", Email: "alice@example.com", FirstName: "Alice", LastName: "Liddell"})

	cfg := okta.Config{OrgURL: srv.URL, APIToken: apiToken, HTTPClient: edge.Client(srv.Roots())}
	if mode == "service app" {
		cfg = okta.Config{OrgURL: srv.URL, ClientID: clientID, PrivateKeyPEM: key, Scopes: scopes, HTTPClient: edge.Client(srv.Roots())}
	}
	p, err := okta.New(t.Context(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if calls := srv.Calls(); len(calls) != 0 {
		t.Fatalf("New touched the network: %v", calls)
	}
	return srv, p, reset.Target{OktaID: u.ID, Login: u.Login, Email: u.Email, DisplayName: "Alice Liddell", Status: u.Status}
}

func TestName(t *testing.T) {
	t.Parallel()
	_, p, _ := setup(t, "ssws")
	if p.Name() != "okta" {
		t.Errorf("Name = %q, want okta", p.Name())
	}
}

func TestRevokeClearsSessionsAndOAuthTokens(t *testing.T) {
	t.Parallel()
	for _, mode := range modes {
		for _, byLogin := range []bool{false, true} {
			t.Run(mode+map[bool]string{false: " by id", true: " by login"}[byLogin], func(t *testing.T) {
				t.Parallel()
				srv, p, alice := setup(t, mode)
				target := alice
				if byLogin {
					target.OktaID = ""
				}
				if err := p.Revoke(t.Context(), target); err != nil {
					t.Fatalf("Revoke: %v", err)
				}
				if got := srv.Count("revoke"); got != 1 {
					t.Errorf("revoke calls = %d, want exactly 1", got)
				}
				want := []oktafake.Revocation{{UserID: alice.OktaID, OAuthTokens: true}}
				if got := srv.Revocations(); len(got) != 1 || got[0] != want[0] {
					t.Errorf("revocations = %+v, want %+v (sessions and Okta-issued OAuth tokens)", got, want)
				}
			})
		}
	}
}

func TestLookup(t *testing.T) {
	t.Parallel()
	srv, p, alice := setup(t, "ssws")
	cases := []struct {
		name      string
		target    reset.Target
		noAccount bool
	}{
		{name: "by login", target: reset.Target{Login: alice.Login}},
		{name: "unknown login", target: reset.Target{Login: "nobody@example.com"}, noAccount: true},
		{name: "login with a slash stays one path segment", target: reset.Target{Login: "alice@example.com/groups"}, noAccount: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := p.Lookup(t.Context(), tc.target)
			if got := errors.Is(err, reset.ErrNoAccount); got != tc.noAccount || !tc.noAccount && err != nil {
				t.Fatalf("Lookup = %v, want no account: %v", err, tc.noAccount)
			}
			if tc.noAccount && !strings.Contains(err.Error(), "look up okta user") || tc.noAccount && !strings.Contains(err.Error(), "Not found: Resource not found") {
				t.Errorf("message %q, want what failed and Okta's words", err)
			}
		})
	}
	t.Cleanup(func() {
		if u := srv.Unrouted(); len(u) != 0 {
			t.Errorf("malformed requests reached Okta: %v", u)
		}
	})
}

// TestLookupOfAPersonTheDirectoryFoundCostsNothing: a target with an Okta id was found by the
// directory, so the plan's Okta line costs no request of Okta's rate limit.
func TestLookupOfAPersonTheDirectoryFoundCostsNothing(t *testing.T) {
	t.Parallel()
	srv, p, alice := setup(t, "ssws")
	if err := p.Lookup(t.Context(), alice); err != nil {
		t.Fatalf("Lookup = %v, want the account found", err)
	}
	if n := len(srv.Calls()); n != 0 {
		t.Errorf("%d requests reached Okta, want none", n)
	}
}

func TestRevokeWithoutAccountIsNotFound(t *testing.T) {
	t.Parallel()
	for _, target := range []reset.Target{
		{OktaID: "00unobody0000000000", Email: "nobody@example.com"},
		{Login: "nobody@example.com"},
	} {
		srv, p, _ := setup(t, "ssws")
		err := p.Revoke(t.Context(), target)
		if kind, _, _ := reset.Classify(err); kind != reset.NotFound {
			t.Errorf("Revoke(%v) = %v (%v), want not found", target, err, kind)
		}
		if len(srv.Revocations()) != 0 {
			t.Errorf("sessions cleared for a person who does not exist: %v", srv.Revocations())
		}
	}
}

// waits records the executor's pauses instead of sleeping.
type waits struct {
	mu sync.Mutex
	d  []time.Duration
}

func (w *waits) sleep(_ context.Context, d time.Duration) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.d = append(w.d, d)
	return nil
}

func (w *waits) all() []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]time.Duration(nil), w.d...)
}

func TestThroughTheExecutor(t *testing.T) {
	t.Parallel()
	const maxAttempts = 3
	cases := []struct {
		name          string
		mode          string
		scopes        []string
		noAccount     bool
		faults        []fake.Fault
		wantStatus    reset.Status
		wantAttempts  int
		wantRetryable bool
		wantDetail    []string
		wantWait      [2]time.Duration // first wait between these, when set
		windowResetIn time.Duration    // when set, the first revoke is a 429 whose window ends this far ahead
		wantRevokes   int
	}{
		{name: "revoked", mode: "ssws", wantStatus: reset.Revoked, wantAttempts: 1, wantRevokes: 1},
		{name: "revoked by a service app", mode: "service app", wantStatus: reset.Revoked, wantAttempts: 1, wantRevokes: 1},
		{name: "no account", mode: "ssws", noAccount: true, wantStatus: reset.NoAccount, wantAttempts: 1, wantRevokes: 1},
		{name: "429 retry-after honoured", mode: "ssws", wantStatus: reset.Revoked, wantAttempts: 2, wantRevokes: 2,
			faults:   []fake.Fault{{Status: 429, Header: http.Header{"Retry-After": {"7"}}}},
			wantWait: [2]time.Duration{7 * time.Second, 7 * time.Second}},
		{name: "429 okta window reset honoured", mode: "service app", wantStatus: reset.Revoked, wantAttempts: 2, wantRevokes: 2,
			windowResetIn: 20 * time.Second},
		{name: "persistent 500 fails after bounded attempts", mode: "ssws", wantStatus: reset.Failed, wantAttempts: maxAttempts,
			wantRevokes: maxAttempts, wantRetryable: true,
			faults:     []fake.Fault{{Status: 500}, {Status: 500}, {Status: 500}, {Status: 500}},
			wantDetail: []string{"revoke okta sessions for Alice Liddell <alice@example.com>: Internal Server Error", "gave up after 3 attempts"},
			wantWait:   [2]time.Duration{0, time.Second}}, // Okta's minute-long X-Rate-Limit-Reset is not a 5xx wait
		{name: "401 fails at once naming the permission", mode: "ssws", wantStatus: reset.Failed, wantAttempts: 1, wantRevokes: 1,
			faults:     []fake.Fault{{Status: 401}},
			wantDetail: []string{"Invalid token provided", "okta.users.manage"}},
		{name: "403 fails at once naming the permission", mode: "ssws", wantStatus: reset.Failed, wantAttempts: 1, wantRevokes: 1,
			faults:     []fake.Fault{{Status: 403}},
			wantDetail: []string{"You do not have permission to perform the requested action", "grant okta.users.manage"}},
		{name: "service app without okta.users.manage", mode: "service app", scopes: []string{"okta.users.read"},
			wantStatus: reset.Failed, wantAttempts: 1, wantRevokes: 1,
			wantDetail: []string{"does not contain the required scopes", "grant the okta.users.manage scope on the service app"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, p, alice := setup(t, tc.mode, tc.scopes...)
			if tc.noAccount {
				alice = reset.Target{OktaID: "00unobody0000000000", Email: "nobody@example.com"}
			}
			faults, wantWait := tc.faults, tc.wantWait
			var before, resetAt time.Time
			if tc.windowResetIn > 0 {
				// The window's end is an epoch second stamped here, not when the table was built:
				// a parallel subtest may start seconds after that.
				before = time.Now()
				resetAt = time.Unix(before.Add(tc.windowResetIn).Unix(), 0)
				faults = []fake.Fault{{Status: 429, Header: http.Header{"X-Rate-Limit-Reset": {strconv.FormatInt(resetAt.Unix(), 10)}}}}
			}
			srv.Fail("revoke", faults...)
			w := &waits{}
			ex := reset.NewExecutor([]reset.Provider{p}, reset.WithSleep(w.sleep),
				reset.WithRetry(reset.RetryPolicy{MaxAttempts: maxAttempts, BaseDelay: 10 * time.Millisecond, MaxDelay: 100 * time.Millisecond}))
			out := ex.RunAll(t.Context(), alice, nil)
			if !resetAt.IsZero() {
				// The 429 arrived between before and now; the wait runs from then to the window's end.
				wantWait = [2]time.Duration{resetAt.Sub(time.Now()), resetAt.Sub(before)}
			}
			if len(out) != 1 {
				t.Fatalf("outcomes = %+v, want one", out)
			}
			o := out[0]
			t.Log(o.Line())
			if o.Provider != "okta" || o.Status != tc.wantStatus || o.Attempts != tc.wantAttempts || o.Retryable != tc.wantRetryable {
				t.Errorf("outcome = %+v, want %s after %d attempts (retryable %v)", o, tc.wantStatus, tc.wantAttempts, tc.wantRetryable)
			}
			for _, want := range tc.wantDetail {
				if !strings.Contains(o.Detail, want) {
					t.Errorf("detail %q lacks %q", o.Detail, want)
				}
			}
			if got := srv.Count("revoke"); got != tc.wantRevokes {
				t.Errorf("revoke calls reaching Okta = %d, want %d", got, tc.wantRevokes)
			}
			if wantWait != [2]time.Duration{} {
				got := w.all()
				if len(got) == 0 || got[0] < wantWait[0] || got[0] > wantWait[1] {
					t.Errorf("waits = %v, want the first in [%s, %s]", got, wantWait[0], wantWait[1])
				}
			}
			if strings.Contains(o.Detail, apiToken) || strings.Contains(o.Detail, "eyJ") {
				t.Errorf("detail %q leaks a credential", o.Detail)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			srv, p, alice := setup(t, mode)
			if err := p.Check(t.Context()); err != nil {
				t.Fatalf("Check: %v", err)
			}
			if err := p.Revoke(t.Context(), alice); err != nil {
				t.Fatalf("Revoke after Check: %v", err)
			}
			want := 0
			if mode == "service app" {
				want = 1 // fetched by Check, reused by the reset
			}
			if got := srv.Count("token"); got != want {
				t.Errorf("token requests = %d, want %d", got, want)
			}
		})
	}
}

func TestCheckSaysWhatToFix(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		mode  string
		setup func(*oktafake.Server)
		want  []string
	}{
		{name: "token revoked", mode: "ssws", setup: func(s *oktafake.Server) { s.SetToken("another-token") },
			want: []string{"check okta access: Invalid token provided", "check OKTA_API_TOKEN"}},
		{name: "key no longer registered", mode: "service app", setup: func(s *oktafake.Server) { s.NewServiceApp(clientID) },
			want: []string{"The client_assertion signature is invalid", "OKTA_PRIVATE_KEY_FILE is registered"}},
		{name: "scopes not granted", mode: "service app", setup: func(s *oktafake.Server) { s.GrantScopes("okta.users.read") },
			want: []string{"invalid_scope", "granted the scopes"}},
		{name: "okta down", mode: "ssws", setup: func(s *oktafake.Server) { s.Fail("search", fake.Fault{Status: 503}) },
			want: []string{"check okta access: Service is in read only mode"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, p, _ := setup(t, tc.mode)
			tc.setup(srv)
			err := p.Check(t.Context())
			if err == nil {
				t.Fatal("Check passed")
			}
			for _, want := range tc.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Check = %q, want it to say %q", err, want)
				}
			}
		})
	}
}

func TestNewNamesWhatIsWrong(t *testing.T) {
	t.Parallel()
	_, err := okta.New(t.Context(), okta.Config{OrgURL: "https://x.okta.com"})
	if err == nil || !strings.Contains(err.Error(), "OKTA_API_TOKEN") {
		t.Errorf("New without credentials = %v, want it to name OKTA_API_TOKEN", err)
	}
	_, err = okta.New(t.Context(), okta.Config{OrgURL: "https://x.okta.com", ClientID: clientID, PrivateKeyPEM: []byte(apiToken)})
	if err == nil || strings.Contains(err.Error(), apiToken) {
		t.Errorf("New with a bad key = %v, want an error that does not echo the key", err)
	}
}
