// Package world starts every fake system at once — Okta, Google, Zoom, Microsoft and Slack (an
// Enterprise Grid org, so people can be signed out of Slack too) — seeded with one small security team, and hands out the environment that points resetbot's
// real clients at them. The demo, the command-line tests, the bot's end-to-end tests and the
// benchmarks all start from here, so they exercise the same wiring a deployment does.
package world

import (
	"crypto/x509"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/resetbot/resetbot/internal/fake"
	googlefake "github.com/resetbot/resetbot/internal/fake/google"
	graphfake "github.com/resetbot/resetbot/internal/fake/microsoft"
	oktafake "github.com/resetbot/resetbot/internal/fake/okta"
	slackfake "github.com/resetbot/resetbot/internal/fake/slack"
	zoomfake "github.com/resetbot/resetbot/internal/fake/zoom"
)

// Person is someone in the seeded organisation.
type Person struct {
	Name    string
	Email   string
	SlackID string
	OktaID  string
}

// The cast every world starts with.
const (
	ResponderGroup = "Security Responders"
	Channel        = "C0SECURITY"
	ChannelName    = "security-incidents"
	OktaToken      = "00fakeSSWStokenForTheDemo"
	AdminSubject   = "admin@example.com"
	// Enterprise is the Slack Grid org the workspace belongs to: admin.users.session.reset
	// exists only in one.
	Enterprise = "E0EXAMPLE"
)

// World is the running fakes and the people in them.
type World struct {
	Okta      *oktafake.Server
	Google    *googlefake.Server
	Zoom      *zoomfake.Server
	Microsoft *graphfake.Server
	Slack     *slackfake.Server
	// Roots trusts the TLS fakes' certificate.
	Roots *x509.CertPool

	// Rita and Sam are responders (they may request and approve); Oscar is not; Alice has an
	// account everywhere; Bob has none in Zoom.
	Rita, Sam, Oscar, Alice, Bob Person
	GroupID                      string

	dir string
	mu  sync.Mutex
	env map[string]string
}

// Option changes how a world starts.
type Option func(*options)

type options struct{ slack []slackfake.Option }

// WithSlack passes options to the Slack fake.
func WithSlack(opts ...slackfake.Option) Option {
	return func(o *options) { o.slack = append(o.slack, opts...) }
}

// Start runs every fake and seeds them. dir receives the files a deployment would have (the
// Google key, the SQLite database); the caller owns it.
func Start(dir string, opts ...Option) (*World, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	w := &World{
		Okta:      oktafake.Start(),
		Google:    googlefake.Start(),
		Zoom:      zoomfake.Start(),
		Microsoft: graphfake.Start(),
		dir:       dir,
	}
	w.Slack = slackfake.Start(append([]slackfake.Option{slackfake.WithChannel(Channel, ChannelName), slackfake.WithEnterprise(Enterprise)}, o.slack...)...)
	w.Roots = fake.Roots(w.Okta.Server)
	w.Okta.SetToken(OktaToken)
	w.GroupID = w.Okta.AddGroup("", ResponderGroup)
	w.Google.AddAdmin(AdminSubject)

	w.Rita = w.person("Rita", "Responder", "rita@example.com", "U0RITA", true)
	w.Sam = w.person("Sam", "Approver", "sam@example.com", "U0SAM", true)
	w.Oscar = w.person("Oscar", "Outsider", "oscar@example.com", "U0OSCAR", false)
	w.Alice = w.person("Alice", "Example", "alice@example.com", "U0ALICE", false)
	w.Bob = w.person("Bob", "Nozoom", "bob@example.com", "U0BOB", false)
	for _, p := range []Person{w.Rita, w.Sam, w.Oscar, w.Alice} {
		w.Zoom.AddUser(p.Email)
	}
	for _, p := range []Person{w.Rita, w.Sam, w.Oscar, w.Alice, w.Bob} {
		w.Google.AddUser(p.Email)
		w.Microsoft.AddUser(p.Email)
	}

	keyFile := filepath.Join(dir, "google-service-account.json")
	if err := os.WriteFile(keyFile, w.Google.CredentialsJSON(), 0o600); err != nil {
		w.Close()
		return nil, fmt.Errorf("write the fake Google key: %w", err)
	}
	w.env = map[string]string{
		"SLACK_BOT_TOKEN":                w.Slack.BotToken(),
		"SLACK_APP_TOKEN":                w.Slack.AppToken(),
		"SLACK_API_URL":                  w.Slack.APIURL(),
		"SLACK_ADMIN_TOKEN":              w.Slack.AdminToken(),
		"OKTA_ORG_URL":                   w.Okta.URL,
		"OKTA_API_TOKEN":                 OktaToken,
		"GOOGLE_APPLICATION_CREDENTIALS": keyFile,
		"GOOGLE_ADMIN_SUBJECT":           AdminSubject,
		"GOOGLE_API_URL":                 w.Google.APIURL(),
		"ZOOM_ACCOUNT_ID":                w.Zoom.AccountID(),
		"ZOOM_CLIENT_ID":                 w.Zoom.ClientID(),
		"ZOOM_CLIENT_SECRET":             w.Zoom.ClientSecret(),
		"ZOOM_API_URL":                   w.Zoom.APIURL(),
		"ZOOM_OAUTH_URL":                 w.Zoom.OAuthURL(),
		"AZURE_TENANT_ID":                w.Microsoft.TenantID(),
		"AZURE_CLIENT_ID":                w.Microsoft.ClientID(),
		"AZURE_CLIENT_SECRET":            w.Microsoft.ClientSecret(),
		"AZURE_AUTHORITY_HOST":           w.Microsoft.AuthorityHost(),
		"MSGRAPH_API_URL":                w.Microsoft.GraphURL(),
		"RESETBOT_REQUESTER_GROUPS":      ResponderGroup,
		"RESETBOT_DATABASE_URL":          filepath.Join(dir, "resetbot.db"),
		// The fake Slack enforces no Tier 2 limit; at Slack's own pace (0.3/s) a test batch of
		// seven people would spend most of a minute waiting in the slack queue.
		"RESETBOT_RATE_SLACK": "10",
	}
	return w, nil
}

