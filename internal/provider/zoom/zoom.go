// Package zoom signs people out of Zoom by revoking their SSO token (DELETE
// /users/{userId}/token), as a Server-to-Server OAuth app. Zoom publishes no Go SDK, so this
// package speaks its REST API directly, with golang.org/x/oauth2 for the token.
package zoom

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/resetbot/resetbot/internal/provider/edge"
	"github.com/resetbot/resetbot/internal/reset"
)

// Zoom's own endpoints; national or test setups override them.
const (
	DefaultAPIURL   = "https://api.zoom.us/v2"
	DefaultOAuthURL = "https://zoom.us/oauth/token"
)

// maxBody bounds how much of an answer is read: Zoom's bodies here are small, and an error
// page from a misbehaving proxy must not fill memory.
const maxBody = 1 << 20

// Zoom's error codes that mean something to us.
const (
	codeUserNotFound       = 1001 // "User does not exist: …"
	codeInvalidAccessToken = 124  // "Invalid access token."
	codeMissingScopes      = 4711 // "Invalid access token, does not contain scopes: …"
)

// Config says how to reach Zoom.
type Config struct {
	// AccountID, ClientID and ClientSecret are the Server-to-Server OAuth app's credentials
	// (ZOOM_ACCOUNT_ID, ZOOM_CLIENT_ID, ZOOM_CLIENT_SECRET).
	AccountID    string
	ClientID     string
	ClientSecret string
	// APIURL is the REST base (ZOOM_API_URL); empty means DefaultAPIURL. It wins over the
	// api_url Zoom puts in token answers, so tests and proxies stay in control.
	APIURL string
	// OAuthURL is the token endpoint (ZOOM_OAUTH_URL); empty means DefaultOAuthURL.
	OAuthURL string
	// HTTPClient carries both token fetches and API calls; nil means edge.Client(nil).
	HTTPClient *http.Client
}

// Provider signs people out of Zoom. It is safe for concurrent use.
type Provider struct {
	api    string
	hc     *http.Client
	tokens *edge.TokenCache
	now    func() time.Time
}

// New checks the configuration without touching the network. Errors name the variable that
// is wrong and never include the secret.
func New(ctx context.Context, cfg Config) (*Provider, error) {
	for _, v := range []struct{ name, value string }{
		{"ZOOM_ACCOUNT_ID", cfg.AccountID},
		{"ZOOM_CLIENT_ID", cfg.ClientID},
		{"ZOOM_CLIENT_SECRET", cfg.ClientSecret},
	} {
		if strings.TrimSpace(v.value) == "" {
			return nil, fmt.Errorf("zoom: %s is empty: copy it from the Server-to-Server OAuth app's credentials page", v.name)
		}
	}
	api, err := httpURL("ZOOM_API_URL", cfg.APIURL, DefaultAPIURL)
	if err != nil {
		return nil, err
	}
	tokenURL, err := httpURL("ZOOM_OAUTH_URL", cfg.OAuthURL, DefaultOAuthURL)
	if err != nil {
		return nil, err
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = edge.Client(nil)
	}
	cc := &clientcredentials.Config{
		ClientID:     cfg.ClientID,
		ClientSecret: cfg.ClientSecret,
		TokenURL:     tokenURL,
		// clientcredentials lets grant_type be overridden; Zoom's S2S grant is its own.
		EndpointParams: url.Values{"grant_type": {"account_credentials"}, "account_id": {cfg.AccountID}},
		// Zoom wants Basic auth; naming it spares a failed first try with the other style.
		AuthStyle: oauth2.AuthStyleInHeader,
	}
	return &Provider{
		api: strings.TrimRight(api, "/"),
		hc:  hc,
		tokens: edge.NewTokenCache(func(ctx context.Context) (*oauth2.Token, error) {
			return cc.Token(context.WithValue(ctx, oauth2.HTTPClient, hc))
		}),
		now: time.Now,
	}, nil
}

// Name is "zoom".
func (p *Provider) Name() string { return "zoom" }

// Lookup reads the user: Zoom answers 404 with code 1001 when there is none.
func (p *Provider) Lookup(ctx context.Context, t reset.Target) error {
	email, err := userID(t)
	if err != nil {
		return err
	}
	return p.classify("lookup", email, p.call(ctx, http.MethodGet, "/users/"+url.PathEscape(email)))
}

// Revoke revokes the user's SSO token, which signs them out of every Zoom client.
func (p *Provider) Revoke(ctx context.Context, t reset.Target) error {
	email, err := userID(t)
	if err != nil {
		return err
	}
	return p.classify("revoke", email, p.call(ctx, http.MethodDelete, "/users/"+url.PathEscape(email)+"/token"))
}

// Check obtains a token and lists one user: it proves the credentials and the read scope,
// and warms the token cache for the first reset.
func (p *Provider) Check(ctx context.Context) error {
	return p.classify("check", "", p.call(ctx, http.MethodGet, "/users?page_size=1"))
}

// apiError is Zoom's JSON error answer: {"code":1001,"message":"User does not exist: …"}.
type apiError struct {
	Status  int
	Code    int    `json:"code"`
	Message string `json:"message"`
	Header  http.Header
}

