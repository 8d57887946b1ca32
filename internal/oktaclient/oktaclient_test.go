package oktaclient_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/resetbot/resetbot/internal/fake"
	oktafake "github.com/resetbot/resetbot/internal/fake/okta"
	"github.com/resetbot/resetbot/internal/oktaclient"
	"github.com/resetbot/resetbot/internal/provider/edge"
	"github.com/resetbot/resetbot/internal/reset"
)

const (
	apiToken = "00secret-ssws-token-for-tests"
	clientID = "0oa1resetbotserviceapp"
)

// org starts a fake org with an API token, a service app and Alice.
func org(t *testing.T) (*oktafake.Server, []byte, oktafake.User) {
	t.Helper()
	srv := oktafake.Start()
	t.Cleanup(srv.Close)
	srv.SetToken(apiToken)
	key := srv.NewServiceApp(clientID)
	alice := srv.AddUser(oktafake.User{Login: "alice@example.com", Email: "alice@example.com", FirstName: "Alice", LastName: "Liddell"})
	return srv, key, alice
}

func sswsConfig(srv *oktafake.Server) oktaclient.Config {
	return oktaclient.Config{OrgURL: srv.URL, APIToken: apiToken, HTTPClient: edge.Client(srv.Roots())}
}

func appConfig(srv *oktafake.Server, key []byte) oktaclient.Config {
	return oktaclient.Config{OrgURL: srv.URL, ClientID: clientID, PrivateKeyPEM: key, PrivateKeyID: "kid-1", HTTPClient: edge.Client(srv.Roots())}
}

// pkcs1 re-encodes a PKCS#8 RSA key as PKCS#1, the form the SDK reads natively.
func pkcs1(t *testing.T, key []byte) []byte {
	t.Helper()
	block, _ := pem.Decode(key)
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k.(*rsa.PrivateKey))})
}

func TestBothAuthModesReachTheOrg(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		config     func(*testing.T, *oktafake.Server, []byte) oktaclient.Config
		wantTokens int
	}{
		{name: "ssws api token", wantTokens: 0,
			config: func(_ *testing.T, srv *oktafake.Server, _ []byte) oktaclient.Config { return sswsConfig(srv) }},
		{name: "service app with a pkcs8 key", wantTokens: 1,
			config: func(_ *testing.T, srv *oktafake.Server, key []byte) oktaclient.Config { return appConfig(srv, key) }},
		{name: "service app with a pkcs1 key", wantTokens: 1,
			config: func(t *testing.T, srv *oktafake.Server, key []byte) oktaclient.Config {
				return appConfig(srv, pkcs1(t, key))
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, key, alice := org(t)
			client, err := oktaclient.New(t.Context(), tc.config(t, srv, key))
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			if calls := srv.Calls(); len(calls) != 0 {
				t.Fatalf("New touched the network: %v", calls)
			}
			for range 2 {
				u, _, err := client.User.GetUser(t.Context(), alice.ID)
				if err != nil {
					t.Fatalf("GetUser: %v", err)
				}
				if got := (*u.Profile)["login"]; got != alice.Login {
					t.Fatalf("login = %v, want %s", got, alice.Login)
				}
			}
			if got := srv.Count("lookup"); got != 2 {
				t.Errorf("lookups reaching Okta = %d, want 2 (nothing served from a cache)", got)
			}
			if got := srv.Count("token"); got != tc.wantTokens {
				t.Errorf("token requests = %d, want %d (one token, reused)", got, tc.wantTokens)
			}
			if got := srv.AssertionsInURL(); got != 0 {
				t.Errorf("%d token requests carried the client assertion in the URL, want it in the body", got)
			}
		})
	}
}

