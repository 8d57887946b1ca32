// Package config reads resetbot's environment contract (see the README's table) into plain
// values and rejects what cannot work, naming the variable to fix. Secrets may instead be read
// from files (X_FILE), as Kubernetes and Docker mount them. It knows no SDK: wiring values into
// clients is internal/app's job.
package config

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Config is everything resetbot reads from its environment.
type Config struct {
	Slack     Slack
	Okta      Okta
	Google    Google
	Zoom      Zoom
	Microsoft Microsoft

	RequesterGroups     []string
	ApproverGroups      []string
	RequirePeerApproval bool
	// ProtectedGroups hold people resetbot does not sign out unless ProtectedPolicy is
	// approve, and then only with two approvers.
	ProtectedGroups []string
	ProtectedPolicy ProtectedPolicy
	RequestTTL      time.Duration
	DatabaseURL     string
	AllowedTeams    []string
	HTTPAddr        string
	// AlertChannel receives the cards of resets that Okta events start.
	AlertChannel string
	OktaHook     OktaHook
	Pace         Pace
	// IDAttributes maps a system (google, zoom, microsoft, slack) to the Okta profile
	// attribute holding a person's identifier there (RESETBOT_<SYSTEM>_ID_ATTRIBUTE).
	IDAttributes map[string]string
	// LogLevel is RESETBOT_LOG_LEVEL; LogLevelSet says whether it was given, so commands that
	// are quiet by default stay quiet unless asked.
	LogLevel    slog.Level
	LogLevelSet bool
}

// Pace is how hard resetbot may press each provider. A rate is where a provider starts and
// the most it gets: 429s lower it for a while, and Okta's announced window can hold it lower.
type Pace struct {
	// Rates holds requests per second by provider name: okta, google, zoom, microsoft, slack.
	Rates map[string]float64
	// Concurrency bounds each provider's requests in flight.
	Concurrency int
}

// defaultRates start each provider well inside its published limit, since other integrations
// share every one of these limits:
//
//   - okta 10/s: the users endpoints allow 600 requests a minute in many orgs
//     (developer.okta.com/docs/reference/rl-global-mgmt); Okta's X-Rate-Limit-* headers then
//     keep resetbot within what the org really has left;
//   - google 20/s: the Admin SDK Directory API allows 2,400 queries a minute per user per Cloud
//     project by default, 40/s (developers.google.com/workspace/admin/directory/v1/limits);
//   - zoom 10/s: Zoom's limits are per account, shared by every app on it; user APIs are Light
//     or Medium, 30/s or 20/s on Pro accounts, more on Business and up
//     (developers.zoom.us/docs/api/rate-limits);
//   - microsoft 15/s: Microsoft Graph allows an app 3,000 writes per 150 s in a tenant, 20/s,
//     and 3,500 resource units per 10 s in the smallest tenants (learn.microsoft.com/graph/throttling-limits);
//   - slack 0.3/s, 18 a minute: admin.users.session.reset is a Tier 2 method, 20+ calls a minute
//     per app and org, and users.lookupByEmail Tier 3, 50+ a minute (docs.slack.dev/apis/web-api/rate-limits).
//     A lookup and a sign-out are one request each here, and a sign-out's own lookup at most one
//     more, so both methods stay under their tier.
var defaultRates = []struct {
	provider, key string
	rate          float64
}{
	{"okta", "RESETBOT_RATE_OKTA", 10},
	{"google", "RESETBOT_RATE_GOOGLE", 20},
	{"zoom", "RESETBOT_RATE_ZOOM", 10},
	{"microsoft", "RESETBOT_RATE_MICROSOFT", 15},
	{"slack", "RESETBOT_RATE_SLACK", 0.3},
}

// defaultConcurrency bounds requests in flight per provider, far under Okta's 75 concurrent
// requests per org.
const defaultConcurrency = 8

// ProtectedPolicy says what a request about a protected person gets.
type ProtectedPolicy string

