// Package google signs people out of Google Workspace with the Admin SDK Directory API
// (users.signOut), acting as a Workspace admin through a service account's domain-wide
// delegation.
package google

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"
	googleoauth "golang.org/x/oauth2/google"
	admin "google.golang.org/api/admin/directory/v1"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"

	"github.com/resetbot/resetbot/internal/provider/edge"
	"github.com/resetbot/resetbot/internal/reset"
)

// DefaultAPIURL is the Admin SDK's base; national or test setups override it.
const DefaultAPIURL = "https://admin.googleapis.com/"

// scopes are the only ones requested. Google refuses a delegated token when any requested
// scope was not delegated, and the SDK's default list holds dozens, so ask for exactly what
// signing out (user.security) and looking up (user.readonly) need.
var scopes = []string{admin.AdminDirectoryUserSecurityScope, admin.AdminDirectoryUserReadonlyScope}

// Config says how to reach Google Workspace.
type Config struct {
	// CredentialsJSON is the service-account key file (GOOGLE_APPLICATION_CREDENTIALS).
	CredentialsJSON []byte
	// Subject is the admin the service account acts as (GOOGLE_ADMIN_SUBJECT).
	Subject string
	// APIURL is the Admin SDK base (GOOGLE_API_URL); empty means DefaultAPIURL.
	APIURL string
	// HTTPClient carries both token fetches and API calls; nil means edge.Client(nil).
	HTTPClient *http.Client
}

// Provider signs people out of Google Workspace. It is safe for concurrent use.
type Provider struct {
	users    *admin.UsersService
	tokens   *edge.TokenCache
	subject  string
	clientID string
	now      func() time.Time
}

// serviceAccountKey is the part of the key file New checks before any token is asked for.
type serviceAccountKey struct {
	Type        string `json:"type"`
	ClientEmail string `json:"client_email"`
	ClientID    string `json:"client_id"`
	PrivateKey  string `json:"private_key"`
}

// New checks the configuration and builds the Directory API client without touching the
// network. Errors name what is wrong and never include the key.
func New(ctx context.Context, cfg Config) (*Provider, error) {
	if strings.TrimSpace(cfg.Subject) == "" {
		return nil, errors.New("google: GOOGLE_ADMIN_SUBJECT is empty: set it to the email of a Workspace admin for the service account to act as")
	}
	key, err := parseKey(cfg.CredentialsJSON)
	if err != nil {
		return nil, err
	}
	apiURL, err := baseURL(cfg.APIURL)
	if err != nil {
		return nil, err
	}
	jc, err := googleoauth.JWTConfigFromJSON(cfg.CredentialsJSON, scopes...)
	if err != nil {
		return nil, fmt.Errorf("google: read the service-account key: %w", err)
	}
	jc.Subject = cfg.Subject

	hc := cfg.HTTPClient
	if hc == nil {
		hc = edge.Client(nil)
	}
	tokens := edge.NewTokenCache(func(ctx context.Context) (*oauth2.Token, error) {
		tok, err := jc.TokenSource(context.WithValue(ctx, oauth2.HTTPClient, boundClient(ctx, hc))).Token()
		var re *oauth2.RetrieveError
		switch {
		case err == nil, errors.As(err, &re):
			return tok, err
		case ctx.Err() != nil:
			return nil, context.Cause(ctx)
		default:
			// The JWT flow flattens transport errors into text; keep them recognisable.
			return nil, &tokenFetchError{err: err}
		}
	})
	api := *hc
	api.Transport = &bearer{base: transport(hc), tokens: tokens}
	svc, err := admin.NewService(ctx, option.WithHTTPClient(&api), option.WithEndpoint(apiURL))
	if err != nil {
		return nil, fmt.Errorf("google: build the Directory API client: %w", err)
	}
	return &Provider{
		users:    svc.Users,
		tokens:   tokens,
		subject:  cfg.Subject,
		clientID: key.ClientID,
		now:      time.Now,
	}, nil
}

// Name is "google".
func (p *Provider) Name() string { return "google" }

// Lookup asks for the user's id and primary address: whether the account exists is what the plan
// shows, and under which address when the name asked was an alias.
func (p *Provider) Lookup(ctx context.Context, t reset.Target) error {
	key, err := userKey(t)
	if err != nil {
		return err
	}
	u, err := p.users.Get(key).Fields("id", "primaryEmail").Context(ctx).Do()
	if err == nil {
		// users.get resolves an alias: the plan names the account it belongs to.
		reset.FoundAs(ctx, u.PrimaryEmail)
	}
	return p.classify("lookup", key, err)
}

// Revoke signs the user out of every web and device session (users.signOut).
func (p *Provider) Revoke(ctx context.Context, t reset.Target) error {
	key, err := userKey(t)
	if err != nil {
		return err
	}
	return p.classify("revoke", key, p.users.SignOut(key).Context(ctx).Do())
}

// Check fetches a token and reads the admin's own account: it proves the key, the delegation
// and both scopes work, and warms the token cache for the first reset.
func (p *Provider) Check(ctx context.Context) error {
	_, err := p.users.Get(p.subject).Fields("id").Context(ctx).Do()
	return p.classify("check", p.subject, err)
}

// tokenFetchError marks a token fetch that failed without an answer from Google.
type tokenFetchError struct{ err error }

func (e *tokenFetchError) Error() string { return e.err.Error() }

