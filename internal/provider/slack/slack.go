// Package slacksessions signs people out of Slack itself: it finds the person's Slack user by
// email (users.lookupByEmail, through slack-go) and wipes every session of theirs on every
// device (admin.users.session.reset), with the org-level user token of an Enterprise Grid Org
// Admin or Owner. Its directory is internal/provider/slack; the package is named apart from
// slack-go's slack, which it imports.
//
// slack-go v0.35.0 has no function for admin.users.session.reset and does not decode
// auth.test's is_enterprise_install, and it exports no generic way to call a method. Those two
// calls are therefore made here (call), as slack-go makes its own: a form POST to the same
// SLACK_API_URL, through the same HTTP client, with the same token. Their failures are
// returned as slack-go's own error types, so one classify reads every answer. slack-go's
// retries stay off: the executor owns retries and honours Retry-After.
package slacksessions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/resetbot/resetbot/internal/provider/edge"
	"github.com/resetbot/resetbot/internal/reset"
)

// DefaultAPIURL is Slack's Web API base; slack-go needs its trailing slash.
const DefaultAPIURL = slack.APIURL

// Scopes are the user token scopes resetbot needs: admin.users:write to wipe sessions,
// users:read and users:read.email to find people by email.
var Scopes = []string{"admin.users:write", "users:read", "users:read.email"}

// permission is what the operator must grant, in every message about a refused token.
const permission = "SLACK_ADMIN_TOKEN must be the org-level user token of an Enterprise Grid Org Admin or Owner, " +
	"from the app installed at the org level, with the user token scopes admin.users:write, users:read and users:read.email"

// maxBody bounds how much of an answer is read: Slack's answers here are small.
const maxBody = 1 << 20

// Config says how to reach Slack.
type Config struct {
	// AdminToken is SLACK_ADMIN_TOKEN: an org-level user token (xoxp-…) of an Org Admin or
	// Owner, granted Scopes.
	AdminToken string
	// APIURL is the Web API base (SLACK_API_URL, shared with the bot); empty means
	// DefaultAPIURL.
	APIURL string
	// HTTPClient carries every call; nil means edge.Client(nil).
	HTTPClient *http.Client
}

// Provider signs people out of Slack. It is safe for concurrent use.
type Provider struct {
	api   *slack.Client
	base  string
	token string
	hc    *http.Client
	now   func() time.Time
}

// New checks the configuration without touching the network. Errors name the variable that
// is wrong and never include the token.
func New(ctx context.Context, cfg Config) (*Provider, error) {
	token := strings.TrimSpace(cfg.AdminToken)
	switch {
	case token == "":
		return nil, errors.New("slack: SLACK_ADMIN_TOKEN is empty: " + permission)
	case strings.HasPrefix(token, "xoxb-"):
		return nil, errors.New("slack: SLACK_ADMIN_TOKEN is a bot token (xoxb-…), which admin.users.session.reset refuses: " + permission)
	case strings.HasPrefix(token, "xapp-"):
		return nil, errors.New("slack: SLACK_ADMIN_TOKEN is an app-level token (xapp-…): " + permission)
	}
	base := cfg.APIURL
	if base == "" {
		base = DefaultAPIURL
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("slack: SLACK_API_URL %q is not an http(s) URL", base)
	}
	if !strings.HasSuffix(base, "/") {
		base += "/" // slack-go joins the method name straight onto the base
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = edge.Client(nil)
	}
	return &Provider{
		// No OptionRetry: a 429 comes back as *slack.RateLimitedError for the executor to wait out.
		api:   slack.New(token, slack.OptionAPIURL(base), slack.OptionHTTPClient(hc)),
		base:  base,
		token: token,
		hc:    hc,
		now:   time.Now,
	}, nil
}

// Name is "slack".
func (p *Provider) Name() string { return "slack" }

// Lookup finds the person's Slack user by email: users_not_found is no account.
func (p *Provider) Lookup(ctx context.Context, t reset.Target) error {
	_, err := p.user(ctx, "lookup", t)
	return err
}

// Revoke finds the person's Slack user by email, then wipes every session of theirs on every
// device (neither mobile_only nor web_only): Slack's clients are signed out and reset their
// local cache.
func (p *Provider) Revoke(ctx context.Context, t reset.Target) error {
	id, err := p.user(ctx, "revoke", t)
	if err != nil {
		return err
	}
	_, err = p.call(ctx, "admin.users.session.reset", url.Values{"user_id": {id}}, nil)
	return classify("revoke", t.String(), err)
}

