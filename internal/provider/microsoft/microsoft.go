// Package microsoft signs a person out of Microsoft 365: it revokes their Entra ID sign-in
// sessions through Microsoft Graph (POST /users/{upn}/revokeSignInSessions), which invalidates
// every refresh token and session cookie issued to them.
//
// It is the only package that imports azidentity, kiota and the Graph SDKs. It makes its three
// Graph calls through msgraph-sdk-go-core's request adapter (kiota's net/http adapter with
// Graph's middleware), describing each request itself, and reads Graph's error bodies with
// msgraph-sdk-go's models/odataerrors. It does not use msgraph-sdk-go's GraphServiceClient or
// its request builders: the client's accessors reach the SDK's whole generated tree, which the
// linker then keeps (text/template, used elsewhere in the binary, makes it keep every exported
// method of a reachable type), so three calls cost most of the binary and a cold build compiled
// the whole SDK for minutes and gigabytes. Only models/odataerrors of it is compiled now.
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
	abstractions "github.com/microsoft/kiota-abstractions-go"
	absser "github.com/microsoft/kiota-abstractions-go/serialization"
	kiotaazure "github.com/microsoft/kiota-authentication-azure-go"
	khttp "github.com/microsoft/kiota-http-go"
	kjson "github.com/microsoft/kiota-serialization-json-go"
	msgraphcore "github.com/microsoftgraph/msgraph-sdk-go-core"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"

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
	graph abstractions.RequestAdapter
}

// New builds the credential and the Graph request adapter without touching the network: the
// first token is fetched by the first call (Check, at startup, warms it).
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
	// The adapter gets registries of its own, holding the one format Graph answers in, rather
	// than kiota's process-wide defaults, which GraphServiceClient's constructor rewrites on
	// every call: nothing shared is written, and nothing but JSON is parsed. No request here
	// has a body, so no serializer is registered.
	parsers := absser.NewParseNodeFactoryRegistry()
	parsers.ContentTypeAssociatedFactories["application/json"] = kjson.NewJsonParseNodeFactory()
	adapter, err := msgraphcore.NewGraphRequestAdapterBaseWithParseNodeFactoryAndSerializationWriterFactoryAndHttpClient(
		auth, msgraphcore.GraphClientOptions{}, parsers, absser.NewSerializationWriterFactoryRegistry(),
		graphHTTPClient(cfg.HTTPClient))
	if err != nil {
		return nil, fmt.Errorf("configure microsoft graph client: %w", err)
	}
	adapter.SetBaseUrl(strings.TrimRight(cfg.GraphURL, "/"))
	return &Provider{graph: adapter}, nil
}

// Name is how users see this system.
func (p *Provider) Name() string { return "microsoft" }

// Lookup reads the user's id, which needs User.Read.All; nil when the account exists. A name
// that is no UPN is then looked for as a mail or proxy address.
func (p *Provider) Lookup(ctx context.Context, t reset.Target) error {
	upn, err := principal(t)
	if err != nil {
		return reset.PermanentError(0, fmt.Errorf("look up microsoft 365 account for %s: %w", t, err))
	}
	req := userRequest(abstractions.GET, "{+baseurl}/users/{user%2Did}{?%24select}", upn)
	req.QueryParametersAny["%24select"] = []any{"id", "userPrincipalName"}
	_, err = p.send(ctx, req)
	if err = classify(ctx, opLookup, upn, err); !errors.Is(err, reset.ErrNoAccount) {
		return err
	}
	_, err = p.byAddress(ctx, opLookup, upn)
	return err
}

// Revoke invalidates every refresh token and session cookie of the user, which needs
// User.RevokeSessions.All. Revoking twice is harmless. A name that is no UPN is looked for as
// a mail or proxy address (User.Read.All), and that account is signed out.
func (p *Provider) Revoke(ctx context.Context, t reset.Target) error {
	upn, err := principal(t)
	if err != nil {
		return reset.PermanentError(0, fmt.Errorf("revoke microsoft 365 sessions for %s: %w", t, err))
	}
	err = p.revoke(ctx, upn, upn)
	if !errors.Is(err, reset.ErrNoAccount) {
		return err
	}
	id, err := p.byAddress(ctx, opRevoke, upn)
	if err != nil {
		return err
	}
	return p.revoke(ctx, id, upn)
}

// revoke signs out the user key names (a UPN or an object id); upn is how errors name them.
func (p *Provider) revoke(ctx context.Context, key, upn string) error {
	answer, err := p.send(ctx, userRequest(abstractions.POST, "{+baseurl}/users/{user%2Did}/revokeSignInSessions", key))
	if err != nil {
		return classify(ctx, opRevoke, upn, err)
	}
	// Graph answers {"value": true}; only an explicit false says the sessions were not revoked.
	if v, ok := answer["value"].(*absser.UntypedBoolean); ok && v.GetValue() != nil && !*v.GetValue() {
		return reset.PermanentError(http.StatusOK, fmt.Errorf("revoke microsoft 365 sessions for %s: graph answered false", upn))
	}
	return nil
}