// The two answers to a request about a protected person.
const (
	// ProtectedRefuse refuses it with a clear reason.
	ProtectedRefuse ProtectedPolicy = "refuse"
	// ProtectedApprove lets it go ahead once two approvers other than the requester agree.
	ProtectedApprove ProtectedPolicy = "approve"
)

// EventPolicy says what an Okta event does: reset at once, post a card awaiting approval, or
// nothing.
type EventPolicy string

// The three policies an Okta event can have.
const (
	PolicyAuto    EventPolicy = "auto"
	PolicyApprove EventPolicy = "approve"
	PolicyOff     EventPolicy = "off"
)

// OktaHook is the event hook Okta calls when an account may be at risk. Its policies are all
// off unless the hook is configured (a secret, an alert channel or a policy is set), so a
// deployment that never registered a hook needs none of its variables.
type OktaHook struct {
	// Secret is the value Okta sends in Header with every delivery.
	Secret string
	Header string
	// RetryFor is how long an event that keeps failing is tried again before it is recorded
	// as failed.
	RetryFor time.Duration
	// One policy per event type resetbot acts on.
	Suspend            EventPolicy
	SuspiciousActivity EventPolicy
	AdminPasswordReset EventPolicy
}

// Enabled reports whether any event starts a reset, i.e. whether /hooks/okta is served.
func (h OktaHook) Enabled() bool {
	for _, p := range []EventPolicy{h.Suspend, h.SuspiciousActivity, h.AdminPasswordReset} {
		if p != PolicyOff && p != "" {
			return true
		}
	}
	return false
}

// Slack holds the bot and app-level tokens, and the token that signs people out of Slack
// itself. The bot and the slack system share the Web API base.
type Slack struct {
	BotToken string
	AppToken string
	// AdminToken (SLACK_ADMIN_TOKEN) is the org-level user token of an Enterprise Grid Org Admin
	// or Owner; without it the slack system is skipped.
	AdminToken string
	APIURL     string
}

// SessionsConfigured reports whether people can be signed out of Slack itself.
func (s Slack) SessionsConfigured() bool { return s.AdminToken != "" }

// Okta is both the directory and a provider.
type Okta struct {
	OrgURL         string
	APIToken       string
	ClientID       string
	PrivateKeyFile string
	PrivateKeyID   string
}

// Configured reports whether any Okta credential was given.
func (o Okta) Configured() bool { return o.OrgURL != "" }

// Google is a service account acting as an admin through domain-wide delegation.
type Google struct {
	CredentialsFile string
	Subject         string
	APIURL          string
}

// Configured reports whether Google credentials were given.
func (g Google) Configured() bool { return g.CredentialsFile != "" }

// Zoom is a Server-to-Server OAuth app.
type Zoom struct {
	AccountID    string
	ClientID     string
	ClientSecret string
	APIURL       string
	OAuthURL     string
}

// Configured reports whether Zoom credentials were given.
func (z Zoom) Configured() bool { return z.AccountID != "" || z.ClientID != "" || z.ClientSecret != "" }

// Microsoft is an Entra app with User.RevokeSessions.All.
type Microsoft struct {
	TenantID      string
	ClientID      string
	ClientSecret  string
	AuthorityHost string
	GraphURL      string
}

// Configured reports whether Microsoft credentials were given.
func (m Microsoft) Configured() bool {
	return m.TenantID != "" || m.ClientID != "" || m.ClientSecret != ""
}

// Getenv is how configuration is read; tests pass a map's lookup instead of the process's.
type Getenv func(key string) (string, bool)

// FromEnv reads the process environment.
func FromEnv() (Config, error) { return Load(os.LookupEnv) }

// Need says which parts a command requires, so `resetbot reset` does not demand Slack tokens.
type Need struct {
	Slack  bool
	Policy bool
}

// Load reads and validates everything it can, returning every problem at once so an operator
// fixes their configuration in one go rather than one restart per variable.
func Load(env Getenv) (Config, error) {
	r := reader{env: env}
	c := load(&r)
	return c, r.err()
}

