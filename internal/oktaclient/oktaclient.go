// Package oktaclient builds the one kind of Okta SDK client resetbot trusts, shared by the Okta
// provider and the directory:
//
//   - configured only from what resetbot was given. okta-sdk-golang v2 reads ~/.okta/okta.yaml,
//     a .okta.yaml next to its own sources and every OKTA_CLIENT_* / OKTA_TESTING_* variable
//     inside NewClient, before any option applies, and offers no switch to stop it. New
//     therefore sets every field those sources can reach, so whatever they held is overwritten
//     (the files are still read, which is harmless);
//   - with the SDK's response cache off: cached GET answers (300 s by default) would keep a
//     responder who was just removed from a group authorised;
//   - with the SDK's own retries off, so the executor alone decides when to try again, and with
//     a guard transport (see guard.go) for the SDK behaviours no option reaches.
package oktaclient

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/okta/okta-sdk-golang/v2/okta"

	"github.com/resetbot/resetbot/internal/provider/edge"
)

// The OAuth scopes resetbot needs from an Okta service app: reading users (lookups, the
// directory), managing them (clearing sessions) and reading groups (who may request).
// ScopeSchemasRead is optional: only `resetbot check` reads the user schema, with a token of
// its own, so an app without that grant works as before.
const (
	ScopeUsersRead   = "okta.users.read"
	ScopeUsersManage = "okta.users.manage"
	ScopeGroupsRead  = "okta.groups.read"
	ScopeSchemasRead = "okta.schemas.read"
)

// Config says how to reach one Okta org. Set APIToken for an SSWS API token, or ClientID and
// PrivateKeyPEM for an OAuth service app that authenticates with a private-key JWT; not both.
type Config struct {
	// OrgURL is https://your-org.okta.com (OKTA_ORG_URL).
	OrgURL string
	// APIToken is an SSWS API token (OKTA_API_TOKEN).
	APIToken string
	// ClientID is the OAuth service app's client id (OKTA_CLIENT_ID).
	ClientID string
	// PrivateKeyPEM is the service app's RSA private key, PKCS#1 or PKCS#8 PEM; the caller
	// reads OKTA_PRIVATE_KEY_FILE.
	PrivateKeyPEM []byte
	// PrivateKeyID is the key's kid as registered with the app (OKTA_PRIVATE_KEY_ID); Okta
	// needs it when the app has more than one key.
	PrivateKeyID string
	// Scopes requested by a service app; empty means DefaultScopes().
	Scopes []string
	// HTTPClient carries every call, token requests included; nil means edge.Client(nil). It
	// is not modified: New wraps a copy.
	HTTPClient *http.Client
	// RateObserver, when set, hears what every Okta answer (errors and 429s included) says of
	// the rate-limit window it was counted in: in bucket, w.Remaining more requests until
	// w.Reset. Okta's limits are per org, shared with every other integration, so this is how
	// a limiter learns the room really left (pace.Limiter.ObserveWindow). Answers without both
	// headers, or with unreadable ones, are not reported. It is called on the request's
	// goroutine before the SDK reads the answer, so it must be quick and must not block.
	RateObserver func(bucket Bucket, w Window)
}

// DefaultScopes are the scopes a service app asks for when Config.Scopes is empty.
func DefaultScopes() []string { return []string{ScopeUsersRead, ScopeUsersManage, ScopeGroupsRead} }

// ServiceApp reports whether cfg selects the OAuth service app rather than an API token.
func (cfg Config) ServiceApp() bool { return cfg.ClientID != "" }

