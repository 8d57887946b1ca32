package e2e

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"

	"github.com/resetbot/resetbot/bot"
	"github.com/resetbot/resetbot/internal/app"
	"github.com/resetbot/resetbot/internal/cli"
	"github.com/resetbot/resetbot/internal/config"
	"github.com/resetbot/resetbot/internal/demo"
	"github.com/resetbot/resetbot/internal/fake"
	slackfake "github.com/resetbot/resetbot/internal/fake/slack"
	"github.com/resetbot/resetbot/internal/fake/world"
	"github.com/resetbot/resetbot/internal/hook"
	"github.com/resetbot/resetbot/internal/reset"
	"github.com/resetbot/resetbot/internal/store"
	"github.com/resetbot/resetbot/internal/store/storetest"
)

// The secrets tests give every secret resetbot's configuration has a distinctive value, drive
// every path that prints or logs — `resetbot run` serving a request and an Okta event, and
// failing to start in each way it can; `check`, `reset`, `audit`; configuration errors — and
// search all that an operator sees for each secret, as given and in the encodings it travels
// in: stdout, stderr with the JSON logs, the HTTP side's answers and what reached Slack.

// The distinctive values; the fakes are set to accept them.
const (
	slackBotToken = "xoxb-SECRET-slack-bot-7f3a9c"
	slackAppToken = "xapp-SECRET-slack-app-2b8d4e"
	oktaAPIToken  = "00SECRET-okta-token-5c1e8a"
	azureSecret   = "SECRET~azure~secret~9d2f6b"
	oktaHookKey   = "SECRET-okta-hook-3e7a1c5b9d"
	// dbPassword is the password of every PostgreSQL URL; the URLs are in postgresForms.
	dbPassword = "SECRET-db-password-4a6b"
)

// secretVars are the variables read through config's secret reader, which takes X or X_FILE.
var secretVars = []string{"SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_ADMIN_TOKEN", "OKTA_API_TOKEN", "ZOOM_CLIENT_SECRET",
	"AZURE_CLIENT_SECRET", "RESETBOT_OKTA_HOOK_SECRET", "RESETBOT_DATABASE_URL"}

// secretWorld is a world of fakes in which every secret is distinctive and known by name.
type secretWorld struct {
	*world.World
	t   *testing.T
	dir string
	// hidden maps each secret's name to its value: none may show anywhere.
	hidden map[string]string
	// basic maps a client id to its secret, for the HTTP Basic credentials they make together.
	basic map[string]string
}