// TestAmbientConfigurationIgnored sets every OKTA_* variable the SDK reads to values that would
// break resetbot, and shows none of them takes effect. It cannot run in parallel (t.Setenv).
func TestAmbientConfigurationIgnored(t *testing.T) {
	srv, _, alice := org(t)
	for k, v := range map[string]string{
		"OKTA_CLIENT_ORGURL":                 "https://bogus.example.invalid",
		"OKTA_CLIENT_TOKEN":                  "bogus-token",
		"OKTA_CLIENT_AUTHORIZATIONMODE":      "Bearer",
		"OKTA_CLIENT_CLIENTID":               "0oabogus",
		"OKTA_CLIENT_SCOPES":                 "okta.apps.manage",
		"OKTA_CLIENT_PRIVATEKEY":             "bogus",
		"OKTA_CLIENT_CLIENTASSERTION":        "bogus",
		"OKTA_CLIENT_CACHE_ENABLED":          "true",
		"OKTA_CLIENT_CACHE_DEFAULT_TTL":      "3600",
		"OKTA_CLIENT_RATE_LIMIT_MAX_RETRIES": "5",
		"OKTA_CLIENT_RATE_LIMIT_MAX_BACKOFF": "1",
		"OKTA_CLIENT_REQUEST_TIMEOUT":        "1",
		"OKTA_CLIENT_PROXY_HOST":             "proxy.example.invalid",
		"OKTA_CLIENT_PROXY_PORT":             "3128",
		"OKTA_TESTING_DISABLE_HTTPS_CHECK":   "true",
	} {
		t.Setenv(k, v)
	}
	client, err := oktaclient.New(t.Context(), sswsConfig(srv))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	c := client.GetConfig().Okta.Client
	if c.OrgUrl != srv.URL || c.Token != apiToken || c.AuthorizationMode != "SSWS" || c.ClientId != "" ||
		c.Scopes != nil || c.PrivateKey != "" || c.ClientAssertion != "" || c.Cache.Enabled ||
		c.RateLimit.MaxRetries != 0 || c.RequestTimeout != 0 || c.Proxy.Host != "" ||
		client.GetConfig().Okta.Testing.DisableHttpsCheck {
		t.Fatalf("environment leaked into the SDK configuration: %+v", c)
	}

	// What a user would notice: calls go to our org with our token, every read is live, and a
	// rate limit is handed back instead of retried.
	for range 2 {
		if _, _, err := client.User.GetUser(t.Context(), alice.ID); err != nil {
			t.Fatalf("GetUser with our org and token: %v", err)
		}
	}
	if got := srv.Count("lookup"); got != 2 {
		t.Errorf("lookups reaching Okta = %d, want 2: OKTA_CLIENT_CACHE_ENABLED was honoured", got)
	}
	srv.Fail("lookup", fake.Fault{Status: http.StatusTooManyRequests})
	_, resp, err := client.User.GetUser(t.Context(), alice.ID)
	if got := srv.Count("lookup"); got != 3 {
		t.Errorf("lookups reaching Okta = %d, want 3: the SDK retried a 429", got)
	}
	if kind, _, _ := reset.Classify(oktaclient.Classify("look up alice", oktaclient.ScopeUsersRead, resp, err)); kind != reset.Retryable {
		t.Errorf("a 429 classified %v, want retryable", kind)
	}
}

func TestRateLimitReturnsAtOnceWithItsWait(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		header   http.Header
		min, max time.Duration
		resetIn  time.Duration // when set, the 429 names a window ending this far ahead
	}{
		{name: "retry-after seconds", header: http.Header{"Retry-After": {"7"}}, min: 7 * time.Second, max: 7 * time.Second},
		{name: "okta window reset", resetIn: 30 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, mode := range []string{"ssws", "service app"} {
				srv, key, alice := org(t)
				cfg := sswsConfig(srv)
				if mode == "service app" {
					cfg = appConfig(srv, key)
				}
				client, err := oktaclient.New(t.Context(), cfg)
				if err != nil {
					t.Fatal(err)
				}
				header, minWait, maxWait := tc.header, tc.min, tc.max
				var before, resetAt time.Time
				if tc.resetIn > 0 {
					// Stamped here, not when the table was built: the window's end is an epoch
					// second, and this request may go out seconds after the test began.
					before = time.Now()
					resetAt = time.Unix(before.Add(tc.resetIn).Unix(), 0)
					header = http.Header{"X-Rate-Limit-Reset": {itoa(resetAt.Unix())}}
				}
				srv.Fail("lookup", fake.Fault{Status: http.StatusTooManyRequests, Header: header})
				_, resp, err := client.User.GetUser(t.Context(), alice.ID)

				var apiErr *oktaclient.APIError
				if !errors.As(err, &apiErr) || apiErr.Status != http.StatusTooManyRequests || apiErr.Code != oktaclient.CodeRateLimited {
					t.Fatalf("%s: error = %v, want the 429 with E0000047", mode, err)
				}
				if got := srv.Count("lookup"); got != 1 {
					t.Errorf("%s: lookups reaching Okta = %d, want 1 (no SDK retry)", mode, got)
				}
				classified := oktaclient.Classify("look up alice", oktaclient.ScopeUsersRead, resp, err)
				kind, wait, reason := reset.Classify(classified)
				if !resetAt.IsZero() {
					// The answer was read between before and now; the wait runs from then to the window's end.
					minWait, maxWait = resetAt.Sub(time.Now()), resetAt.Sub(before)
				}
				if kind != reset.Retryable || reason != "rate_limited" || wait < minWait || wait > maxWait {
					t.Errorf("%s: classified %v/%s waiting %s, want retryable rate_limited waiting %s..%s", mode, kind, reason, wait, minWait, maxWait)
				}
				if !strings.Contains(classified.Error(), "API call exceeded rate limit") {
					t.Errorf("%s: message %q lacks Okta's words", mode, classified)
				}
			}
		})
	}
}