// Check proves what it can without signing anyone out: that Slack takes the token, that it is
// an Enterprise Grid org-level token (auth.test: enterprise_id, is_enterprise_install), that it
// has the scopes (X-OAuth-Scopes, when Slack sends it), and that its owner is an Org Admin or
// Owner (users.info), since admin.users.session.reset answers not_an_admin otherwise.
func (p *Provider) Check(ctx context.Context) error {
	var who struct {
		UserID              string `json:"user_id"`
		User                string `json:"user"`
		TeamID              string `json:"team_id"`
		EnterpriseID        string `json:"enterprise_id"`
		IsEnterpriseInstall bool   `json:"is_enterprise_install"`
	}
	header, err := p.call(ctx, "auth.test", nil, &who)
	if err != nil {
		return classify("check", "", err)
	}
	const prefix = "check slack access: "
	switch {
	case who.EnterpriseID == "":
		return reset.PermanentError(0, errors.New(prefix+"SLACK_ADMIN_TOKEN is not an Enterprise Grid token (auth.test names no enterprise): "+
			"admin.users.session.reset exists only in Enterprise Grid orgs; on another plan, leave SLACK_ADMIN_TOKEN unset and slack is skipped"))
	case !who.IsEnterpriseInstall && who.TeamID != "":
		return reset.PermanentError(0, fmt.Errorf(prefix+"SLACK_ADMIN_TOKEN is a workspace-level token (workspace %s of Grid org %s): "+
			"install the app at the org level and use the org-level user token of an Org Admin or Owner", who.TeamID, who.EnterpriseID))
	}
	if granted := header.Get("X-OAuth-Scopes"); granted != "" {
		have := strings.Split(strings.ReplaceAll(granted, " ", ""), ",")
		var missing []string
		for _, s := range Scopes {
			if !slices.Contains(have, s) {
				missing = append(missing, s)
			}
		}
		if len(missing) > 0 {
			return reset.PermanentError(0, fmt.Errorf(prefix+"SLACK_ADMIN_TOKEN lacks the scopes %s (it has %s): add them as user token scopes and reinstall the app at the org level",
				strings.Join(missing, ", "), granted))
		}
	}
	u, err := p.api.GetUserInfoContext(ctx, who.UserID)
	if err != nil {
		return classify("check", "", err)
	}
	if !u.Enterprise.IsAdmin && !u.Enterprise.IsOwner && !u.Enterprise.IsPrimaryOwner {
		return reset.PermanentError(0, fmt.Errorf(prefix+"SLACK_ADMIN_TOKEN belongs to %s (%s), who is not an Org Admin or Owner of %s, so Slack would answer not_an_admin: "+
			"use the token of an Org Admin or Owner", who.User, who.UserID, who.EnterpriseID))
	}
	return nil
}

// user finds the target's Slack user id by email. A deactivated user has no session left to
// wipe, so it is no account too (Slack answers users_not_found for one anyway).
func (p *Provider) user(ctx context.Context, op string, t reset.Target) (string, error) {
	email := address(t)
	if email == "" {
		return "", reset.PermanentError(0, fmt.Errorf("slack: target %s has no email to find them by", t))
	}
	u, err := p.api.GetUserByEmailContext(ctx, email)
	if err != nil {
		return "", classify(op, t.String(), err)
	}
	if u.Deleted {
		return "", reset.NoAccountError(fmt.Errorf("%s: the slack account %s is deactivated", what(op, t.String()), u.ID))
	}
	return u.ID, nil
}

// address is how Slack knows the target: the email, else the Okta login when it is an address.
func address(t reset.Target) string {
	if t.Email != "" {
		return t.Email
	}
	if strings.Contains(t.Login, "@") {
		return t.Login
	}
	return ""
}

// call invokes method the way slack-go calls the methods it knows: a form POST to the API base
// with the token, through the same client. A 429 is returned as *slack.RateLimitedError (its
// Retry-After read as seconds or an HTTP date), any other status but 200 as
// slack.StatusCodeError, and {"ok":false} as slack.SlackErrorResponse. On success the answer is
// decoded into into, when it is not nil; the headers are returned either way.
func (p *Provider) call(ctx context.Context, method string, args url.Values, into any) (http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.base+method, strings.NewReader(args.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+p.token)
	res, err := p.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	switch {
	case res.StatusCode == http.StatusTooManyRequests:
		return res.Header, &slack.RateLimitedError{RetryAfter: edge.RetryAfter(res.Header, p.now())}
	case res.StatusCode != http.StatusOK:
		return res.Header, slack.StatusCodeError{Code: res.StatusCode, Status: res.Status}
	}
	body, err := io.ReadAll(io.LimitReader(res.Body, maxBody))
	if err != nil {
		return res.Header, err
	}
	var answer slack.SlackResponse
	if err := json.Unmarshal(body, &answer); err != nil {
		return res.Header, fmt.Errorf("%s: slack answered with something other than JSON: %w", method, err)
	}
	if !answer.Ok {
		if err := answer.Err(); err != nil {
			return res.Header, err
		}
		return res.Header, slack.SlackErrorResponse{Err: "ok is false and no error was given"}
	}
	if into != nil {
		if err := json.Unmarshal(body, into); err != nil {
			return res.Header, fmt.Errorf("%s: %w", method, err)
		}
	}
	return res.Header, nil
}