// load reads everything through r, which keeps the problems, so LoadFor's checks can add to
// the same list and know which secrets' files already failed.
func load(r *reader) Config {
	c := Config{
		Slack: Slack{
			BotToken:   r.secret("SLACK_BOT_TOKEN"),
			AppToken:   r.secret("SLACK_APP_TOKEN"),
			AdminToken: r.secret("SLACK_ADMIN_TOKEN"),
			APIURL:     r.url("SLACK_API_URL", "https://slack.com/api/"),
		},
		Okta: Okta{
			OrgURL:         strings.TrimSuffix(r.url("OKTA_ORG_URL", ""), "/"),
			APIToken:       r.secret("OKTA_API_TOKEN"),
			ClientID:       r.str("OKTA_CLIENT_ID"),
			PrivateKeyFile: r.str("OKTA_PRIVATE_KEY_FILE"),
			PrivateKeyID:   r.str("OKTA_PRIVATE_KEY_ID"),
		},
		Google: Google{
			CredentialsFile: r.str("GOOGLE_APPLICATION_CREDENTIALS"),
			Subject:         r.str("GOOGLE_ADMIN_SUBJECT"),
			APIURL:          r.url("GOOGLE_API_URL", "https://admin.googleapis.com/"),
		},
		Zoom: Zoom{
			AccountID:    r.str("ZOOM_ACCOUNT_ID"),
			ClientID:     r.str("ZOOM_CLIENT_ID"),
			ClientSecret: r.secret("ZOOM_CLIENT_SECRET"),
			APIURL:       strings.TrimSuffix(r.url("ZOOM_API_URL", "https://api.zoom.us/v2"), "/"),
			OAuthURL:     r.url("ZOOM_OAUTH_URL", "https://zoom.us/oauth/token"),
		},
		Microsoft: Microsoft{
			TenantID:      r.str("AZURE_TENANT_ID"),
			ClientID:      r.str("AZURE_CLIENT_ID"),
			ClientSecret:  r.secret("AZURE_CLIENT_SECRET"),
			AuthorityHost: r.url("AZURE_AUTHORITY_HOST", "https://login.microsoftonline.com/"),
			GraphURL:      strings.TrimSuffix(r.url("MSGRAPH_API_URL", "https://graph.microsoft.com/v1.0"), "/"),
		},
		RequesterGroups:     r.list("RESETBOT_REQUESTER_GROUPS"),
		ApproverGroups:      r.list("RESETBOT_APPROVER_GROUPS"),
		RequirePeerApproval: r.booleanOr("RESETBOT_REQUIRE_PEER_APPROVAL", true),
		ProtectedGroups:     r.list("RESETBOT_PROTECTED_GROUPS"),
		ProtectedPolicy:     ProtectedPolicy(strings.ToLower(r.strOr("RESETBOT_PROTECTED_POLICY", string(ProtectedRefuse)))),
		RequestTTL:          r.duration("RESETBOT_REQUEST_TTL", 15*time.Minute),
		DatabaseURL:         cmp.Or(r.secret("RESETBOT_DATABASE_URL"), "resetbot.db"),
		AllowedTeams:        r.list("RESETBOT_ALLOWED_TEAMS"),
		HTTPAddr:            r.str("RESETBOT_HTTP_ADDR"),
		AlertChannel:        r.str("RESETBOT_ALERT_CHANNEL"),
	}
	c.checkProviders(r)
	if c.ProtectedPolicy != ProtectedRefuse && c.ProtectedPolicy != ProtectedApprove {
		r.fail("RESETBOT_PROTECTED_POLICY must be refuse or approve, not %q", string(c.ProtectedPolicy))
	}
	if c.HTTPAddr != "" {
		if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
			r.fail("RESETBOT_HTTP_ADDR must be host:port or :port, such as :8080, not %q", c.HTTPAddr)
		}
	}
	c.OktaHook = c.loadOktaHook(r)
	c.Pace = loadPace(r)
	c.IDAttributes = loadIDAttributes(r)
	c.LogLevel, c.LogLevelSet = r.level("RESETBOT_LOG_LEVEL")
	return c
}

