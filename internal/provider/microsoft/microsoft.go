// Package microsoft signs a person out of Microsoft 365: it revokes their Entra ID sign-in
// sessions through Microsoft Graph (POST /users/{upn}/revokeSignInSessions), which invalidates
// every refresh token and session cookie issued to them.
//
// It is the only package that imports msgraph-sdk-go, kiota and azidentity: the Graph SDK takes
// minutes and gigabytes to compile, so nothing else should pull it in.
package microsoft

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	kiotaazure "github.com/microsoft/kiota-authentication-azure-go"
	khttp "github.com/microsoft/kiota-http-go"
	msgraphsdk "github.com/microsoftgraph/msgraph-sdk-go"
	msgraphcore "github.com/microsoftgraph/msgraph-sdk-go-core"
	"github.com/microsoftgraph/msgraph-sdk-go/users"

	"github.com/resetbot/resetbot/internal/provider/edge"
	"github.com/resetbot/resetbot/internal/reset"
)

// Defaults for the public cloud; national clouds override both.
const (
	DefaultAuthorityHost = "https://login.microsoftonline.com/"
	DefaultGraphURL      = "https://graph.microsoft.com/v1.0"
)

// Config says which Entra app signs people out and where Entra ID and Graph are.
type Config struct {
	TenantID     string // AZURE_TENANT_ID
	ClientID     string // AZURE_CLIENT_ID
	ClientSecret string // AZURE_CLIENT_SECRET
	// AuthorityHost is AZURE_AUTHORITY_HOST; default DefaultAuthorityHost.
	AuthorityHost string
	// GraphURL is MSGRAPH_API_URL, Graph's base including the version; default DefaultGraphURL.
	GraphURL string
	// Scopes asked for in the token request. Default: the .default scope of the Graph resource
	// of GraphURL's cloud, which for any host that is not a known Graph host (a proxy, a
	// gateway, a fake) stays https://graph.microsoft.com/.default: a token's audience is the
	// Graph resource, not the host that relays the call.
	Scopes []string
	// HTTPClient carries both token and Graph requests; nil means edge.Client(nil).
	HTTPClient *http.Client
}

// Provider revokes Microsoft 365 sessions. It is safe for concurrent use. Its credential keeps
// the Graph token in MSAL's in-memory cache, which fetches a new one five minutes before the old
// one expires, and serialises fetches, so a burst of resets costs a single token request.
type Provider struct {
	graph *msgraphsdk.GraphServiceClient
}

// New builds the credential and the Graph client without touching the network: the first token
// is fetched by the first call (Check, at startup, warms it).
func New(ctx context.Context, cfg Config) (*Provider, error) {
	cfg, err := withDefaults(cfg)
	if err != nil {
		return nil, fmt.Errorf("configure microsoft 365: %w", err)
	}
	graphURL, _ := url.Parse(cfg.GraphURL) // validated by withDefaults
	cred, err := azidentity.NewClientSecretCredential(cfg.TenantID, cfg.ClientID, cfg.ClientSecret,
		&azidentity.ClientSecretCredentialOptions{
			ClientOptions: azcore.ClientOptions{
				Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: cfg.AuthorityHost},
				Transport: cfg.HTTPClient,
				// The executor owns retries: one token request per attempt.
				Retry: policy.RetryOptions{MaxRetries: -1},
			},
			// For a host MSAL does not know, instance discovery would ask
			// login.microsoftonline.com to vouch for it, which a private or disconnected
			// cloud cannot reach; the operator named the host explicitly instead.
			DisableInstanceDiscovery: !wellKnownAuthority(cfg.AuthorityHost),
		})
	if err != nil {
		return nil, fmt.Errorf("configure microsoft 365 credential: %w", err)
	}
	// The auth provider attaches tokens only to allowed hosts, silently sending the request
	// without one otherwise: the configured Graph host must be among them.
	auth, err := kiotaazure.NewAzureIdentityAuthenticationProviderWithScopesAndValidHosts(cred, cfg.Scopes,
		append(graphHosts(), graphURL.Hostname()))
	if err != nil {
		return nil, fmt.Errorf("configure microsoft graph authentication: %w", err)
	}
	adapter, err := msgraphsdk.NewGraphRequestAdapterWithParseNodeFactoryAndSerializationWriterFactoryAndHttpClient(
		auth, nil, nil, graphHTTPClient(cfg.HTTPClient))
	if err != nil {
		return nil, fmt.Errorf("configure microsoft graph client: %w", err)
	}
	adapter.SetBaseUrl(strings.TrimRight(cfg.GraphURL, "/"))
	// NewGraphServiceClient rewrites the SDK's process-wide backing-store factory on every
	// call, racing with requests of clients built earlier; a nil factory keeps the default
	// and writes nothing shared.
	client := &msgraphsdk.GraphServiceClient{GraphBaseServiceClient: *msgraphsdk.NewGraphBaseServiceClient(adapter, nil)}
	return &Provider{graph: client}, nil
}