func (e *apiError) Error() string {
	if e.Message != "" {
		return e.Message
	}
	return fmt.Sprintf("HTTP %d %s", e.Status, http.StatusText(e.Status))
}

// call sends one authorised request and turns any non-2xx answer into an *apiError.
func (p *Provider) call(ctx context.Context, method, path string) error {
	tok, err := p.tokens.Token(ctx)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, method, p.api+path, nil)
	if err != nil {
		return err
	}
	tok.SetAuthHeader(req)
	req.Header.Set("Accept", "application/json")
	res, err := p.hc.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, maxBody))
	if res.StatusCode >= 200 && res.StatusCode < 300 {
		return nil // the answer is in; a body cut short changes nothing
	}
	if err != nil {
		return err
	}
	ae := &apiError{Status: res.StatusCode, Header: res.Header}
	_ = json.Unmarshal(body, ae) // a non-JSON error page leaves the status to speak
	return ae
}

// classify turns any error of an operation on who into a reset.Error carrying Zoom's own
// words: code 1001 or 404 is no account, 429 and 5xx retry, 401 and 403 name the scope.
func (p *Provider) classify(op, who string, err error) error {
	if err == nil {
		return nil
	}
	var prefix, scope string
	switch op {
	case "revoke":
		prefix, scope = "revoke zoom sessions for "+who, "user:write:admin"
	case "lookup":
		prefix, scope = "look up zoom account "+who, "user:read:admin"
	default:
		prefix, scope = "check zoom access", "user:read:admin"
	}
	permission := "the scope " + scope + " on the Zoom Server-to-Server OAuth app (ZOOM_CLIENT_ID)"

	var (
		ae *apiError
		re *oauth2.RetrieveError
	)
	switch {
	case errors.As(err, &ae):
		msg := fmt.Errorf("%s: %s", prefix, ae.Error())
		switch {
		case ae.Code == codeUserNotFound:
			return reset.NoAccountError(msg)
		case ae.Status == http.StatusUnauthorized || ae.Code == codeInvalidAccessToken:
			p.tokens.Forget() // a token Zoom rejects is not reused for the next reset
			return reset.HTTPError(http.StatusUnauthorized, 0, permission, msg)
		case ae.Code == codeMissingScopes:
			return reset.HTTPError(http.StatusForbidden, 0, permission, msg)
		default:
			return reset.HTTPError(ae.Status, retryAfter(ae.Header, p.now()), permission, msg)
		}
	case errors.As(err, &re):
		status, header := 0, http.Header(nil)
		if re.Response != nil {
			status, header = re.Response.StatusCode, re.Response.Header
		}
		msg := fmt.Errorf("%s: zoom refused an access token (%s)", prefix, tokenError(re))
		switch {
		case status == http.StatusTooManyRequests:
			return reset.RetryableError(status, retryAfter(header, p.now()), "rate_limited", msg)
		case status >= 500:
			return reset.RetryableError(status, retryAfter(header, p.now()), "server_error", msg)
		case re.ErrorCode == "invalid_client" || status == http.StatusUnauthorized:
			return reset.PermanentError(status, fmt.Errorf("%w; check ZOOM_CLIENT_ID and ZOOM_CLIENT_SECRET, and that the Server-to-Server OAuth app is activated", msg))
		default:
			return reset.PermanentError(status, fmt.Errorf("%w; check ZOOM_ACCOUNT_ID and that the app is a Server-to-Server OAuth app", msg))
		}
	default:
		// Cancellation, deadlines and broken connections: reset.Classify reads them.
		return fmt.Errorf("%s: %w", prefix, err)
	}
}

// tokenError is Zoom's own words for a refused token: it says them in "reason", not in
// OAuth's error_description.
func tokenError(re *oauth2.RetrieveError) string {
	var body struct {
		Reason string `json:"reason"`
	}
	_ = json.Unmarshal(re.Body, &body)
	desc := re.ErrorDescription
	if desc == "" {
		desc = body.Reason
	}
	switch {
	case re.ErrorCode != "" && desc != "":
		return re.ErrorCode + ": " + desc
	case re.ErrorCode != "":
		return re.ErrorCode
	case desc != "":
		return desc
	case re.Response != nil:
		return "HTTP " + re.Response.Status
	default:
		return "no reason given"
	}
}

// retryAfter reads Retry-After as seconds or an HTTP date, and also as the RFC 3339 time
// Zoom sends when a daily limit resets.
func retryAfter(h http.Header, now time.Time) time.Duration {
	if d := edge.RetryAfter(h, now); d > 0 {
		return d
	}
	if at, err := time.Parse(time.RFC3339, h.Get("Retry-After")); err == nil {
		return max(at.Sub(now), 0)
	}
	return 0
}

// userID is how Zoom names the target: its email (Zoom accepts it in place of the user id),
// else the Okta login, which is usually the same address.
func userID(t reset.Target) (string, error) {
	if t.Email != "" {
		return t.Email, nil
	}
	if t.Login != "" {
		return t.Login, nil
	}
	return "", reset.PermanentError(0, fmt.Errorf("zoom: target %s has no email or login to look up", t))
}

func httpURL(name, raw, def string) (string, error) {
	if raw == "" {
		return def, nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", fmt.Errorf("zoom: %s %q is not an http(s) URL", name, raw)
	}
	return raw, nil
}