// AddPerson adds someone to Okta (in the responder group when responder) and to Slack, with
// accounts in Google and Microsoft 365 but not Zoom.
func (w *World) AddPerson(first, last, email, slackID string, responder bool) Person {
	p := w.person(first, last, email, slackID, responder)
	w.Google.AddUser(p.Email)
	w.Microsoft.AddUser(p.Email)
	return p
}

func (w *World) person(first, last, email, slackID string, responder bool) Person {
	u := w.Okta.AddUser(oktafake.User{Login: email, Email: email, FirstName: first, LastName: last})
	if responder {
		w.Okta.AddToGroup(u.ID, w.GroupID)
	}
	w.Slack.AddUser(slackfake.User{ID: slackID, Name: strings.ToLower(first), RealName: first + " " + last, Email: email})
	return Person{Name: first + " " + last, Email: email, SlackID: slackID, OktaID: u.ID}
}

// Env returns a copy of the environment pointing at the fakes.
func (w *World) Env() map[string]string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return maps.Clone(w.env)
}

// Set changes one variable of Env (an empty value removes it).
func (w *World) Set(key, value string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if value == "" {
		delete(w.env, key)
		return
	}
	w.env[key] = value
}

// Getenv reads Env, in the shape config.Load takes.
func (w *World) Getenv(key string) (string, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	v, ok := w.env[key]
	return v, ok
}

// Secrets are the fakes' credentials that resetbot is given: none of them may ever show in
// its output or logs.
func (w *World) Secrets() []string {
	return []string{OktaToken, w.Zoom.ClientSecret(), w.Microsoft.ClientSecret(), w.Slack.BotToken(), w.Slack.AppToken(), w.Slack.AdminToken(), "PRIVATE KEY"}
}

// SignOuts counts, per system, the sign-outs of p that reached the fakes.
func (w *World) SignOuts(p Person) map[string]int {
	return map[string]int{
		"okta":      w.Okta.SessionsCleared(p.OktaID),
		"google":    w.Google.SignOuts(p.Email),
		"zoom":      w.Zoom.Revocations(p.Email),
		"microsoft": w.Microsoft.Revocations(p.Email),
		"slack":     w.Slack.SessionResets(p.SlackID),
	}
}

// RevokeCalls counts the revoke requests that reached each fake, served or not.
func (w *World) RevokeCalls() map[string]int {
	return map[string]int{
		"okta":      w.Okta.Count("revoke"),
		"google":    w.Google.Count("revoke"),
		"zoom":      w.Zoom.Count("revoke"),
		"microsoft": w.Microsoft.Count("revoke"),
		"slack":     w.Slack.Count("admin.users.session.reset"),
	}
}

// Close stops every fake.
func (w *World) Close() {
	for _, c := range []interface{ Close() }{w.Okta, w.Google, w.Zoom, w.Microsoft, w.Slack} {
		if c != nil {
			c.Close()
		}
	}
}