// Name is how users see this system.
func (p *Provider) Name() string { return "microsoft" }

// Lookup reads the user's id, which needs User.Read.All; nil when the account exists.
func (p *Provider) Lookup(ctx context.Context, t reset.Target) error {
	upn, err := principal(t)
	if err != nil {
		return reset.PermanentError(0, fmt.Errorf("look up microsoft 365 account for %s: %w", t, err))
	}
	_, err = p.graph.Users().ByUserId(upn).Get(ctx, &users.UserItemRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.UserItemRequestBuilderGetQueryParameters{Select: []string{"id", "userPrincipalName"}},
	})
	return classify(ctx, opLookup, upn, err)
}

// Revoke invalidates every refresh token and session cookie of the user, which needs
// User.RevokeSessions.All. Revoking twice is harmless.
func (p *Provider) Revoke(ctx context.Context, t reset.Target) error {
	upn, err := principal(t)
	if err != nil {
		return reset.PermanentError(0, fmt.Errorf("revoke microsoft 365 sessions for %s: %w", t, err))
	}
	res, err := p.graph.Users().ByUserId(upn).RevokeSignInSessions().PostAsRevokeSignInSessionsPostResponse(ctx, nil)
	if err != nil {
		return classify(ctx, opRevoke, upn, err)
	}
	if v := res.GetValue(); v != nil && !*v {
		return reset.PermanentError(http.StatusOK, fmt.Errorf("revoke microsoft 365 sessions for %s: graph answered false", upn))
	}
	return nil
}

// Check obtains a token and reads one user id: the smallest read that proves the tenant, the
// app, its secret and its Graph permissions. It also warms the token cache for the first reset.
func (p *Provider) Check(ctx context.Context) error {
	top := int32(1)
	_, err := p.graph.Users().Get(ctx, &users.UsersRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.UsersRequestBuilderGetQueryParameters{Top: &top, Select: []string{"id"}},
	})
	return classify(ctx, opCheck, "", err)
}

// principal is the name Graph knows the target by: the Okta login when it is an address (Okta
// logins usually are the UPN), the email otherwise.
func principal(t reset.Target) (string, error) {
	switch {
	case strings.Contains(t.Login, "@"):
		return t.Login, nil
	case t.Email != "":
		return t.Email, nil
	default:
		return "", errors.New("no user principal name: the target has neither an address as login nor an email")
	}
}

