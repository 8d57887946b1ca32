package e2e

import (
	"strings"
	"testing"

	"github.com/resetbot/resetbot/internal/demo"
	oktafake "github.com/resetbot/resetbot/internal/fake/okta"
)

// "no account" is safe only when resetbot looked under the right name. Carol's Microsoft 365
// UPN is in an Okta attribute the operator mapped (RESETBOT_MICROSOFT_ID_ATTRIBUTE); Google
// knows her by her secondEmail from an acquisition; Zoom does not know her under any name.
func TestE2EAPersonIsFoundUnderEveryName(t *testing.T) {
	t.Parallel()
	e := startE2E(t, map[string]string{"RESETBOT_MICROSOFT_ID_ATTRIBUTE": "msUpn"})
	const (
		carol = "carol@example.com"
		upn   = "chale@corp.onmicrosoft.example"
		old   = "c.hale@acquired.example"
	)
	e.w.Okta.AddUser(oktafake.User{Login: carol, Email: carol, FirstName: "Carol", LastName: "Hale",
		SecondEmail: old, Attributes: map[string]string{"msUpn": upn}})
	e.w.Microsoft.AddMailbox(upn, "carol.hale@corp.example")
	e.w.Google.AddUser(old)
	// A decoy: someone else's account under Carol's login must not be what Microsoft signs out.
	e.w.Microsoft.AddMailbox("decoy@corp.onmicrosoft.example", "decoy@corp.example")

	e.mustAck(e.st.Command(e.w.Rita, carol+" phished"))
	card := e.card(1)
	plan := string(card.Blocks)
	for _, want := range []string{
		"*microsoft*: account found as " + upn,
		"*google*: account found as " + old + ", nothing under " + carol,
		"*zoom*: no account (tried " + carol + ", " + old + ")",
		"*okta*: account found\\n",
	} {
		if !strings.Contains(plan, want) {
			t.Errorf("the plan lacks %q:\n%s", want, plan)
		}
	}
	e.mustAck(e.st.Click(e.w.Sam, card, "approve"))
	sum := e.summary(card)
	for _, want := range []string{
		"Result: done",
		"*microsoft*: revoked as " + upn,
		"*google*: revoked as " + old + ", nothing under " + carol,
		"*zoom*: no account (tried " + carol + ", " + old + ")",
	} {
		if !strings.Contains(sum, want) {
			t.Errorf("summary lacks %q:\n%s", want, sum)
		}
	}
	if n := e.w.Microsoft.Revocations(upn); n != 1 {
		t.Errorf("Carol's Microsoft 365 account was signed out %d times, want once", n)
	}
	if n := e.w.Microsoft.Revocations("decoy@corp.onmicrosoft.example"); n != 0 {
		t.Errorf("someone else's account was signed out %d times", n)
	}
	if n := e.w.Google.SignOuts(old); n != 1 {
		t.Errorf("Carol's Google account was signed out %d times, want once", n)
	}
	audit := e.outcomeDetails(demo.RequestID(card))
	for _, want := range []string{"microsoft: revoked as " + upn, "zoom: no account (tried " + carol + ", " + old + ")"} {
		if !strings.Contains(audit, want) {
			t.Errorf("the audit log lacks %q:\n%s", want, audit)
		}
	}
}

// Without any mapping, a renamed person's Microsoft 365 account is found by the address they
// kept as a proxy, and Google's alias resolves to the primary account: both are named.
func TestE2EARenamedPersonIsFoundByTheirOldAddress(t *testing.T) {
	t.Parallel()
	e := startE2E(t, nil)
	const (
		dan = "dan@example.com"
		upn = "dkim@corp.onmicrosoft.example"
		gw  = "dan.kim@corp.example"
	)
	e.w.Okta.AddUser(oktafake.User{Login: dan, Email: dan, FirstName: "Dan", LastName: "Kim"})
	e.w.Microsoft.AddMailbox(upn, gw, dan)
	e.w.Google.AddUser(gw, dan)

	e.mustAck(e.st.Command(e.w.Rita, dan+" phished"))
	card := e.card(1)
	plan := string(card.Blocks)
	for _, want := range []string{"*microsoft*: account found as " + upn, "*google*: account found as " + gw} {
		if !strings.Contains(plan, want) {
			t.Errorf("the plan lacks %q:\n%s", want, plan)
		}
	}
	e.mustAck(e.st.Click(e.w.Sam, card, "approve"))
	sum := e.summary(card)
	for _, want := range []string{"Result: done", "*microsoft*: revoked as " + upn, "*google*: revoked"} {
		if !strings.Contains(sum, want) {
			t.Errorf("summary lacks %q:\n%s", want, sum)
		}
	}
	if n := e.w.Microsoft.Revocations(upn); n != 1 {
		t.Errorf("Dan's Microsoft 365 account was signed out %d times, want once", n)
	}
	if n := e.w.Google.SignOuts(gw); n != 1 {
		t.Errorf("Dan's Google account was signed out %d times, want once", n)
	}
}