func TestServerErrorsIgnoreTheRateLimitWindow(t *testing.T) {
	t.Parallel()
	srv, _, alice := org(t)
	client, err := oktaclient.New(t.Context(), sswsConfig(srv))
	if err != nil {
		t.Fatal(err)
	}
	// Okta sends X-Rate-Limit-Reset (up to a minute away) on every answer, errors included.
	srv.Fail("lookup", fake.Fault{Status: http.StatusInternalServerError})
	_, resp, err := client.User.GetUser(t.Context(), alice.ID)
	kind, wait, _ := reset.Classify(oktaclient.Classify("look up alice", oktaclient.ScopeUsersRead, resp, err))
	if kind != reset.Retryable || wait != 0 {
		t.Errorf("a 500 classified %v waiting %s, want retryable with the executor's own backoff", kind, wait)
	}
}

func TestClosedConnectionIsNotRetriedBySDK(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			conn.Close()
		}
	}))
	t.Cleanup(srv.Close)
	client, err := oktaclient.New(t.Context(), oktaclient.Config{OrgURL: srv.URL, APIToken: apiToken, HTTPClient: edge.Client(fake.Roots(srv))})
	if err != nil {
		t.Fatal(err)
	}
	// Without the guard the SDK would spin on io.EOF until this context ended.
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	_, resp, err := client.User.GetUser(ctx, "00u1")
	if err == nil {
		t.Fatal("GetUser succeeded against a server that hangs up")
	}
	if ctx.Err() != nil {
		t.Fatalf("the SDK retried until the deadline (%d calls): %v", hits.Load(), err)
	}
	if got := hits.Load(); got > 2 {
		t.Errorf("calls reaching the server = %d, want 1 (2 if Go's transport retried once)", got)
	}
	kind, _, reason := reset.Classify(oktaclient.Classify("look up 00u1", oktaclient.ScopeUsersRead, resp, err))
	if kind != reset.Retryable || reason != "connection" {
		t.Errorf("a dropped connection classified %v/%s, want retryable connection", kind, reason)
	}
}

func TestServiceAppRefusals(t *testing.T) {
	t.Parallel()
	otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(otherKey)
	unregistered := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})

	cases := []struct {
		name       string
		key        func(registered []byte) []byte
		clientID   string
		scopes     []string
		granted    []string
		wantStatus int
		wantText   string
	}{
		{name: "key not registered with the app", key: func([]byte) []byte { return unregistered }, clientID: clientID,
			wantStatus: http.StatusUnauthorized, wantText: "invalid_client: The client_assertion signature is invalid."},
		{name: "unknown client id", key: func(k []byte) []byte { return k }, clientID: "0oaunknown",
			wantStatus: http.StatusUnauthorized, wantText: "invalid_client"},
		{name: "scope not granted", key: func(k []byte) []byte { return k }, clientID: clientID,
			granted: []string{oktaclient.ScopeUsersRead}, wantStatus: http.StatusBadRequest, wantText: "invalid_scope"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, key, alice := org(t)
			if tc.granted != nil {
				srv.GrantScopes(tc.granted...)
			}
			cfg := appConfig(srv, tc.key(key))
			cfg.ClientID = tc.clientID
			client, err := oktaclient.New(t.Context(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			_, resp, err := client.User.GetUser(t.Context(), alice.ID)
			classified := oktaclient.Classify("look up alice", oktaclient.ScopeUsersRead, resp, err)
			var re *reset.Error
			if !errors.As(classified, &re) || re.Kind != reset.Permanent || re.Status != tc.wantStatus {
				t.Fatalf("classified %#v, want permanent %d", classified, tc.wantStatus)
			}
			msg := classified.Error()
			if !strings.Contains(msg, tc.wantText) || !strings.Contains(msg, "okta refused the service app an access token") {
				t.Errorf("message %q, want Okta's refusal %q", msg, tc.wantText)
			}
			if strings.Contains(msg, "eyJ") || strings.Contains(msg, "client_assertion=") {
				t.Errorf("message %q leaks the client assertion", msg)
			}
			if got := srv.Count("lookup"); got != 0 {
				t.Errorf("lookups = %d, want none without a token", got)
			}
			if got := srv.Count("token"); got != 1 {
				t.Errorf("token requests = %d, want 1 (no SDK retry)", got)
			}
		})
	}
}

