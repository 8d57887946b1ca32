package e2e

import (
	"strings"
	"testing"

	"github.com/resetbot/resetbot/internal/demo"
	oktafake "github.com/resetbot/resetbot/internal/fake/okta"
	slackfake "github.com/resetbot/resetbot/internal/fake/slack"
	"github.com/resetbot/resetbot/internal/store"
)

// Slack is the fifth system: the person's Slack sessions are wiped with the Org Admin's token
// (SLACK_ADMIN_TOKEN) while the bot keeps talking through its own. The world's Slack is an
// Enterprise Grid org, and everyone in the world has a Slack account.

// outcomeDetails returns the audit log's outcome lines of a request, as "system: outcome".
func (e *e2e) outcomeDetails(requestID string) string {
	e.t.Helper()
	var lines []string
	for _, ev := range e.audit(requestID) {
		if ev.Kind == store.KindOutcome {
			lines = append(lines, ev.Detail)
		}
	}
	return strings.Join(lines, "\n")
}

func TestE2ESlackSessionsAreSignedOut(t *testing.T) {
	t.Parallel()
	e := startE2E(t, nil)

	e.mustAck(e.st.Command(e.w.Rita, "bob@example.com phished"))
	card := e.card(1)
	if plan := string(card.Blocks); !strings.Contains(plan, "*slack*: account found") {
		t.Errorf("the plan has no slack line: %s", plan)
	}
	if n := len(e.w.Slack.Resets()); n != 0 {
		t.Fatalf("%d Slack session resets before anyone approved", n)
	}
	e.mustAck(e.st.Click(e.w.Sam, card, "approve"))
	sum := e.summary(card)
	for _, want := range []string{"Result: done", "*slack*: revoked"} {
		if !strings.Contains(sum, want) {
			t.Errorf("summary lacks %q:\n%s", want, sum)
		}
	}
	e.cardReads(card, ": done")
	if n := e.w.Slack.SessionResets(e.w.Bob.SlackID); n != 1 {
		t.Errorf("Bob's Slack sessions were wiped %d times, want once (every session, web and mobile)", n)
	}
	if rs := e.w.Slack.Resets(); len(rs) != 1 || rs[0].By != slackfake.AdminUserID {
		t.Errorf("session resets = %+v, want one, made with the Org Admin's token", rs)
	}
	if got := e.outcomeDetails(demo.RequestID(card)); !strings.Contains(got, "slack: revoked") {
		t.Errorf("audit outcomes lack slack:\n%s", got)
	}
	// The bot's own token did the talking: no Slack refusal of the bot's calls.
	for _, err := range e.w.Slack.Errors() {
		t.Errorf("Slack refused %s: %s", err.Method, err.Error)
	}
}

func TestE2ESomeoneWithoutSlackHasNoAccountThere(t *testing.T) {
	t.Parallel()
	e := startE2E(t, nil)
	// Nora is in Okta, Google and Microsoft 365, but not in Slack.
	const nora = "nora@example.com"
	e.w.Okta.AddUser(oktafake.User{Login: nora, Email: nora, FirstName: "Nora", LastName: "Noslack"})
	e.w.Google.AddUser(nora)
	e.w.Microsoft.AddUser(nora)

	e.mustAck(e.st.Command(e.w.Rita, nora+" lost laptop"))
	card := e.card(1)
	if plan := string(card.Blocks); !strings.Contains(plan, "*slack*: no account") {
		t.Errorf("the plan does not say Nora has no Slack account: %s", plan)
	}
	e.mustAck(e.st.Click(e.w.Sam, card, "approve"))
	sum := e.summary(card)
	for _, want := range []string{"Result: done", "*slack*: no account"} {
		if !strings.Contains(sum, want) {
			t.Errorf("summary lacks %q:\n%s", want, sum)
		}
	}
	if n := len(e.w.Slack.Resets()); n != 0 {
		t.Errorf("%d Slack session resets for someone Slack does not know", n)
	}
}

func TestE2ESlackTokenOfSomeoneWhoIsNoAdmin(t *testing.T) {
	t.Parallel()
	e := startE2Eless(t, nil)
	// An operator pasted a user token of their own rather than an Org Admin's.
	e.w.Set("SLACK_ADMIN_TOKEN", e.w.Slack.UserToken(e.w.Oscar.SlackID))
	e.start()

	e.mustAck(e.st.Command(e.w.Rita, "alice@example.com phished"))
	card := e.card(1)
	// Finding people needs no admin: the plan still says Alice has an account.
	if plan := string(card.Blocks); !strings.Contains(plan, "*slack*: account found") {
		t.Errorf("the plan has no slack line: %s", plan)
	}
	e.mustAck(e.st.Click(e.w.Sam, card, "approve"))
	sum := e.summary(card)
	for _, want := range []string{
		"Result: partial",
		"*okta*: revoked", "*google*: revoked", "*zoom*: revoked", "*microsoft*: revoked",
		"*slack*: failed",
		"not_an_admin",
		"SLACK_ADMIN_TOKEN must be the org-level user token of an Enterprise Grid Org Admin or Owner",
		"admin.users:write",
	} {
		if !strings.Contains(sum, want) {
			t.Errorf("summary lacks %q:\n%s", want, sum)
		}
	}
	if n := e.w.Slack.Count("admin.users.session.reset"); n != 1 {
		t.Errorf("admin.users.session.reset called %d times, want once: retrying cannot make Oscar an admin", n)
	}
	if n := e.w.Slack.SessionResets(e.w.Alice.SlackID); n != 0 {
		t.Errorf("Alice's Slack sessions wiped %d times, want none", n)
	}
	if got := e.outcomeDetails(demo.RequestID(card)); !strings.Contains(got, "slack: failed") {
		t.Errorf("audit outcomes lack the slack failure:\n%s", got)
	}
	for _, s := range append(e.w.Secrets(), e.w.Env()["SLACK_ADMIN_TOKEN"]) {
		if strings.Contains(sum, s) {
			t.Errorf("the summary shows a token")
		}
	}
}

func TestE2ESlackSkippedWithoutAdminToken(t *testing.T) {
	t.Parallel()
	e := startE2E(t, map[string]string{"SLACK_ADMIN_TOKEN": ""})
	e.mustAck(e.st.Command(e.w.Rita, "alice@example.com phished"))
	card := e.card(1)
	if plan := string(card.Blocks); !strings.Contains(plan, "*slack*: not configured (not configured: SLACK_ADMIN_TOKEN is not set)") {
		t.Errorf("the plan does not say slack is not configured: %s", plan)
	}
	e.mustAck(e.st.Click(e.w.Sam, card, "approve"))
	sum := e.summary(card)
	for _, want := range []string{"Result: done", "*slack*: skipped", "SLACK_ADMIN_TOKEN is not set"} {
		if !strings.Contains(sum, want) {
			t.Errorf("summary lacks %q:\n%s", want, sum)
		}
	}
	if n := len(e.w.Slack.Calls()); n == 0 {
		t.Fatal("the bot never called Slack")
	}
	if n := e.w.Slack.Count("users.lookupByEmail") + e.w.Slack.Count("admin.users.session.reset"); n != 0 {
		t.Errorf("%d calls to sign someone out of Slack without SLACK_ADMIN_TOKEN", n)
	}
}