// idSystems are the systems a person may be known in by another name than their Okta login.
var idSystems = []string{"google", "zoom", "microsoft", "slack"}

// IDSystems are the systems an Okta profile attribute can be mapped for, in the order their
// variables are read.
func IDSystems() []string { return slices.Clone(idSystems) }

// IDAttributeVariable is the variable naming the Okta profile attribute that holds a person's
// identifier in system: RESETBOT_MICROSOFT_ID_ATTRIBUTE for microsoft.
func IDAttributeVariable(system string) string {
	return "RESETBOT_" + strings.ToUpper(system) + "_ID_ATTRIBUTE"
}

// oktaAttribute is the shape of an Okta profile attribute's variable name.
var oktaAttribute = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,99}$`)

// loadIDAttributes reads RESETBOT_<SYSTEM>_ID_ATTRIBUTE for each system that has one.
func loadIDAttributes(r *reader) map[string]string {
	attrs := map[string]string{}
	for _, system := range idSystems {
		key := IDAttributeVariable(system)
		attr := r.str(key)
		switch {
		case attr == "":
		case !oktaAttribute.MatchString(attr):
			r.fail("%s must be the variable name of an Okta profile attribute (letters, digits and _, such as msUpn), not %q", key, attr)
		default:
			attrs[system] = attr
		}
	}
	return attrs
}

// Require checks what a command needs beyond the providers.
func (c Config) Require(n Need) error {
	var r reader
	c.require(&r, n)
	return r.err()
}

// LoadFor is Load then Require, with every problem of both in one error, so an operator
// fixes the whole configuration in one go.
func LoadFor(env Getenv, n Need) (Config, error) {
	r := reader{env: env}
	c := load(&r)
	c.require(&r, n)
	return c, r.err()
}

func (c Config) require(r *reader, n Need) {
	if !c.Okta.Configured() {
		r.fail("OKTA_ORG_URL is not set: resetbot finds people in Okta, so set OKTA_ORG_URL (https://your-org.okta.com) and OKTA_API_TOKEN (or OKTA_API_TOKEN_FILE)")
	}
	if n.Slack {
		r.token("SLACK_BOT_TOKEN", c.Slack.BotToken, "xoxb-", "the bot token from OAuth & Permissions")
		r.token("SLACK_APP_TOKEN", c.Slack.AppToken, "xapp-", "an app-level token with connections:write, from Basic Information → App-Level Tokens")
	}
	if n.Policy && len(c.RequesterGroups) == 0 {
		r.fail("RESETBOT_REQUESTER_GROUPS is not set: name the Okta groups (names or ids, comma separated) whose members may request resets")
	}
}

// checkProviders turns half-configured systems into errors naming what is missing. A system
// with nothing set is fine: it is reported as skipped.
func (c Config) checkProviders(r *reader) {
	if c.Okta.Configured() {
		switch {
		case c.Okta.APIToken != "" && c.Okta.ClientID != "":
			r.fail("OKTA_API_TOKEN and OKTA_CLIENT_ID are both set: use an API token, or an OAuth service app (OKTA_CLIENT_ID + OKTA_PRIVATE_KEY_FILE), not both")
		case r.unset("OKTA_API_TOKEN", c.Okta.APIToken) && c.Okta.ClientID == "":
			r.fail("OKTA_ORG_URL is set but neither OKTA_API_TOKEN nor OKTA_CLIENT_ID is: set an API token (OKTA_API_TOKEN or OKTA_API_TOKEN_FILE), or OKTA_CLIENT_ID and OKTA_PRIVATE_KEY_FILE for an OAuth service app")
		case c.Okta.ClientID != "" && c.Okta.PrivateKeyFile == "":
			r.fail("OKTA_CLIENT_ID is set but OKTA_PRIVATE_KEY_FILE is not: the service app signs its token requests with that private key (PEM)")
		}
		if c.Okta.PrivateKeyFile != "" {
			r.readable("OKTA_PRIVATE_KEY_FILE", c.Okta.PrivateKeyFile)
		}
	} else if c.Okta.APIToken != "" || c.Okta.ClientID != "" {
		r.fail("OKTA_ORG_URL is not set: Okta credentials were given, but not the org they belong to (https://your-org.okta.com)")
	}
	if c.Google.Configured() {
		r.readable("GOOGLE_APPLICATION_CREDENTIALS", c.Google.CredentialsFile)
		if c.Google.Subject == "" {
			r.fail("GOOGLE_ADMIN_SUBJECT is not set: with GOOGLE_APPLICATION_CREDENTIALS set, name the Workspace admin the service account acts as (domain-wide delegation)")
		}
	} else if c.Google.Subject != "" {
		r.fail("GOOGLE_APPLICATION_CREDENTIALS is not set: GOOGLE_ADMIN_SUBJECT was given without the service-account key file")
	}
	if c.Zoom.Configured() {
		r.all("Zoom", map[string]string{"ZOOM_ACCOUNT_ID": c.Zoom.AccountID, "ZOOM_CLIENT_ID": c.Zoom.ClientID, "ZOOM_CLIENT_SECRET": c.Zoom.ClientSecret})
	}
	if c.Microsoft.Configured() {
		r.all("Microsoft 365", map[string]string{"AZURE_TENANT_ID": c.Microsoft.TenantID, "AZURE_CLIENT_ID": c.Microsoft.ClientID, "AZURE_CLIENT_SECRET": c.Microsoft.ClientSecret})
	}
}

// The events an Okta hook acts on, their variables and their defaults once the hook is set up:
// a suspension is an admin's decision already, so it resets at once; the other two may be
// noise (a user's mistaken report, a routine reset), so a responder looks first.
var eventPolicies = []struct {
	key string
	def EventPolicy
	ref func(*OktaHook) *EventPolicy
}{
	{"RESETBOT_EVENT_SUSPEND", PolicyAuto, func(h *OktaHook) *EventPolicy { return &h.Suspend }},
	{"RESETBOT_EVENT_SUSPICIOUS_ACTIVITY", PolicyApprove, func(h *OktaHook) *EventPolicy { return &h.SuspiciousActivity }},
	{"RESETBOT_EVENT_ADMIN_PASSWORD_RESET", PolicyApprove, func(h *OktaHook) *EventPolicy { return &h.AdminPasswordReset }},
}

// minHookSecret keeps the hook's secret out of guessing range: whoever knows it can make
// resetbot sign people out.
const minHookSecret = 16

// loadOktaHook reads the event hook's variables. The policies' defaults apply only once the
// hook is configured at all; an enabled hook needs its secret, the alert channel and the HTTP
// listener, and the error names whichever are missing.
func (c Config) loadOktaHook(r *reader) OktaHook {
	h := OktaHook{Secret: r.secret("RESETBOT_OKTA_HOOK_SECRET"), Header: r.strOr("RESETBOT_OKTA_HOOK_HEADER", "Authorization"),
		RetryFor: r.duration("RESETBOT_EVENT_RETRY_FOR", time.Hour)}
	configured := h.Secret != "" || c.AlertChannel != ""
	for _, ev := range eventPolicies {
		if v := r.str(ev.key); v != "" && v != string(PolicyOff) {
			configured = true
		}
	}
	for _, ev := range eventPolicies {
		p := PolicyOff
		if configured {
			p = ev.def
		}
		switch v := EventPolicy(strings.ToLower(r.str(ev.key))); v {
		case "":
		case PolicyAuto, PolicyApprove, PolicyOff:
			p = v
		default:
			r.fail("%s must be auto, approve or off, not %q", ev.key, string(v))
		}
		*ev.ref(&h) = p
	}
	if !validHeaderName(h.Header) {
		r.fail("RESETBOT_OKTA_HOOK_HEADER is not an HTTP header name: %q (Okta's default is Authorization)", h.Header)
	}
	if !h.Enabled() {
		return h
	}
	var missing []string
	if r.unset("RESETBOT_OKTA_HOOK_SECRET", h.Secret) {
		missing = append(missing, "RESETBOT_OKTA_HOOK_SECRET or RESETBOT_OKTA_HOOK_SECRET_FILE (the secret Okta sends in "+h.Header+")")
	}
	if c.AlertChannel == "" {
		missing = append(missing, "RESETBOT_ALERT_CHANNEL (the Slack channel id for the cards)")
	}
	if c.HTTPAddr == "" {
		missing = append(missing, "RESETBOT_HTTP_ADDR (where /hooks/okta listens)")
	}
	if len(missing) > 0 {
		r.fail("the Okta event hook is on (%s) but %s not set: set them, or set every RESETBOT_EVENT_* to off",
			h.policies(), strings.Join(missing, " and "))
	} else if h.Secret != "" && len(h.Secret) < minHookSecret {
		r.fail("RESETBOT_OKTA_HOOK_SECRET is too short: use at least %d random characters (for instance the output of openssl rand -hex 32)", minHookSecret)
	}
	return h
}

// loadPace reads each provider's starting rate and the bound on requests in flight.
func loadPace(r *reader) Pace {
	p := Pace{Rates: map[string]float64{}, Concurrency: r.count("RESETBOT_CONCURRENCY", defaultConcurrency)}
	for _, d := range defaultRates {
		p.Rates[d.provider] = r.rate(d.key, d.rate)
	}
	return p
}

// policies names the events that are on, for error messages.
func (h OktaHook) policies() string {
	var on []string
	for _, ev := range eventPolicies {
		if p := *ev.ref(&h); p != PolicyOff {
			on = append(on, ev.key+"="+string(p))
		}
	}
	return strings.Join(on, ", ")
}

// validHeaderName accepts an RFC 9110 token, which is what a header field name is.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c > 0x7e || c <= ' ' || strings.ContainsRune(`"(),/:;<=>?@[\]{}`, c) {
			return false
		}
	}
	return true
}