func TestErrorsNeverCarrySecrets(t *testing.T) {
	t.Parallel()
	srv, key, _ := org(t)
	// A closed port: the token request fails before any answer, and Go's error names the URL
	// the SDK put the signed client assertion in.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadURL := "https://" + l.Addr().String()
	l.Close()

	for _, cfg := range []oktaclient.Config{
		{OrgURL: deadURL, ClientID: clientID, PrivateKeyPEM: key, HTTPClient: edge.Client(srv.Roots())},
		{OrgURL: deadURL, APIToken: apiToken, HTTPClient: edge.Client(srv.Roots())},
		{OrgURL: srv.URL, APIToken: apiToken + "-wrong", HTTPClient: edge.Client(srv.Roots())},
	} {
		client, err := oktaclient.New(t.Context(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		_, resp, err := client.User.GetUser(t.Context(), "alice@example.com")
		msg := oktaclient.Classify("look up alice", oktaclient.ScopeUsersRead, resp, err).Error()
		for _, secret := range []string{"eyJ", "client_assertion", apiToken, "PRIVATE KEY"} {
			if strings.Contains(msg, secret) {
				t.Errorf("message %q contains %q", msg, secret)
			}
		}
	}
}

func TestNewRefusesBadConfiguration(t *testing.T) {
	t.Parallel()
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecDER, _ := x509.MarshalPKCS8PrivateKey(ecKey)
	ecPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: ecDER})
	ecBody := strings.Split(string(ecPEM), "\n")[1]
	garbage := []byte("-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n")

	cases := []struct {
		name string
		cfg  oktaclient.Config
		want string
	}{
		{name: "no org", cfg: oktaclient.Config{APIToken: apiToken}, want: "OKTA_ORG_URL is empty"},
		{name: "plain http", cfg: oktaclient.Config{OrgURL: "http://x.okta.com", APIToken: apiToken}, want: "not an https URL"},
		{name: "org with a path", cfg: oktaclient.Config{OrgURL: "https://x.okta.com/api/v1", APIToken: apiToken}, want: "has a path"},
		{name: "admin domain", cfg: oktaclient.Config{OrgURL: "https://x-admin.okta.com", APIToken: apiToken}, want: "-admin"},
		{name: "no credentials", cfg: oktaclient.Config{OrgURL: "https://x.okta.com"}, want: "no credentials"},
		{name: "both credentials", cfg: oktaclient.Config{OrgURL: "https://x.okta.com", APIToken: apiToken, ClientID: clientID, PrivateKeyPEM: ecPEM}, want: "not both"},
		{name: "service app without key", cfg: oktaclient.Config{OrgURL: "https://x.okta.com", ClientID: clientID}, want: "OKTA_PRIVATE_KEY_FILE) is empty"},
		{name: "key is not pem", cfg: oktaclient.Config{OrgURL: "https://x.okta.com", ClientID: clientID, PrivateKeyPEM: []byte("secret-not-pem")}, want: "is not PEM"},
		{name: "key is garbage", cfg: oktaclient.Config{OrgURL: "https://x.okta.com", ClientID: clientID, PrivateKeyPEM: garbage}, want: "read the service app's private key"},
		{name: "ec key", cfg: oktaclient.Config{OrgURL: "https://x.okta.com", ClientID: clientID, PrivateKeyPEM: ecPEM}, want: "RSA keys only"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := oktaclient.New(t.Context(), tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New = %v, want an error containing %q", err, tc.want)
			}
			for _, secret := range []string{apiToken, "secret-not-pem", "bm90IGEga2V5", ecBody} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q contains %q", err, secret)
				}
			}
		})
	}
}