// byAddress finds the one account whose mail or proxy addresses hold address (people renamed,
// or on a second domain, keep their old address as a proxy) and returns its object id, telling
// the executor its UPN. None is "no account"; several are refused, since signing out the wrong
// person is worse than a clear failure.
func (p *Provider) byAddress(ctx context.Context, o op, address string) (string, error) {
	req := abstractions.NewRequestInformationWithMethodAndUrlTemplateAndPathParameters(abstractions.GET,
		"{+baseurl}/users{?%24filter,%24select,%24top}", map[string]string{})
	lit := "'" + strings.ReplaceAll(address, "'", "''") + "'"
	req.QueryParametersAny["%24filter"] = "mail eq " + lit + " or proxyAddresses/any(a:a eq " +
		"'smtp:" + strings.ReplaceAll(address, "'", "''") + "')"
	req.QueryParametersAny["%24select"] = []any{"id", "userPrincipalName"}
	req.QueryParametersAny["%24top"] = "2"
	answer, err := p.send(ctx, req)
	if err != nil {
		return "", classify(ctx, opLookup, address, err)
	}
	var found [][2]string
	if list, ok := answer["value"].(*absser.UntypedArray); ok {
		for _, item := range list.GetValue() {
			obj, ok := item.(*absser.UntypedObject)
			if !ok {
				continue
			}
			found = append(found, [2]string{untypedString(obj.GetValue()["id"]), untypedString(obj.GetValue()["userPrincipalName"])})
		}
	}
	switch {
	case len(found) == 0:
		return "", reset.NoAccountError(fmt.Errorf("%s: no account has the UPN, mail or proxy address %s", o.action(address), address))
	case len(found) > 1 || found[0][0] == "":
		return "", reset.PermanentError(0, fmt.Errorf("%s: several accounts have the address %s: map the person's UPN with RESETBOT_MICROSOFT_ID_ATTRIBUTE", o.action(address), address))
	}
	reset.FoundAs(ctx, found[0][1])
	return found[0][0], nil
}

func untypedString(n absser.UntypedNodeable) string {
	if v, ok := n.(*absser.UntypedString); ok && v.GetValue() != nil {
		return *v.GetValue()
	}
	return ""
}

// Check obtains a token and reads one user id: the smallest read that proves the tenant, the
// app, its secret and its Graph permissions. It also warms the token cache for the first reset.
func (p *Provider) Check(ctx context.Context) error {
	req := abstractions.NewRequestInformationWithMethodAndUrlTemplateAndPathParameters(abstractions.GET,
		"{+baseurl}/users{?%24select,%24top}", map[string]string{})
	req.QueryParametersAny["%24select"] = []any{"id"}
	req.QueryParametersAny["%24top"] = "1"
	_, err := p.send(ctx, req)
	return classify(ctx, opCheck, "", err)
}

// userRequest is a request about one user. The UPN fills a simple URI-template variable, which
// percent-encodes every character outside the unreserved set, so a UPN holding '/', '?', '#'
// or '%' stays one path segment (principal refuses the dot segments "." and "..").
func userRequest(method abstractions.HttpMethod, template, upn string) *abstractions.RequestInformation {
	return abstractions.NewRequestInformationWithMethodAndUrlTemplateAndPathParameters(method, template,
		map[string]string{"user%2Did": upn})
}

// send makes one Graph call and returns the JSON object Graph answered with, nil for an empty
// answer. Graph's error bodies become *odataerrors.ODataError, others *abstractions.ApiError;
// classify reads both. The answer is parsed even when nothing in it is read, so that a 2xx that
// is not Graph's JSON (a proxy's login page, a wrong MSGRAPH_API_URL) is an error, not a success.
func (p *Provider) send(ctx context.Context, req *abstractions.RequestInformation) (map[string]absser.UntypedNodeable, error) {
	req.Headers.TryAdd("Accept", "application/json")
	res, err := p.graph.Send(ctx, req, absser.CreateUntypedNodeFromDiscriminatorValue,
		abstractions.ErrorMappings{"XXX": odataerrors.CreateODataErrorFromDiscriminatorValue})
	if err != nil || res == nil {
		return nil, err
	}
	obj, ok := res.(*absser.UntypedObject)
	if !ok {
		return nil, fmt.Errorf("graph answered with JSON that is not an object (%T)", res)
	}
	return obj.GetValue(), nil
}

// principal is the name Graph knows the target by: the Okta login when it is an address (Okta
// logins usually are the UPN), the email otherwise. A UPN is always name@domain, which also
// keeps the path segments "." and ".." out of the URL.
func principal(t reset.Target) (string, error) {
	switch {
	case strings.Contains(t.Login, "@"):
		return t.Login, nil
	case strings.Contains(t.Email, "@"):
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
// follows redirects itself, dropping the Authorization header when the host changes. base's
// transport stays underneath, so HTTPS_PROXY and NO_PROXY keep working.
func graphHTTPClient(base *http.Client) *http.Client {
	parent := base.Transport
	if parent == nil {
		parent = http.DefaultTransport
	}
	c := *base
	c.Transport = khttp.NewCustomTransportWithParentTransport(parent,
		msgraphcore.NewGraphTelemetryHandler(&msgraphcore.GraphClientOptions{}),
		khttp.NewParametersNameDecodingHandler(),
		khttp.NewUserAgentHandler(),
		khttp.NewHeadersInspectionHandler(),
	)
	return &c
}