// reader collects every problem instead of stopping at the first.
type reader struct {
	env      Getenv
	problems []string
	// secrets holds every variable read with secret: true when a problem with it was reported
	// (its file could not be used, or both forms were set), so later checks neither call it
	// "not set" nor judge its empty value a second time.
	secrets map[string]bool
}

// maxSecretFile bounds what is read from a secret's file: a token is a line, so a larger file
// is the wrong one (a log, a key bundle, /dev/zero) and is refused before it is held in memory.
const maxSecretFile = 64 << 10

// secret reads key's value, or the content of the file key_FILE names: Kubernetes and Docker
// mount secrets as files, which keeps them out of the environment that every child process
// inherits and /proc/<pid>/environ shows. Surrounding whitespace is trimmed, since echo and
// editors end files with a newline. Problems name key_FILE and its path, never the content.
func (r *reader) secret(key string) string {
	fileKey := key + "_FILE"
	value, path := r.str(key), r.str(fileKey)
	ok := true
	switch {
	case path == "":
	case value != "":
		r.fail("%s and %s are both set: set only one, the value or the path of a file holding it", key, fileKey)
		value, ok = "", false
	default:
		value, ok = r.secretFile(fileKey, path)
	}
	if r.secrets == nil {
		r.secrets = map[string]bool{}
	}
	r.secrets[key] = !ok
	return value
}

