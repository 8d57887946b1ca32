// Package okta signs people out of Okta: it clears every session of the user and revokes the
// OAuth tokens Okta issued to them (DELETE /api/v1/users/{id}/sessions?oauthTokens=true),
// through okta-sdk-golang built by oktaclient (no response cache, no SDK retries, no ambient
// configuration).
package okta

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	sdk "github.com/okta/okta-sdk-golang/v2/okta"
	"github.com/okta/okta-sdk-golang/v2/okta/query"

	"github.com/resetbot/resetbot/internal/oktaclient"
	"github.com/resetbot/resetbot/internal/reset"
)

// Config says how to reach the Okta org: an SSWS API token, or an OAuth service app with a
// private key. HTTPClient nil means edge.Client(nil).
type Config = oktaclient.Config

// Provider signs people out of Okta. It is safe for concurrent use.
type Provider struct {
	users      *sdk.UserResource
	serviceApp bool
}

// New builds the SDK client without touching the network. Errors name what is wrong and
// never include the token or the key.
func New(ctx context.Context, cfg Config) (*Provider, error) {
	client, err := oktaclient.New(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return &Provider{users: client.User, serviceApp: cfg.ServiceApp()}, nil
}

// Name is "okta".
func (p *Provider) Name() string { return "okta" }

// ByOktaID says Okta finds a person by their Okta id: the names they go by in other systems
// are no business of it.
func (p *Provider) ByOktaID() bool { return true }

// Lookup says whether the target has an Okta account. A target that carries an Okta id was
// found in Okta by the directory moments ago (ids come from nowhere else, and Okta never
// reuses one), so its account exists and Lookup answers without a request: at incident scale
// Okta's rate limit, shared with the org's other integrations, is spent once per person, on
// signing them out. A target known only by login is read by login.
func (p *Provider) Lookup(ctx context.Context, t reset.Target) error {
	if t.OktaID != "" {
		return nil
	}
	key, err := userKey(t)
	if err != nil {
		return err
	}
	_, resp, err := p.users.GetUser(ctx, url.PathEscape(key))
	return p.classify("lookup", t, resp, err)
}

// Revoke clears every Okta session of the user and revokes the OAuth tokens Okta issued to
// them: without oauthTokens=true, an attacker's refresh token would outlive the reset. A target
// known only by login is first resolved to its id, which the sessions endpoint needs.
func (p *Provider) Revoke(ctx context.Context, t reset.Target) error {
	id := t.OktaID
	if id == "" {
		key, err := userKey(t)
		if err != nil {
			return err
		}
		u, resp, err := p.users.GetUser(ctx, url.PathEscape(key))
		if err != nil {
			return p.classify("revoke", t, resp, err)
		}
		id = u.Id
	}
	resp, err := p.users.ClearUserSessions(ctx, url.PathEscape(id), query.NewQueryParams(query.WithOauthTokens(true)))
	return p.classify("revoke", t, resp, err)
}

// Check gets a token (for a service app) and lists one user: it proves the credentials and the
// read permission work, and warms the SDK's token cache for the first reset. Clearing sessions
// cannot be tried without signing someone out, so okta.users.manage is only named, not proved.
func (p *Provider) Check(ctx context.Context) error {
	_, resp, err := p.users.ListUsers(ctx, query.NewQueryParams(query.WithLimit(1)))
	return p.classify("check", reset.Target{}, resp, err)
}

// userKey is how Okta names the target: the Okta id, else the login.
func userKey(t reset.Target) (string, error) {
	switch {
	case t.OktaID != "":
		return t.OktaID, nil
	case t.Login != "":
		return t.Login, nil
	default:
		return "", reset.PermanentError(0, fmt.Errorf("okta: target %s has no Okta id or login", t))
	}
}

// classify turns what an SDK call returned into a reset.Error carrying Okta's own words:
// E0000007 is no account, 429 and 5xx retry (honouring X-Rate-Limit-Reset on a 429), 401 and
// 403 name the scope or role to grant; see oktaclient.Classify.
func (p *Provider) classify(op string, t reset.Target, resp *sdk.Response, err error) error {
	if err == nil {
		return nil
	}
	var what, scope string
	switch op {
	case "revoke":
		what, scope = "revoke okta sessions for "+t.String(), oktaclient.ScopeUsersManage
	case "lookup":
		what, scope = "look up okta user "+t.String(), oktaclient.ScopeUsersRead
	default:
		what, scope = "check okta access", oktaclient.ScopeUsersRead+" and "+oktaclient.ScopeUsersManage
	}
	permission := scope + ", i.e. an API token from an admin allowed to manage users"
	if p.serviceApp {
		permission = "the " + scope + " scope on the service app"
	}
	err = oktaclient.Classify(what, permission, resp, err)
	if op == "check" {
		return checkAdvice(err, p.serviceApp)
	}
	return err
}

// checkAdvice adds, for `resetbot check`, what the operator should look at when the
// credentials themselves were refused.
func checkAdvice(err error, serviceApp bool) error {
	var re *reset.Error
	if !errors.As(err, &re) || re.Status != http.StatusUnauthorized && re.Status != http.StatusBadRequest {
		return err
	}
	hint := "check OKTA_API_TOKEN: it may be revoked, expired, or from another org than OKTA_ORG_URL"
	if serviceApp {
		hint = "check OKTA_CLIENT_ID, that the key in OKTA_PRIVATE_KEY_FILE is registered with that app (OKTA_PRIVATE_KEY_ID is its kid), and that the app is granted the scopes"
	}
	return &reset.Error{Kind: re.Kind, Status: re.Status, RetryAfter: re.RetryAfter, Reason: re.Reason,
		Err: fmt.Errorf("%w; %s", re.Err, hint)}
}