func startSecretWorld(t *testing.T) *secretWorld {
	t.Helper()
	dir := t.TempDir()
	w, err := world.Start(dir, world.WithSlack(slackfake.WithTokens(slackBotToken, slackAppToken)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	w.Okta.SetToken(oktaAPIToken)
	w.Microsoft.SetCredentials(w.Microsoft.TenantID(), w.Microsoft.ClientID(), azureSecret)
	w.Slack.AddChannel(slackfake.Channel{ID: alertChannel, Name: "security-alerts", Member: true})
	for k, v := range map[string]string{
		"OKTA_API_TOKEN":            oktaAPIToken,
		"AZURE_CLIENT_SECRET":       azureSecret,
		"RESETBOT_OKTA_HOOK_SECRET": oktaHookKey,
		"RESETBOT_ALERT_CHANNEL":    alertChannel,
		"RESETBOT_HTTP_ADDR":        "127.0.0.1:0",
	} {
		w.Set(k, v)
	}
	sw := &secretWorld{World: w, t: t, dir: dir, basic: map[string]string{
		w.Zoom.ClientID():      w.Zoom.ClientSecret(),
		w.Microsoft.ClientID(): azureSecret,
	}}
	sw.hidden = map[string]string{
		"SLACK_BOT_TOKEN":           slackBotToken,
		"SLACK_APP_TOKEN":           slackAppToken,
		"SLACK_ADMIN_TOKEN":         w.Slack.AdminToken(),
		"OKTA_API_TOKEN":            oktaAPIToken,
		"ZOOM_CLIENT_SECRET":        w.Zoom.ClientSecret(),
		"AZURE_CLIENT_SECRET":       azureSecret,
		"RESETBOT_OKTA_HOOK_SECRET": oktaHookKey,
		"the database password":     dbPassword,
	}
	var key struct {
		PrivateKey string `json:"private_key"`
	}
	if err := json.Unmarshal(w.Google.CredentialsJSON(), &key); err != nil {
		t.Fatal(err)
	}
	sw.hideKey("the Google service account's private key", []byte(key.PrivateKey))
	return sw
}

// hide adds a secret, such as a wrong one a case configures, to those that may not show.
func (sw *secretWorld) hide(name, value string) { sw.hidden[name] = value }

// hideKey hides each line of a PEM private key: any one of them is a piece of the key.
func (sw *secretWorld) hideKey(name string, keyPEM []byte) {
	for i, line := range strings.Split(string(keyPEM), "\n") {
		if line != "" && !strings.HasPrefix(line, "-----") {
			sw.hide(fmt.Sprintf("%s (line %d)", name, i), line)
		}
	}
}

// file writes content into a file of the world's directory and returns its path.
func (sw *secretWorld) file(name string, content []byte) string {
	sw.t.Helper()
	path := filepath.Join(sw.dir, name)
	if err := os.WriteFile(path, content, 0o600); err != nil {
		sw.t.Fatal(err)
	}
	return path
}

// fromFiles moves each variable's value into a file that key_FILE names, as Kubernetes
// mounts secrets.
func (sw *secretWorld) fromFiles(keys ...string) {
	for _, k := range keys {
		v, _ := sw.Getenv(k)
		sw.Set(k+"_FILE", sw.file(k, []byte(v+"\n")))
		sw.Set(k, "")
	}
}

// forms are the ways a secret can show besides as given: percent-encoded (in a query or a
// form body), base64 (in a header or a token).
func forms(secret string) map[string]string {
	out := map[string]string{"as given": secret}
	for name, f := range map[string]string{
		"percent-encoded": url.QueryEscape(secret),
		"path-escaped":    url.PathEscape(secret),
		"base64":          base64.RawStdEncoding.EncodeToString([]byte(secret)),
		"base64url":       base64.RawURLEncoding.EncodeToString([]byte(secret)),
	} {
		if f != secret {
			out[name] = f
		}
	}
	return out
}

// output is one thing an operator sees: a stream, the HTTP side's answers, Slack's messages.
type output struct{ what, text string }

// assertHidden fails for every secret, in any of its forms, that an output of path shows.
func (sw *secretWorld) assertHidden(t *testing.T, path string, outs ...output) {
	t.Helper()
	type secretForm struct{ name, form, value string }
	var all []secretForm
	for name, v := range sw.hidden {
		for form, f := range forms(v) {
			all = append(all, secretForm{name, form, f})
		}
	}
	for id, secret := range sw.basic {
		all = append(all, secretForm{"the client secret of " + id, "HTTP Basic credentials", base64.StdEncoding.EncodeToString([]byte(id + ":" + secret))})
	}
	for _, o := range outs {
		for _, s := range all {
			if strings.Contains(o.text, s.value) {
				t.Errorf("%s: %s shows %s (%s):\n%s", path, o.what, s.name, s.form, excerpt(o.text, s.value))
			}
		}
	}
}

// excerpt is the text around the first occurrence of value, within its line and at most
// 150 bytes either side (Slack's messages are one long line of JSON).
func excerpt(text, value string) string {
	i := strings.Index(text, value)
	start := max(strings.LastIndexByte(text[:i], '\n')+1, i-150)
	end := min(len(text), i+len(value)+150)
	if j := strings.IndexByte(text[i:end], '\n'); j >= 0 {
		end = i + j
	}
	return text[start:end]
}

// invocation is what one resetbot command printed.
type invocation struct {
	args           []string
	code           int
	stdout, stderr string
	// http and slack are what the HTTP side answered and what reached Slack while `run` served.
	http, slack string
}

func (inv invocation) outputs() []output {
	return []output{{"stdout", inv.stdout}, {"stderr and the logs", inv.stderr}, {"the HTTP answers", inv.http}, {"Slack", inv.slack}}
}

func (inv invocation) String() string {
	return fmt.Sprintf("resetbot %s: exit %d\n--- stdout:\n%s--- stderr:\n%s", strings.Join(inv.args, " "), inv.code, inv.stdout, inv.stderr)
}

// serving is `resetbot run` up and connected, for a drive to use.
type serving struct {
	ctx   context.Context
	logs  *fake.Buffer
	front string
	http  *strings.Builder
}

// resetbot runs the command in-process, as the binary's main does. A drive, given for
// `run`, is what happens while it serves; run is then stopped as by SIGTERM.
func (sw *secretWorld) resetbot(t *testing.T, args []string, drive func(t *testing.T, s *serving)) invocation {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	var out, errb fake.Buffer
	done := make(chan int, 1)
	go func() {
		done <- cli.Main(runCtx, args, cli.Env{Getenv: sw.Getenv, Stdout: &out, Stderr: &errb, Roots: sw.Roots, Version: "test"})
	}()
	inv := invocation{args: args}
	if drive != nil {
		s := &serving{ctx: ctx, logs: &errb, http: &strings.Builder{}}
		sw.serve(t, s, done)
		drive(t, s)
		inv.http = s.http.String()
		stop()
	}
	select {
	case inv.code = <-done:
	case <-ctx.Done():
		t.Fatalf("resetbot %s did not end:\n%s", strings.Join(args, " "), errb.String())
	}
	inv.stdout, inv.stderr = out.String(), errb.String()
	inv.slack = sw.slackSeen(t)
	return inv
}

// serve waits until `run` is connected to Slack and its HTTP side listens.
func (sw *secretWorld) serve(t *testing.T, s *serving, done chan int) {
	t.Helper()
	for s.front == "" {
		select {
		case code := <-done:
			t.Fatalf("resetbot run ended with exit %d before it served:\n%s", code, s.logs.String())
		case <-s.ctx.Done():
			t.Fatalf("resetbot run never listened:\n%s", s.logs.String())
		case <-time.After(20 * time.Millisecond):
		}
		for _, line := range strings.Split(s.logs.String(), "\n") {
			var l struct{ Msg, Addr string }
			if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "http listening" {
				s.front = "http://" + l.Addr
			}
		}
	}
	if err := sw.Slack.WaitConnected(s.ctx, 1); err != nil {
		t.Fatal(err)
	}
}

// slackSeen is everything resetbot put before people in Slack: messages and their earlier
// revisions, private answers, response_url posts and what acks carried.
func (sw *secretWorld) slackSeen(t *testing.T) string {
	sn := sw.Slack.Snapshot()
	b, err := json.Marshal([]any{sn.Messages, sn.Ephemerals, sn.Responses, sn.Acks})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// request sends one HTTP request to run's front and keeps the answer with the outputs.
func (s *serving) request(t *testing.T, method, path, secret, body string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(s.ctx, method, s.front+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if secret != "" {
		req.Header.Set("Authorization", secret)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	fmt.Fprintf(s.http, "%s %s: %d %s\n%s\n", method, path, res.StatusCode, res.Header, b)
	return res.StatusCode
}

// serveEverything is a day at work for `run`: a request approved and run, an Okta event
// delivered with a wrong secret and then the right one, and the probes and metrics read.
func (sw *secretWorld) serveEverything(t *testing.T, s *serving) {
	demo.SendCommand(sw.World, sw.Rita, sw.Alice.Email+" phished")
	var card slackfake.Message
	err := sw.Slack.WaitFor(s.ctx, func(sn slackfake.Snapshot) bool {
		i := slices.IndexFunc(sn.Messages, demo.IsCard)
		if i >= 0 {
			card = sn.Messages[i]
		}
		return i >= 0
	})
	if err != nil {
		t.Fatalf("no card: %v\n%s", err, s.logs.String())
	}
	demo.ClickCard(sw.World, sw.Sam, card, "approve")
	if err := sw.Slack.WaitFor(s.ctx, func(sn slackfake.Snapshot) bool { return len(sn.Thread(card.Channel, card.TS)) > 0 }); err != nil {
		t.Fatalf("no summary: %v\n%s", err, s.logs.String())
	}
	// A wrong secret with the right one inside: echoing what was presented would show it.
	delivery := hookDelivery(suspiciousEvent(sw.World, "a1b2c3d4-secrets-0001"))
	if got := s.request(t, http.MethodPost, "/hooks/okta", "wrong"+oktaHookKey, delivery); got != http.StatusUnauthorized {
		t.Errorf("a delivery with a wrong secret got %d, want 401", got)
	}
	if got := s.request(t, http.MethodPost, "/hooks/okta", oktaHookKey, delivery); got != http.StatusOK {
		t.Errorf("a delivery with the secret got %d, want 200", got)
	}
	err = sw.Slack.WaitFor(s.ctx, func(sn slackfake.Snapshot) bool {
		return slices.ContainsFunc(sn.Messages, func(m slackfake.Message) bool { return m.Channel == alertChannel })
	})
	if err != nil {
		t.Fatalf("no card for the Okta event: %v\n%s", err, s.logs.String())
	}
	for _, p := range []string{"/healthz", "/readyz", "/metrics"} {
		s.request(t, http.MethodGet, p, "", "")
	}
}

// refusedAddr is a local address nothing listens on: connections to it are refused at once.
func refusedAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// postgresForms are the ways an operator writes a PostgreSQL URL with dbPassword in it: in
// the userinfo, unencoded with a # that net/url refuses, in the query, under postgresql://.
func postgresForms(user, host, database, query string) map[string]string {
	q := ""
	if query != "" {
		q = "?" + query
	}
	return map[string]string{
		"the password in the userinfo":   "postgres://" + user + ":" + dbPassword + "@" + host + "/" + database + q,
		"an unencoded # in it":           "postgres://" + user + ":Pa#" + dbPassword + "@" + host + "/" + database + q,
		"the password in the query":      "postgres://" + user + "@" + host + "/" + database + "?" + strings.TrimPrefix(query+"&", "&") + "password=" + dbPassword,
		"the postgresql:// scheme":       "postgresql://" + user + ":" + dbPassword + "@" + host + "/" + database + q,
		"a / in it, not percent-encoded": "postgres://" + user + ":1234/" + dbPassword + "@" + host + "/" + database + q,
	}
}

// secretsCase is one path through resetbot: the commands run, in order, and what the last
// one must end with, so the path is known to have been taken.
type secretsCase struct {
	name  string
	setup func(t *testing.T, sw *secretWorld)
	runs  [][]string
	// drive, when set, is what happens while the last command (`run`) serves.
	drive func(sw *secretWorld, t *testing.T, s *serving)
	code  int
	// want must be in the last command's stdout or stderr.
	want string
}

func (tc secretsCase) check(t *testing.T) {
	t.Parallel()
	sw := startSecretWorld(t)
	if tc.setup != nil {
		tc.setup(t, sw)
	}
	for i, args := range tc.runs {
		var drive func(*testing.T, *serving)
		last := i == len(tc.runs)-1
		if last && tc.drive != nil {
			drive = func(t *testing.T, s *serving) { tc.drive(sw, t, s) }
		}
		args = slices.Clone(args)
		for j := range args {
			args[j] = strings.ReplaceAll(args[j], "{dir}", sw.dir)
		}
		inv := sw.resetbot(t, args, drive)
		sw.assertHidden(t, "resetbot "+strings.Join(args, " ")+" ("+tc.name+")", inv.outputs()...)
		if last && (inv.code != tc.code || !strings.Contains(inv.stdout+inv.stderr, tc.want)) {
			t.Errorf("want exit %d and %q, so that the path was taken; got %s", tc.code, tc.want, inv)
		}
	}
}

// with sets one variable before a case runs ("" removes it).
func with(key, value string) func(*testing.T, *secretWorld) {
	return func(_ *testing.T, sw *secretWorld) { sw.Set(key, value) }
}

// wrongly sets a secret to a wrong value, which may not show either.
func wrongly(key, value string) func(*testing.T, *secretWorld) {
	return func(_ *testing.T, sw *secretWorld) {
		sw.Set(key, value)
		sw.hide("the wrong "+key, value)
	}
}

// justStart is the drive of a run whose start is the path: it is stopped once it serves.
func justStart(*secretWorld, *testing.T, *serving) {}

func TestRunShowsNoSecret(t *testing.T) {
	t.Parallel()
	refused := refusedAddr(t)
	cases := []secretsCase{
		{name: "serving a request and an Okta event, logging at debug", runs: [][]string{{"run"}}, drive: (*secretWorld).serveEverything,
			setup: with("RESETBOT_LOG_LEVEL", "debug"),
			code:  cli.ExitOK, want: `"msg":"resetbot starting"`},
		{name: "serving, with every secret read from a file", runs: [][]string{{"run"}}, drive: (*secretWorld).serveEverything,
			setup: func(_ *testing.T, sw *secretWorld) { sw.fromFiles(secretVars...) },
			code:  cli.ExitOK, want: `"msg":"resetbot starting"`},
		{name: "Slack refusing the bot token", runs: [][]string{{"run"}},
			setup: wrongly("SLACK_BOT_TOKEN", "xoxb-wrong-"+slackBotToken),
			code:  cli.ExitFailed, want: "invalid_auth"},
		{name: "Okta not answering", runs: [][]string{{"run"}},
			setup: with("OKTA_ORG_URL", "https://"+refused),
			code:  cli.ExitFailed, want: "RESETBOT_REQUESTER_GROUPS"},
		{name: "Okta refusing the token", runs: [][]string{{"run"}},
			setup: wrongly("OKTA_API_TOKEN", "00wrong-"+oktaAPIToken),
			code:  cli.ExitFailed, want: "RESETBOT_REQUESTER_GROUPS"},
		{name: "a group Okta does not know", runs: [][]string{{"run"}},
			setup: with("RESETBOT_REQUESTER_GROUPS", "Nobody Here"),
			code:  cli.ExitUsage, want: `no Okta group is named or has the id "Nobody Here"`},
		{name: "a port that is not one", runs: [][]string{{"run"}},
			setup: with("RESETBOT_DATABASE_URL", "postgres://resetbot:"+dbPassword+"@db.internal:notaport/resetbot"),
			code:  cli.ExitUsage, want: "RESETBOT_DATABASE_URL"},
		{name: "the password where the port goes", runs: [][]string{{"run"}},
			setup: with("RESETBOT_DATABASE_URL", "postgres://resetbot@db.internal:"+dbPassword+":x/resetbot"),
			code:  cli.ExitUsage, want: "RESETBOT_DATABASE_URL"},
		{name: "an unknown sslmode", runs: [][]string{{"run"}},
			setup: with("RESETBOT_DATABASE_URL", "postgres://resetbot:"+dbPassword+"@db.internal/resetbot?sslmode="+dbPassword),
			code:  cli.ExitUsage, want: "RESETBOT_DATABASE_URL"},
		{name: "a query parameter without its =", runs: [][]string{{"run"}},
			setup: with("RESETBOT_DATABASE_URL", "postgres://resetbot@db.internal/resetbot?"+dbPassword),
			code:  cli.ExitUsage, want: "RESETBOT_DATABASE_URL"},
		{name: "a PostgreSQL URL without its //, taken for a file", runs: [][]string{{"run"}},
			setup: with("RESETBOT_DATABASE_URL", "postgres:resetbot:"+dbPassword+"@db.internal/nowhere/resetbot"),
			code:  cli.ExitFailed, want: "RESETBOT_DATABASE_URL"},
		{name: "a database host that does not exist", runs: [][]string{{"run"}},
			setup: with("RESETBOT_DATABASE_URL", "postgres://resetbot:"+dbPassword+"@nowhere.invalid/resetbot?connect_timeout=2"),
			code:  cli.ExitFailed, want: "nowhere.invalid"},
	}
	for form, u := range postgresForms("resetbot", refused, "resetbot", "connect_timeout=2") {
		code, want := cli.ExitFailed, "connection refused"
		if strings.Contains(form, "a / in it") {
			code, want = cli.ExitUsage, "percent-encode / as %2F"
		}
		cases = append(cases, secretsCase{name: "a database not answering, " + form, runs: [][]string{{"run"}},
			setup: with("RESETBOT_DATABASE_URL", u),
			code:  code, want: want})
	}
	for _, tc := range cases {
		t.Run(tc.name, tc.check)
	}
}

// TestRunOnPostgreSQLShowsNoPassword starts `run` on a PostgreSQL database whose URL carries
// a password in each way one can: the startup line names the database without it.
func TestRunOnPostgreSQLShowsNoPassword(t *testing.T) {
	t.Parallel()
	base, err := url.Parse(storetest.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	host, database := base.Host, strings.TrimPrefix(base.Path, "/")
	want := fmt.Sprintf(`"database":"postgres %s/%s user=%s"`, host, database, base.User.Username())
	for form, u := range postgresForms(base.User.Username(), host, database, base.RawQuery) {
		if strings.Contains(form, "a / in it") {
			continue // refused before it connects: TestRunShowsNoSecret has it
		}
		tc := secretsCase{name: form, runs: [][]string{{"run"}}, drive: justStart,
			setup: with("RESETBOT_DATABASE_URL", u),
			code:  cli.ExitOK, want: want}
		t.Run(form, tc.check)
	}
}

func TestCommandsShowNoSecret(t *testing.T) {
	t.Parallel()
	cases := []secretsCase{
		{name: "check, every system answering", runs: [][]string{{"check"}}, code: cli.ExitOK, want: "microsoft  ok"},
		{name: "check, every secret read from a file", runs: [][]string{{"check"}}, code: cli.ExitOK, want: "microsoft  ok",
			setup: func(_ *testing.T, sw *secretWorld) { sw.fromFiles(secretVars...) }},
		{name: "check, Okta refusing the token", runs: [][]string{{"check"}}, code: cli.ExitFailed, want: "okta       FAILED",
			setup: wrongly("OKTA_API_TOKEN", "00wrong-"+oktaAPIToken)},
		{name: "check, Okta's service app signing with a key Okta does not know", runs: [][]string{{"check"}}, code: cli.ExitFailed, want: "okta       FAILED",
			setup: asServiceApp(func(t *testing.T, sw *secretWorld) []byte {
				sw.Okta.NewServiceApp("0oaSECRETapp")
				return newKeyPEM(t)
			})},
		{name: "check, Okta's service app with its key", runs: [][]string{{"check"}}, code: cli.ExitOK, want: "okta       ok",
			setup: asServiceApp(func(_ *testing.T, sw *secretWorld) []byte { return sw.Okta.NewServiceApp("0oaSECRETapp") })},
		{name: "check, Google refusing the key", runs: [][]string{{"check"}}, code: cli.ExitFailed, want: "google     FAILED",
			setup: func(t *testing.T, sw *secretWorld) {
				var creds map[string]string
				if err := json.Unmarshal(sw.Google.CredentialsJSON(), &creds); err != nil {
					t.Fatal(err)
				}
				key := newKeyPEM(t)
				sw.hideKey("a Google key that is not the service account's", key)
				creds["private_key"] = string(key)
				b, _ := json.Marshal(creds)
				sw.Set("GOOGLE_APPLICATION_CREDENTIALS", sw.file("wrong-google-key.json", b))
			}},
		{name: "check, Zoom refusing the secret", runs: [][]string{{"check"}}, code: cli.ExitFailed, want: "Invalid client_id or client_secret",
			setup: func(_ *testing.T, sw *secretWorld) {
				sw.Set("ZOOM_CLIENT_SECRET", "wrong-"+sw.Zoom.ClientSecret())
				sw.hide("the wrong Zoom secret", "wrong-"+sw.Zoom.ClientSecret())
				sw.basic[sw.Zoom.ClientID()+" (wrong)"] = "wrong-" + sw.Zoom.ClientSecret()
			}},
		{name: "check, Microsoft refusing the secret", runs: [][]string{{"check"}}, code: cli.ExitFailed, want: "microsoft  FAILED",
			setup: wrongly("AZURE_CLIENT_SECRET", "wrong-"+azureSecret)},
		{name: "reset --dry-run, logging at debug", runs: [][]string{{"reset", "--dry-run", "--verbose", "alice@example.com"}}, code: cli.ExitOK, want: "Dry run: nothing was revoked.",
			setup: with("RESETBOT_LOG_LEVEL", "debug")},
		{name: "reset, logging at debug, then the audit log", code: cli.ExitOK, want: "phished",
			setup: with("RESETBOT_LOG_LEVEL", "debug"),
			runs: [][]string{{"reset", "--verbose", "--reason", "phished", "alice@example.com"}, {"reset", "--json", "bob@example.com"},
				{"audit"}, {"audit", "--json"}, {"audit", "--csv"}}},
		{name: "reset --file, with secrets from files", code: cli.ExitOK, want: "Result: done",
			setup: func(_ *testing.T, sw *secretWorld) {
				sw.fromFiles(secretVars...)
				sw.Set("RESETBOT_LOG_LEVEL", "debug")
				sw.file("people.txt", []byte("alice@example.com\nbob@example.com\n"))
			},
			runs: [][]string{{"reset", "--verbose", "--file", "{dir}/people.txt"}}},
		{name: "reset, every system refusing", runs: [][]string{{"reset", "--verbose", "alice@example.com"}}, code: cli.ExitFailed, want: "Result: failed",
			setup: func(_ *testing.T, sw *secretWorld) {
				sw.Okta.FailTimes("revoke", 20, fake.Fault{Status: http.StatusForbidden})
				sw.Google.FailTimes("revoke", 20, fake.Fault{Status: http.StatusForbidden})
				for _, k := range []string{"ZOOM_CLIENT_SECRET", "AZURE_CLIENT_SECRET", "SLACK_ADMIN_TOKEN"} {
					sw.Set(k, "wrong-"+sw.hidden[k])
					sw.hide("the wrong "+k, "wrong-"+sw.hidden[k])
				}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, tc.check)
	}
}

// asServiceApp makes Okta's credentials a service app's, signing with the key keyFor gives.
func asServiceApp(keyFor func(t *testing.T, sw *secretWorld) []byte) func(*testing.T, *secretWorld) {
	return func(t *testing.T, sw *secretWorld) {
		key := keyFor(t, sw)
		sw.hideKey("the Okta service app's private key", key)
		sw.Set("OKTA_API_TOKEN", "")
		sw.Set("OKTA_CLIENT_ID", "0oaSECRETapp")
		sw.Set("OKTA_PRIVATE_KEY_FILE", sw.file("okta-key.pem", key))
	}
}

// newKeyPEM makes an RSA private key no fake knows, as PKCS#8 PEM.
func newKeyPEM(t *testing.T) []byte {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func TestConfigurationErrorsShowNoSecret(t *testing.T) {
	t.Parallel()
	var cases []secretsCase
	for _, k := range secretVars {
		cases = append(cases, secretsCase{name: k + " and " + k + "_FILE both set", runs: [][]string{{"run"}},
			setup: func(_ *testing.T, sw *secretWorld) {
				if k == "RESETBOT_DATABASE_URL" {
					sw.Set(k, "postgres://resetbot:"+dbPassword+"@db.internal/resetbot")
				}
				v, _ := sw.Getenv(k)
				sw.Set(k+"_FILE", sw.file(k, []byte(v)))
			},
			code: cli.ExitUsage, want: k + " and " + k + "_FILE are both set"})
	}
	cases = append(cases,
		secretsCase{name: "a hook secret too short", runs: [][]string{{"run"}}, code: cli.ExitUsage, want: "RESETBOT_OKTA_HOOK_SECRET is too short",
			setup: wrongly("RESETBOT_OKTA_HOOK_SECRET", "SECRETshort")},
		secretsCase{name: "a bot token without its prefix", runs: [][]string{{"run"}}, code: cli.ExitUsage, want: "SLACK_BOT_TOKEN does not start with xoxb-",
			setup: with("SLACK_BOT_TOKEN", strings.TrimPrefix(slackBotToken, "xoxb-"))},
		secretsCase{name: "an app token without its prefix", runs: [][]string{{"run"}}, code: cli.ExitUsage, want: "SLACK_APP_TOKEN does not start with xapp-",
			setup: with("SLACK_APP_TOKEN", strings.TrimPrefix(slackAppToken, "xapp-"))},
		secretsCase{name: "the bot's token given as Slack's admin token", runs: [][]string{{"check"}}, code: cli.ExitUsage, want: "SLACK_ADMIN_TOKEN is a bot token (xoxb-…)",
			setup: with("SLACK_ADMIN_TOKEN", slackBotToken)},
		secretsCase{name: "Zoom half configured", runs: [][]string{{"check"}}, code: cli.ExitUsage, want: "Zoom is half configured",
			setup: with("ZOOM_ACCOUNT_ID", "")},
		secretsCase{name: "Microsoft half configured", runs: [][]string{{"reset", "alice@example.com"}}, code: cli.ExitUsage, want: "Microsoft 365 is half configured",
			setup: with("AZURE_TENANT_ID", "")},
		secretsCase{name: "an Okta token without its org", runs: [][]string{{"run"}}, code: cli.ExitUsage, want: "OKTA_ORG_URL is not set",
			setup: with("OKTA_ORG_URL", "")},
		secretsCase{name: "an Okta token and a service app both", runs: [][]string{{"check"}}, code: cli.ExitUsage, want: "OKTA_API_TOKEN and OKTA_CLIENT_ID are both set",
			setup: with("OKTA_CLIENT_ID", "0oaSECRETapp")},
		secretsCase{name: "a secret file holding more than a secret", runs: [][]string{{"run"}}, code: cli.ExitUsage, want: "OKTA_API_TOKEN_FILE",
			setup: func(_ *testing.T, sw *secretWorld) {
				sw.Set("OKTA_API_TOKEN", "")
				sw.Set("OKTA_API_TOKEN_FILE", sw.file("okta-tokens.txt", []byte(strings.Repeat(oktaAPIToken+"\n", 4096))))
			}},
	)
	for _, tc := range cases {
		t.Run(tc.name, tc.check)
	}
}

// No outside input is known to panic the bot's workers or the Okta hook's: both recover
// anyway and log the panic. These tests cause one the way a bug would — an index computed
// from the input — and pin what the recover's line holds: the message, the panic and, for the
// hook, the delivery's id; never the request, its text or a secret.

// requestText is in the request that panics; the recover's line must not show it.
const requestText = "SECRET-request-body-6c2e"

// outOfRange panics as a bug indexing by its input's length would.
func outOfRange(input string) error {
	var none []error
	return none[len(input)]
}

// panickingDirectory panics on every lookup.
type panickingDirectory struct{}

func (panickingDirectory) Find(_ context.Context, who string) (reset.Target, error) {
	return reset.Target{}, outOfRange(who)
}

func (panickingDirectory) FindByEmail(_ context.Context, email string) (reset.Target, error) {
	return reset.Target{}, outOfRange(email)
}

func (panickingDirectory) FindMany(_ context.Context, names []string) (map[string]reset.Target, map[string]error, error) {
	return nil, nil, outOfRange(strings.Join(names, ","))
}

func (panickingDirectory) Groups(_ context.Context, id string) ([]reset.Group, error) {
	return nil, outOfRange(id)
}

func (panickingDirectory) GroupMembers(_ context.Context, group string, _ int) ([]reset.Target, error) {
	return nil, outOfRange(group)
}

// panickingSubmitter panics on every event.
type panickingSubmitter struct{}

func (panickingSubmitter) Submit(_ context.Context, s bot.Submission) (reset.Request, error) {
	return reset.Request{}, outOfRange(s.Reason)
}

// waitLine waits for the JSON log line whose msg is msg and returns its fields.
func waitLine(t *testing.T, ctx context.Context, logs *fake.Buffer, msg string) map[string]any {
	t.Helper()
	for {
		for _, line := range strings.Split(logs.String(), "\n") {
			var fields map[string]any
			if json.Unmarshal([]byte(line), &fields) == nil && fields["msg"] == msg {
				return fields
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no %q line:\n%s", msg, logs.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// assertRecoverLine checks the recover's line has exactly keys and shows none of the request.
func assertRecoverLine(t *testing.T, sw *secretWorld, fields map[string]any, keys ...string) {
	t.Helper()
	got := slices.Sorted(maps.Keys(fields))
	if want := slices.Sorted(slices.Values(append(keys, "time", "level", "msg", "panic"))); !slices.Equal(got, want) {
		t.Errorf("the recover's line has %v, want exactly %v", got, want)
	}
	if p, _ := fields["panic"].(string); !strings.HasPrefix(p, "runtime error: index out of range") {
		t.Errorf("panic = %q, want the runtime's words", p)
	}
	line, _ := json.Marshal(fields)
	sw.hide("the request's text", requestText)
	sw.assertHidden(t, "the recover's line", output{"the log line", string(line)})
}

func TestRecoveredPanicsLogNoRequest(t *testing.T) {
	t.Parallel()
	t.Run("the bot's worker", func(t *testing.T) {
		t.Parallel()
		sw := startSecretWorld(t)
		ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
		defer cancel()
		var logs fake.Buffer
		logger := slog.New(slog.NewJSONHandler(&logs, nil))
		b := sw.botWith(t, ctx, panickingDirectory{}, logger)
		done := make(chan error, 1)
		go func() { done <- b.Run(ctx, time.Second) }()
		if err := sw.Slack.WaitConnected(ctx, 1); err != nil {
			t.Fatal(err)
		}
		demo.SendCommand(sw.World, sw.Rita, sw.Alice.Email+" "+requestText)
		fields := waitLine(t, ctx, &logs, "request handler panicked")
		cancel()
		<-done
		assertRecoverLine(t, sw, fields)
	})
	t.Run("the Okta hook's delivery worker", func(t *testing.T) {
		t.Parallel()
		sw := startSecretWorld(t)
		var logs fake.Buffer
		st, err := store.Open(t.Context(), filepath.Join(t.TempDir(), "inbox.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		h, err := hook.New(hook.Config{
			Secret: oktaHookKey, Channel: alertChannel, Inbox: st,
			Policies: map[string]hook.Policy{hook.SuspiciousActivity: hook.Approve},
			Logger:   slog.New(slog.NewJSONHandler(&logs, nil)),
		})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(h)
		defer srv.Close()
		ev := suspiciousEvent(sw.World, "a1b2c3d4-panic-0001")
		ev.message = requestText
		s := &serving{ctx: t.Context(), logs: &logs, front: srv.URL, http: &strings.Builder{}}
		if got := s.request(t, http.MethodPost, "/", oktaHookKey, hookDelivery(ev)); got != http.StatusOK {
			t.Fatalf("the delivery got %d, want 200", got)
		}
		ctx, stop := context.WithCancel(t.Context())
		worked := make(chan struct{})
		go func() {
			defer close(worked)
			hook.NewWorker(hook.WorkerConfig{Store: st, Submitter: panickingSubmitter{}, Replica: "test", Poll: 20 * time.Millisecond,
				Logger: slog.New(slog.NewJSONHandler(&logs, nil))}).Run(ctx)
		}()
		fields := waitLine(t, t.Context(), &logs, "okta event worker panicked")
		stop()
		<-worked
		assertRecoverLine(t, sw, fields, "uuid")
	})
}

// botWith wires a bot on the world as `resetbot run` does, but with dir as its directory.
func (sw *secretWorld) botWith(t *testing.T, ctx context.Context, dir bot.Directory, logger *slog.Logger) *bot.Bot {
	t.Helper()
	cfg, err := config.LoadFor(sw.Getenv, config.Need{Slack: true, Policy: true})
	if err != nil {
		t.Fatal(err)
	}
	w, err := app.Wire(ctx, cfg, sw.Roots)
	if err != nil {
		t.Fatal(err)
	}
	policy, err := app.ResolvePolicy(ctx, w.Directory, cfg)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	api := slack.New(cfg.Slack.BotToken, slack.OptionAppLevelToken(cfg.Slack.AppToken), slack.OptionAPIURL(cfg.Slack.APIURL))
	b, err := bot.New(bot.Config{
		Slack: api, Socket: socketmode.New(api), Directory: dir, Store: st, Executor: w.Executor(logger),
		Policy: policy, Workspace: bot.Workspace{TeamID: sw.Slack.TeamID()}, Logger: logger,
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}