// secretFile reads the secret in path, which key names, trimmed.
func (r *reader) secretFile(key, path string) (string, bool) {
	// One byte past the bound tells a file at the bound from a larger one, cut short.
	b, ok := r.read(key, path, maxSecretFile+1)
	switch {
	case !ok:
	case len(b) > maxSecretFile:
		r.fail("%s: %s is larger than %d KiB: it should hold the secret alone", key, path, maxSecretFile>>10)
	case len(bytes.TrimSpace(b)) == 0:
		r.fail("%s: %s is empty: write the secret into it", key, path)
	default:
		return string(bytes.TrimSpace(b)), true
	}
	return "", false
}

// unset reports whether key has no value and no problem reported about it already, so a secret
// whose file failed is not also reported as missing.
func (r *reader) unset(key, value string) bool { return value == "" && !r.secrets[key] }

func (r *reader) fail(format string, args ...any) {
	r.problems = append(r.problems, fmt.Sprintf(format, args...))
}

func (r *reader) err() error {
	if len(r.problems) == 0 {
		return nil
	}
	return errors.New("configuration: " + strings.Join(r.problems, "; "))
}

func (r *reader) str(key string) string {
	v, _ := r.env(key)
	return strings.TrimSpace(v)
}

func (r *reader) strOr(key, def string) string {
	if v := r.str(key); v != "" {
		return v
	}
	return def
}