// classify turns any error of an operation on who into a reset.Error carrying Google's own
// words: 404 is no account, 429 and 5xx retry, 401 and 403 name the delegation to grant.
func (p *Provider) classify(op, who string, err error) error {
	if err == nil {
		return nil
	}
	var prefix string
	switch op {
	case "revoke":
		prefix = "revoke google sessions for " + who
	case "lookup":
		prefix = "look up google account " + who
	default:
		prefix = "check google access as " + who
	}
	permission := fmt.Sprintf("domain-wide delegation for client id %s with the scopes %s and %s, acting as an admin (GOOGLE_ADMIN_SUBJECT=%s)",
		p.clientID, admin.AdminDirectoryUserSecurityScope, admin.AdminDirectoryUserReadonlyScope, p.subject)

	var (
		gerr *googleapi.Error
		rerr *oauth2.RetrieveError
		ferr *tokenFetchError
	)
	switch {
	case errors.As(err, &gerr):
		if gerr.Code == http.StatusUnauthorized {
			p.tokens.Forget()
		}
		msg := gerr.Message
		if msg == "" {
			msg = fmt.Sprintf("HTTP %d %s", gerr.Code, http.StatusText(gerr.Code))
		}
		return reset.HTTPError(gerr.Code, edge.RetryAfter(gerr.Header, p.now()), permission, fmt.Errorf("%s: %s", prefix, msg))
	case errors.As(err, &rerr):
		status, header := 0, http.Header(nil)
		if rerr.Response != nil {
			status, header = rerr.Response.StatusCode, rerr.Response.Header
		}
		code, desc := tokenError(rerr)
		msg := fmt.Errorf("%s: google refused an access token (%s: %s)", prefix, code, desc)
		switch {
		case status == http.StatusTooManyRequests:
			return reset.RetryableError(status, edge.RetryAfter(header, p.now()), "rate_limited", msg)
		case status >= 500:
			return reset.RetryableError(status, edge.RetryAfter(header, p.now()), "server_error", msg)
		case code == "invalid_grant":
			return reset.PermanentError(status, fmt.Errorf("%w; either the service-account key was deleted or GOOGLE_ADMIN_SUBJECT is not an existing admin; the app needs %s", msg, permission))
		default:
			return reset.PermanentError(status, fmt.Errorf("%w; the app needs %s", msg, permission))
		}
	case errors.As(err, &ferr):
		return reset.RetryableError(0, 0, "connection", fmt.Errorf("%s: get an access token: %v", prefix, ferr.err))
	default:
		// Cancellation, deadlines and broken connections: reset.Classify reads them.
		return fmt.Errorf("%s: %w", prefix, err)
	}
}

// tokenError reads Google's OAuth error; x/oauth2/jwt leaves the body unparsed.
func tokenError(re *oauth2.RetrieveError) (code, desc string) {
	code, desc = re.ErrorCode, re.ErrorDescription
	if code == "" {
		var body struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		if json.Unmarshal(re.Body, &body) == nil {
			code, desc = body.Error, body.Description
		}
	}
	if code == "" && re.Response != nil {
		code = re.Response.Status
	}
	return code, desc
}

// userKey is how the Directory API names the target: the primary email (or an alias), else
// the Okta login, which is usually the same address.
func userKey(t reset.Target) (string, error) {
	if t.Email != "" {
		return t.Email, nil
	}
	if t.Login != "" {
		return t.Login, nil
	}
	return "", reset.PermanentError(0, fmt.Errorf("google: target %s has no email or login to look up", t))
}

// parseKey checks the key file enough that a wrong file fails at startup, not at the first
// reset, without ever echoing the key.
func parseKey(raw []byte) (serviceAccountKey, error) {
	var k serviceAccountKey
	if len(strings.TrimSpace(string(raw))) == 0 {
		return k, errors.New("google: the service-account key (GOOGLE_APPLICATION_CREDENTIALS) is empty")
	}
	if err := json.Unmarshal(raw, &k); err != nil {
		return k, errors.New("google: the service-account key (GOOGLE_APPLICATION_CREDENTIALS) is not a JSON key file")
	}
	if k.Type != "service_account" {
		return k, fmt.Errorf("google: GOOGLE_APPLICATION_CREDENTIALS holds a %q credential; domain-wide delegation needs a service-account key (\"type\": \"service_account\")", k.Type)
	}
	if k.ClientEmail == "" || k.ClientID == "" {
		return k, errors.New("google: the service-account key has no client_email or client_id")
	}
	block, _ := pem.Decode([]byte(k.PrivateKey))
	if block == nil {
		return k, errors.New("google: the service-account key's private_key is not PEM-encoded")
	}
	if _, err := x509.ParsePKCS8PrivateKey(block.Bytes); err != nil {
		if _, err1 := x509.ParsePKCS1PrivateKey(block.Bytes); err1 != nil {
			return k, errors.New("google: the service-account key's private_key is not an RSA private key")
		}
	}
	return k, nil
}

// baseURL validates GOOGLE_API_URL and gives it the trailing slash the SDK's relative paths
// need.
func baseURL(raw string) (string, error) {
	if raw == "" {
		return DefaultAPIURL, nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", fmt.Errorf("google: GOOGLE_API_URL %q is not an http(s) URL", raw)
	}
	if !strings.HasSuffix(raw, "/") {
		raw += "/"
	}
	return raw, nil
}

func transport(hc *http.Client) http.RoundTripper {
	if hc.Transport != nil {
		return hc.Transport
	}
	return http.DefaultTransport
}