// what names an operation on who, as every message starts.
func what(op, who string) string {
	switch op {
	case "revoke":
		return "revoke slack sessions for " + who
	case "lookup":
		return "look up slack user " + who
	default:
		return "check slack access"
	}
}

// Slack's error words, grouped by what they mean for a reset.
var (
	// noAccount: the person has no Slack user (users.lookupByEmail says users_not_found,
	// admin.users.session.reset user_not_found).
	noAccount = []string{"users_not_found", "user_not_found"}
	// transient: Slack's own trouble, or a workspace moving into an org; a later attempt may work.
	transient = []string{"internal_error", "fatal_error", "service_unavailable", "request_timeout", "team_added_to_org", "org_login_required"}
	// credentials: Slack does not take the token at all.
	credentials = []string{"invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive"}
	// notGrid: the org is not on Enterprise Grid, where alone admin.users.session.reset exists.
	notGrid = []string{"feature_not_enabled"}
	// denied: the token may not do this: its owner is no Org Admin, it is not a user token, it
	// lacks a scope, or the org's policies (EKM, access limits) forbid it.
	denied = []string{"not_an_admin", "not_allowed_token_type", "missing_scope", "no_permission", "ekm_access_denied",
		"access_denied", "team_access_not_granted", "accesslimited"}
)

// classify turns any error of an operation on who into a reset.Error carrying Slack's own
// words and, when the token is the problem, what to grant. It is the one place Slack's answers
// are read: rate limits and Slack's trouble retry, a missing user is no account, everything
// about the token is permanent. Slack refuses with HTTP 200, so its refusals carry no status.
func classify(op, who string, err error) error {
	if err == nil {
		return nil
	}
	prefix := what(op, who)
	var (
		rl   *slack.RateLimitedError
		sc   slack.StatusCodeError
		resp slack.SlackErrorResponse
	)
	switch {
	case errors.As(err, &rl):
		return reset.RetryableError(http.StatusTooManyRequests, rl.RetryAfter, "rate_limited", fmt.Errorf("%s: ratelimited", prefix))
	case errors.As(err, &sc):
		msg := fmt.Errorf("%s: %s", prefix, sc.Status)
		switch {
		case sc.Code == http.StatusTooManyRequests:
			return reset.RetryableError(sc.Code, 0, "rate_limited", msg)
		case sc.Code >= 500:
			return reset.RetryableError(sc.Code, 0, "server_error", msg)
		default:
			return reset.PermanentError(sc.Code, fmt.Errorf("%w (check SLACK_API_URL: Slack's Web API answers 200 to every call it understands)", msg))
		}
	case errors.As(err, &resp):
		word := resp.Err
		msg := fmt.Errorf("%s: %s", prefix, word)
		switch {
		case word == "ratelimited":
			return reset.RetryableError(http.StatusTooManyRequests, 0, "rate_limited", msg)
		case slices.Contains(noAccount, word) && op != "check":
			return reset.NoAccountError(msg)
		case slices.Contains(transient, word):
			return reset.RetryableError(0, 0, "server_error", msg)
		case slices.Contains(credentials, word):
			return reset.PermanentError(0, fmt.Errorf("%w (Slack does not take SLACK_ADMIN_TOKEN: it may be revoked, expired or its owner deactivated; %s)", msg, permission))
		case slices.Contains(notGrid, word):
			return reset.PermanentError(0, fmt.Errorf("%w (admin.users.session.reset exists only in Enterprise Grid orgs; on another plan, leave SLACK_ADMIN_TOKEN unset and slack is skipped)", msg))
		case word == "enterprise_is_restricted":
			// Slack's word for a method it will not serve to an org-level token; nothing to grant.
			return reset.PermanentError(0, fmt.Errorf("%w (Slack refuses this call with an org-level token: report it with the method named here)", msg))
		case word == "missing_scope" && resp.Needed != "":
			return reset.PermanentError(0, fmt.Errorf("%w (the token lacks %s; grant: %s)", msg, resp.Needed, permission))
		case slices.Contains(denied, word):
			return reset.PermanentError(0, fmt.Errorf("%w (permission denied; grant: %s)", msg, permission))
		default:
			return reset.PermanentError(0, msg)
		}
	default:
		// Cancellation, deadlines and broken connections: reset.Classify reads them.
		return fmt.Errorf("%s: %w", prefix, err)
	}
}