func (r *reader) url(key, def string) string {
	v := r.strOr(key, def)
	if v == "" {
		return ""
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		r.fail("%s is not a URL (want https://host/…): %q", key, v)
		return ""
	}
	return v
}

func (r *reader) list(key string) []string {
	var out []string
	for _, f := range strings.Split(r.str(key), ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func (r *reader) booleanOr(key string, def bool) bool {
	v := r.str(key)
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		r.fail("%s must be true or false, not %q", key, v)
	}
	return b
}

func (r *reader) duration(key string, def time.Duration) time.Duration {
	v := r.str(key)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		r.fail("%s must be a positive duration such as 15m or 1h, not %q", key, v)
		return def
	}
	return d
}

// level reads a log level: debug, info, warn or error (default info).
func (r *reader) level(key string) (slog.Level, bool) {
	v := r.str(key)
	if v == "" {
		return slog.LevelInfo, false
	}
	var l slog.Level
	if err := l.UnmarshalText([]byte(v)); err != nil {
		r.fail("%s must be debug, info, warn or error, not %q", key, v)
		return slog.LevelInfo, false
	}
	return l, true
}

func (r *reader) rate(key string, def float64) float64 {
	v := r.str(key)
	if v == "" {
		return def
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f <= 0 || math.IsInf(f, 0) || math.IsNaN(f) {
		r.fail("%s must be a positive number of requests per second such as 10 or 0.5, not %q", key, v)
		return def
	}
	return f
}

func (r *reader) count(key string, def int) int {
	v := r.str(key)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		r.fail("%s must be a whole number of at least 1 such as %d, not %q", key, def, v)
		return def
	}
	return n
}

// token checks presence and shape without ever echoing the value.
func (r *reader) token(key, value, prefix, what string) {
	switch {
	case r.secrets[key]:
		// Its problem is reported already.
	case value == "":
		r.fail("%s is not set: it is %s (%s…), given in %s or in the file %s_FILE names", key, what, prefix, key, key)
	case !strings.HasPrefix(value, prefix):
		r.fail("%s does not start with %s: it should be %s", key, prefix, what)
	}
}

// readable reports a key file that cannot be opened now, rather than at the first reset.
func (r *reader) readable(key, path string) { r.read(key, path, 0) }

// read returns at most limit bytes of the file at path, which key names; what failed is
// reported with key and path, and the OS's reason without the path repeated.
func (r *reader) read(key, path string, limit int64) ([]byte, bool) {
	f, err := os.Open(path)
	var b []byte
	if err == nil {
		b, err = io.ReadAll(io.LimitReader(f, limit))
		_ = f.Close()
	}
	if err != nil {
		r.fail("%s: cannot read %s: %v", key, path, errors.Unwrap(err))
		return nil, false
	}
	return b, true
}

// all reports which of a system's required variables are missing when some are set.
func (r *reader) all(system string, vars map[string]string) {
	var missing, every []string
	for _, k := range sortedKeys(vars) {
		if r.unset(k, vars[k]) {
			missing = append(missing, k)
		}
		if _, ok := r.secrets[k]; ok {
			k += " or " + k + "_FILE"
		}
		every = append(every, k)
	}
	if len(missing) > 0 {
		r.fail("%s is half configured: %s not set (set all of %s, or none to skip %s)",
			system, strings.Join(missing, " and "), strings.Join(every, ", "), system)
	}
}