// New checks cfg and builds an SDK client without touching the network. Errors name what is
// wrong and never include the token or the key.
func New(ctx context.Context, cfg Config) (*okta.Client, error) {
	orgURL, err := checkOrgURL(cfg.OrgURL)
	if err != nil {
		return nil, err
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = edge.Client(nil)
	}
	guarded := *hc
	guarded.Transport = &guard{next: hc.Transport, observe: cfg.RateObserver}

	// Every setter below overwrites a field NewClient may already have filled from a file or
	// the environment; keep the list complete when upgrading the SDK (see config.go there).
	setters := []okta.ConfigSetter{
		okta.WithOrgUrl(orgURL),
		okta.WithHttpClientPtr(&guarded),
		okta.WithCache(false),
		okta.WithCacheManager(nil),
		okta.WithCacheTtl(0),
		okta.WithCacheTti(0),
		okta.WithRateLimitMaxRetries(0),
		okta.WithRateLimitMaxBackOff(0),
		okta.WithRequestTimeout(0), // deadlines come from ctx
		okta.WithConnectionTimeout(0),
		okta.WithProxyHost(""), // unused when an HTTP client is given; HTTPS_PROXY applies
		okta.WithProxyPort(0),
		okta.WithProxyUsername(""),
		okta.WithProxyPassword(""),
		okta.WithTestingDisableHttpsCheck(false),
		okta.WithUserAgentExtra("resetbot"),
		okta.WithClientAssertion(""),
	}

	switch {
	case cfg.APIToken != "" && cfg.ClientID != "":
		return nil, errors.New("okta: both an API token and a service app client id are set: use OKTA_API_TOKEN, or OKTA_CLIENT_ID with OKTA_PRIVATE_KEY_FILE, not both")
	case cfg.APIToken != "":
		setters = append(setters,
			okta.WithAuthorizationMode("SSWS"),
			okta.WithToken(cfg.APIToken),
			okta.WithClientId(""),
			okta.WithScopes(nil),
			okta.WithPrivateKey(""),
			okta.WithPrivateKeyId(""),
			okta.WithPrivateKeySigner(nil),
		)
	case cfg.ClientID != "":
		withSigner, err := keySigner(cfg.PrivateKeyPEM, cfg.PrivateKeyID)
		if err != nil {
			return nil, err
		}
		scopes := cfg.Scopes
		if len(scopes) == 0 {
			scopes = DefaultScopes()
		}
		setters = append(setters,
			okta.WithAuthorizationMode("PrivateKey"),
			okta.WithToken(""),
			okta.WithClientId(cfg.ClientID),
			okta.WithScopes(append([]string(nil), scopes...)),
			// The key goes in as a signer, never as a string: WithPrivateKey takes a string
			// that may also be a file path and exits the process when it cannot read it.
			okta.WithPrivateKey(""),
			okta.WithPrivateKeyId(cfg.PrivateKeyID),
			withSigner,
		)
	default:
		return nil, errors.New("okta: no credentials: set OKTA_API_TOKEN, or OKTA_CLIENT_ID and OKTA_PRIVATE_KEY_FILE for an OAuth service app")
	}

	_, client, err := okta.NewClient(ctx, setters...)
	if err != nil {
		// The SDK's validation messages name the URL at most, never the token.
		return nil, fmt.Errorf("okta: %w", err)
	}
	return client, nil
}

// checkOrgURL accepts https://host[:port] and drops a trailing slash; the SDK appends API
// paths to it verbatim.
func checkOrgURL(raw string) (string, error) {
	s := strings.TrimSuffix(strings.TrimSpace(raw), "/")
	if s == "" {
		return "", errors.New("okta: OKTA_ORG_URL is empty: set it to your org, e.g. https://your-org.okta.com")
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", fmt.Errorf("okta: OKTA_ORG_URL %q is not an https URL like https://your-org.okta.com", s)
	}
	if u.Path != "" {
		return "", fmt.Errorf("okta: OKTA_ORG_URL %q has a path: give the org alone, e.g. https://%s", s, u.Host)
	}
	return s, nil
}

// keySigner turns the service app's PEM key into the SDK option carrying its signer. The SDK
// reads only PKCS#1 ("RSA PRIVATE KEY"), while the Okta admin console and openssl hand out
// PKCS#8 ("PRIVATE KEY"), so PKCS#8 RSA keys are converted first.
func keySigner(keyPEM []byte, keyID string) (okta.ConfigSetter, error) {
	if len(keyPEM) == 0 {
		return nil, errors.New("okta: the service app's private key (OKTA_PRIVATE_KEY_FILE) is empty")
	}
	block, _ := pem.Decode(keyPEM)
	if block == nil {
		return nil, errors.New("okta: the service app's private key (OKTA_PRIVATE_KEY_FILE) is not PEM: expected a -----BEGIN PRIVATE KEY----- block")
	}
	var key *rsa.PrivateKey
	switch block.Type {
	case "RSA PRIVATE KEY":
		k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("okta: read the service app's private key (OKTA_PRIVATE_KEY_FILE): %v", err)
		}
		key = k
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("okta: read the service app's private key (OKTA_PRIVATE_KEY_FILE): %v", err)
		}
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("okta: the service app's private key (OKTA_PRIVATE_KEY_FILE) is a %T key; okta-sdk-golang v2 signs with RSA keys only", k)
		}
		key = rk
	default:
		return nil, fmt.Errorf("okta: the service app's private key (OKTA_PRIVATE_KEY_FILE) holds a %q PEM block, not a private key", block.Type)
	}
	pkcs1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	signer, err := okta.CreateKeySigner(string(pkcs1), keyID)
	if err != nil {
		return nil, fmt.Errorf("okta: read the service app's private key (OKTA_PRIVATE_KEY_FILE): %v", err)
	}
	return okta.WithPrivateKeySigner(signer), nil
}