// withDefaults fills defaults and rejects what cannot work, naming the variable to fix.
func withDefaults(cfg Config) (Config, error) {
	var missing []string
	for _, v := range []struct{ name, value string }{
		{"AZURE_TENANT_ID", cfg.TenantID}, {"AZURE_CLIENT_ID", cfg.ClientID}, {"AZURE_CLIENT_SECRET", cfg.ClientSecret},
	} {
		if strings.TrimSpace(v.value) == "" {
			missing = append(missing, v.name)
		}
	}
	if len(missing) > 0 {
		return cfg, fmt.Errorf("missing %s", strings.Join(missing, ", "))
	}
	if strings.ContainsFunc(cfg.TenantID, func(r rune) bool {
		return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '.' || r == '-')
	}) {
		return cfg, fmt.Errorf("AZURE_TENANT_ID %q is not a tenant id or domain", cfg.TenantID)
	}
	if cfg.AuthorityHost == "" {
		cfg.AuthorityHost = DefaultAuthorityHost
	}
	if err := httpsURL("AZURE_AUTHORITY_HOST", cfg.AuthorityHost); err != nil {
		return cfg, err
	}
	if !strings.HasSuffix(cfg.AuthorityHost, "/") {
		cfg.AuthorityHost += "/"
	}
	if cfg.GraphURL == "" {
		cfg.GraphURL = DefaultGraphURL
	}
	if err := httpsURL("MSGRAPH_API_URL", cfg.GraphURL); err != nil {
		return cfg, err
	}
	if len(cfg.Scopes) == 0 {
		u, _ := url.Parse(cfg.GraphURL)
		cfg.Scopes = []string{graphScope(u.Hostname())}
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = edge.Client(nil)
	}
	return cfg, nil
}

// httpsURL checks a base URL: tokens travel to these hosts, so only over https.
func httpsURL(name, raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%s %q is not a URL: %w", name, raw, err)
	}
	if u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("%s %q must be an https:// URL", name, raw)
	}
	return nil
}

// graphScopes maps each national cloud's Graph host to its own resource; Graph hosts not
// listed (canary, proxies, fakes) use the global resource.
var graphScopes = map[string]string{
	"graph.microsoft.com":             "https://graph.microsoft.com/.default",
	"graph.microsoft.us":              "https://graph.microsoft.us/.default",
	"dod-graph.microsoft.us":          "https://dod-graph.microsoft.us/.default",
	"graph.microsoft.de":              "https://graph.microsoft.de/.default",
	"microsoftgraph.chinacloudapi.cn": "https://microsoftgraph.chinacloudapi.cn/.default",
}

func graphScope(host string) string {
	if s, ok := graphScopes[strings.ToLower(host)]; ok {
		return s
	}
	return graphScopes["graph.microsoft.com"]
}

// graphHosts are the hosts msgraph-sdk-go sends tokens to by default.
func graphHosts() []string {
	return []string{"graph.microsoft.com", "graph.microsoft.us", "dod-graph.microsoft.us",
		"graph.microsoft.de", "microsoftgraph.chinacloudapi.cn", "canary.graph.microsoft.com"}
}

// wellKnownAuthority reports whether MSAL trusts host without instance discovery (its own
// list of Entra ID hosts across the public and national clouds).
func wellKnownAuthority(authorityHost string) bool {
	u, err := url.Parse(authorityHost)
	if err != nil {
		return false
	}
	switch strings.ToLower(u.Host) {
	case "login.microsoftonline.com", "login.windows.net", "login.microsoft.com", "sts.windows.net",
		"login.partner.microsoftonline.cn", "login.chinacloudapi.cn", "login.microsoftonline.de",
		"login-us.microsoftonline.com", "login.microsoftonline.us", "login.usgovcloudapi.net",
		"login.sovcloud-identity.fr", "login.sovcloud-identity.de", "login.sovcloud-identity.sg":
		return true
	}
	return false
}

// graphHTTPClient wraps base in Graph's middleware pipeline minus the RetryHandler, which
// would otherwise retry 429 and 5xx itself (up to three times, sleeping on Retry-After) behind
// the executor's back. The compression handler is left out too (its 415 fallback is a hidden
// second request, and our calls carry no body), and so is the redirect handler: Go's client
// follows redirects itself, dropping the Authorization header when the host changes.
func graphHTTPClient(base *http.Client) *http.Client {
	opts := msgraphsdk.GetDefaultClientOptions()
	parent := base.Transport
	if parent == nil {
		parent = http.DefaultTransport
	}
	c := *base
	c.Transport = khttp.NewCustomTransportWithParentTransport(parent,
		msgraphcore.NewGraphTelemetryHandler(&opts),
		khttp.NewParametersNameDecodingHandler(),
		khttp.NewUserAgentHandler(),
		khttp.NewHeadersInspectionHandler(),
	)
	return &c
}
