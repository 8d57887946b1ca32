package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/resetbot/resetbot/internal/demo"
	"github.com/resetbot/resetbot/internal/fake"
	oktafake "github.com/resetbot/resetbot/internal/fake/okta"
	slackfake "github.com/resetbot/resetbot/internal/fake/slack"
	"github.com/resetbot/resetbot/internal/store"
)

// financeGroup puts Alice, Bob and n more people in an Okta group named Finance, with
// accounts everywhere (Bob has none in Zoom), and returns the new people's addresses.
func financeGroup(e *e2e, n int) []string {
	e.t.Helper()
	gid := e.w.Okta.AddGroup("", "Finance")
	e.w.Okta.AddToGroup(e.w.Alice.OktaID, gid)
	e.w.Okta.AddToGroup(e.w.Bob.OktaID, gid)
	var emails []string
	for i := range n {
		email := fmt.Sprintf("fin%02d@example.com", i)
		u := e.w.Okta.AddUser(oktafake.User{Login: email, Email: email, FirstName: "Fin", LastName: fmt.Sprint(i)})
		e.w.Okta.AddToGroup(u.ID, gid)
		e.w.Google.AddUser(email)
		e.w.Zoom.AddUser(email)
		e.w.Microsoft.AddUser(email)
		e.w.Slack.AddUser(slackfake.User{ID: fmt.Sprintf("U0FIN%02d", i), Name: fmt.Sprintf("fin%02d", i), RealName: fmt.Sprintf("Fin %d", i), Email: email})
		emails = append(emails, email)
	}
	return emails
}

func TestE2EBatchOfAGroupAndPeople(t *testing.T) {
	t.Parallel()
	e := startE2E(t, nil)
	financeGroup(e, 4) // Alice, Bob and 4 more
	// Zoom refuses every revoke (a missing scope: even Bob, who has no account there, is
	// refused rather than not found), and Microsoft fails once (one person).
	e.w.Zoom.FailTimes("revoke", 1000, fake.Fault{Status: http.StatusForbidden, Message: "Invalid access token, does not contain scopes:[user:write:admin]."})
	e.w.Microsoft.Fail("revoke", fake.Fault{Status: http.StatusForbidden, Message: "Insufficient privileges to complete the operation."})

	// Alice is named and in the group: she counts once. Oscar is named by address.
	e.mustAck(e.st.Command(e.w.Rita, `group:Finance, alice@example.com oscar@example.com phishing wave 7`))
	card := e.card(1)
	blocks := string(card.Blocks)
	for _, want := range []string{"7 people", "Alice Example", "and 2 more", "phishing wave 7", "7 ACTIVE",
		"*okta*: 7 accounts found", "*zoom*: 6 accounts found, 1 no account", "*slack*: 7 accounts found", "Approve"} {
		if !strings.Contains(blocks, want) {
			t.Errorf("batch card lacks %q: %s", want, blocks)
		}
	}
	e.assertNothingRevoked()

	e.mustAck(e.st.Click(e.w.Sam, card, "approve"))
	replies, err := e.st.WaitThread(e.ctx, card, 1)
	if err != nil {
		t.Fatalf("no thread summary: %v", err)
	}
	var sum strings.Builder
	for _, r := range replies {
		sum.WriteString(r.Text + "\n")
	}
	text := sum.String()
	// Each system's counts add up to the 7 people.
	for _, want := range []string{
		"Result: partial* for 7 people",
		"*okta*: 7 revoked",
		"*google*: 7 revoked",
		"*zoom*: 7 failed",
		"*microsoft*: 6 revoked, 1 failed",
		"*slack*: 7 revoked",
		"*Failures (8)*",
		"*zoom* failed for 7 — revoke zoom sessions for …: Invalid access token, does not contain scopes",
		"*microsoft* failed for 1",
		"resetbot audit --request " + demo.RequestID(card) + " --csv",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("summary lacks %q:\n%s", want, text)
		}
	}
	if n := strings.Count(text, "@example.com"); n != 8 {
		t.Errorf("summary names %d failed people, want every one of the 8 failures listed:\n%s", n, text)
	}
	final := string(e.cardReads(card, ": partial").Blocks)
	for _, want := range []string{"7 of 7 people done", "*zoom*: 7 failed", "*microsoft*: 6 revoked, 1 failed", e.w.Sam.SlackID} {
		if !strings.Contains(final, want) {
			t.Errorf("final card lacks %q: %s", want, final)
		}
	}

	// Every person reached every system once (a 403 is permanent, so not retried); one
	// broken system stopped nobody anywhere else.
	if got := e.revokes(); got["okta"] != 7 || got["google"] != 7 || got["zoom"] != 7 || got["microsoft"] != 7 || got["slack"] != 7 {
		t.Errorf("revokes = %v; want 7 at each system", got)
	}

	events := e.audit(demo.RequestID(card))
	outcomes := countKind(events, store.KindOutcome)
	var finished string
	for _, ev := range events {
		switch ev.Kind {
		case store.KindFinished:
			finished = ev.Detail
		case store.KindRequested, store.KindApproved:
			if ev.Target != "7 people" {
				t.Errorf("%s event names %q, want the batch (7 people)", ev.Kind, ev.Target)
			}
		}
	}
	if outcomes != 7*5 {
		t.Errorf("%d outcome events in the audit log, want 35 (7 people × 5 systems): %s", outcomes, kinds(events))
	}
	if !strings.HasPrefix(finished, "partial: okta 7 revoked") {
		t.Errorf("finished event = %q", finished)
	}
}

func TestE2EBatchWithAnUnknownNameChangesNothing(t *testing.T) {
	t.Parallel()
	e := startE2E(t, nil)
	for _, login := range []string{"pat.one", "pat.two"} {
		e.w.Okta.AddUser(oktafake.User{Login: login, Email: "pat@example.com"})
	}
	for _, tc := range []struct{ text, want string }{
		{"alice@example.com, mallory@example.com, bob@example.com phished", "could not find 1 of the 3 names in Okta: mallory@example.com"},
		{"alice@example.com, pat@example.com phished", "pat@example.com (several Okta users have that email: use their login)"},
		{"group:Nonexistent alice@example.com", "group:Nonexistent"},
	} {
		e.mustAck(e.st.Command(e.w.Rita, tc.text))
		e.private(e.w.Rita, tc.want)
	}
	if n := e.channelPosts(); n != 0 {
		t.Errorf("%d messages posted in the channel; want none", n)
	}
	e.assertNothingRevoked()
}