func TestClassify(t *testing.T) {
	t.Parallel()
	srv, _, alice := org(t)
	client, err := oktaclient.New(t.Context(), sswsConfig(srv))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name      string
		fault     fake.Fault
		key       string
		wantKind  reset.Kind
		wantTexts []string
	}{
		{name: "no such user is no account", key: "nobody@example.com", wantKind: reset.NotFound,
			wantTexts: []string{"look up: Not found: Resource not found: nobody@example.com (User)"}},
		{name: "401 names the permission", fault: fake.Fault{Status: 401}, key: alice.ID, wantKind: reset.Permanent,
			wantTexts: []string{"Invalid token provided", "okta.users.read"}},
		{name: "403 names the permission", fault: fake.Fault{Status: 403}, key: alice.ID, wantKind: reset.Permanent,
			wantTexts: []string{"You do not have permission to perform the requested action", "grant okta.users.read"}},
		{name: "503 retries", fault: fake.Fault{Status: 503}, key: alice.ID, wantKind: reset.Retryable,
			wantTexts: []string{"Service is in read only mode"}},
		{name: "400 is permanent", fault: fake.Fault{Status: 400, Message: "Api validation failed: login"}, key: alice.ID, wantKind: reset.Permanent,
			wantTexts: []string{"Api validation failed: login"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// Not parallel: the cases share one fake's fault queue.
			if tc.fault.Status != 0 {
				srv.Fail("lookup", tc.fault)
			}
			_, resp, err := client.User.GetUser(t.Context(), tc.key)
			classified := oktaclient.Classify("look up", oktaclient.ScopeUsersRead, resp, err)
			if kind, _, _ := reset.Classify(classified); kind != tc.wantKind {
				t.Errorf("kind = %v, want %v (%v)", kind, tc.wantKind, classified)
			}
			for _, want := range tc.wantTexts {
				if !strings.Contains(classified.Error(), want) {
					t.Errorf("message %q lacks %q", classified, want)
				}
			}
		})
	}
}

func TestNotFoundFromSomethingElseIsNotNoAccount(t *testing.T) {
	t.Parallel()
	// A 404 page that is not Okta's (a wrong OKTA_ORG_URL) must not read as "no account".
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	t.Cleanup(srv.Close)
	client, err := oktaclient.New(t.Context(), oktaclient.Config{OrgURL: srv.URL, APIToken: apiToken, HTTPClient: edge.Client(fake.Roots(srv))})
	if err != nil {
		t.Fatal(err)
	}
	_, resp, err := client.User.GetUser(t.Context(), "alice@example.com")
	classified := oktaclient.Classify("look up alice", oktaclient.ScopeUsersRead, resp, err)
	if errors.Is(classified, reset.ErrNoAccount) || !strings.Contains(classified.Error(), "OKTA_ORG_URL") {
		t.Errorf("classified %v, want a permanent error pointing at OKTA_ORG_URL", classified)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// window is one report to Config.RateObserver.
type window struct {
	bucket    oktaclient.Bucket
	limit     int
	remaining int
	resetAt   time.Time
}

// TestRateObserverHearsEveryAnswer makes calls through the SDK that Okta answers with a
// success, a 404, a 429 and a token, and shows each answer's window reaches the observer.
func TestRateObserverHearsEveryAnswer(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 11, 29, 9, 0, 0, 400e6, time.UTC)
	second, minute := time.Date(2026, 11, 29, 9, 0, 1, 0, time.UTC), time.Date(2026, 11, 29, 9, 1, 0, 0, time.UTC)
	for _, mode := range []string{"ssws", "service app"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			srv, key, alice := org(t)
			srv.SetClock(func() time.Time { return t0 })
			srv.SetRateLimit("lookup", 3)
			var (
				mu   sync.Mutex
				seen []window
			)
			cfg := sswsConfig(srv)
			if mode == "service app" {
				cfg = appConfig(srv, key)
			}
			cfg.RateObserver = func(b oktaclient.Bucket, w oktaclient.Window) {
				mu.Lock()
				defer mu.Unlock()
				seen = append(seen, window{b, w.Limit, w.Remaining, w.Reset.UTC()})
			}
			client, err := oktaclient.New(t.Context(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			for _, id := range []string{alice.ID, "00unobody0000000000", alice.ID, alice.ID} {
				_, _, _ = client.User.GetUser(t.Context(), id)
			}
			_, _ = client.User.ClearUserSessions(t.Context(), alice.ID, nil)
			// A 429 and a 404 reach the caller as errors, but their windows were heard first;
			// the sessions endpoint is a bucket of its own, a minute of 600 by default.
			dir := oktaclient.BucketDirectory
			want := []window{{dir, 3, 2, second}, {dir, 3, 1, second}, {dir, 3, 0, second}, {dir, 3, 0, second}, {oktaclient.BucketSessions, 600, 599, minute}}
			if mode == "service app" {
				// The token endpoint is its own bucket too.
				want = append([]window{{oktaclient.BucketToken, 600, 599, minute}}, want...)
			}
			mu.Lock()
			defer mu.Unlock()
			if !slices.Equal(seen, want) {
				t.Errorf("observer heard %v, want %v", seen, want)
			}
		})
	}
}
