package e2e

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/resetbot/resetbot/internal/app"
	"github.com/resetbot/resetbot/internal/cli"
	"github.com/resetbot/resetbot/internal/config"
	"github.com/resetbot/resetbot/internal/demo"
	slackfake "github.com/resetbot/resetbot/internal/fake/slack"
	"github.com/resetbot/resetbot/internal/fake/world"
	"github.com/resetbot/resetbot/internal/store"
)

// These tests are the attacks of someone inside the response team, or holding a responder's
// Slack session, against the real bot and the fakes: each one must change nothing but the
// audit log, and say why privately.

// refusedIn finds the audit log's refusal with this code, or fails.
func (e *e2e) refusedIn(requestID, code string) store.Event {
	e.t.Helper()
	for _, ev := range e.audit(requestID) {
		if ev.Kind == store.KindRefused && strings.HasSuffix(ev.Detail, ": "+code) {
			return ev
		}
	}
	e.t.Fatalf("no refusal %q in the audit log: %s", code, kinds(e.audit(requestID)))
	return store.Event{}
}

// cardShows waits until the card's blocks contain want.
func (e *e2e) cardShows(card slackfake.Message, want string) {
	e.t.Helper()
	err := e.w.Slack.WaitFor(e.ctx, func(sn slackfake.Snapshot) bool {
		m, _ := sn.Message(card.Channel, card.TS)
		return strings.Contains(string(m.Blocks), want)
	})
	if err != nil {
		e.t.Fatalf("the card never showed %q", want)
	}
}

// stillPending checks a card still offers its buttons and nothing reached any system.
func (e *e2e) stillPending(card slackfake.Message) {
	e.t.Helper()
	e.assertNothingRevoked()
	m, _ := e.w.Slack.Snapshot().Message(card.Channel, card.TS)
	if !strings.Contains(string(m.Blocks), `"approve"`) || strings.Contains(m.Text, "cancelled") {
		e.t.Errorf("the card changed: %s", m.Text)
	}
}

func TestE2ENobodyDecidesAboutThemselves(t *testing.T) {
	t.Parallel()
	t.Run("the target cannot cancel or approve their own reset", func(t *testing.T) {
		t.Parallel()
		e := startE2E(t, nil)
		e.st.Command(e.w.Rita, "sam@example.com his laptop was stolen")
		card := e.card(1)
		e.cardStored(card)
		e.mustAck(e.st.Click(e.w.Sam, card, "cancel"))
		e.private(e.w.Sam, "you cannot cancel it")
		e.mustAck(e.st.Click(e.w.Sam, card, "approve"))
		e.private(e.w.Sam, "someone else has to approve it")
		e.stillPending(card)
		if ev := e.refusedIn(demo.RequestID(card), "self_target"); ev.Actor.OktaID != e.w.Sam.OktaID {
			t.Errorf("refusal names %+v; want Sam's Okta identity", ev.Actor)
		}
		// Another responder's decision still counts: the bot was not stopped.
		tess := e.w.AddPerson("Tess", "Third", "tess@example.com", "U0TESS", true)
		e.mustAck(e.st.Click(tess, card, "approve"))
		e.summary(card)
		e.assertRevokedOnce()
	})
	t.Run("a one-person team cannot approve a reset of a responder alone", func(t *testing.T) {
		t.Parallel()
		e := startE2E(t, map[string]string{"RESETBOT_REQUIRE_PEER_APPROVAL": "false"})
		e.st.Command(e.w.Rita, "alice@example.com")
		alice := e.card(1)
		e.st.Command(e.w.Rita, "sam@example.com")
		sam := e.card(2)
		e.cardStored(sam)
		e.mustAck(e.st.Click(e.w.Rita, sam, "approve"))
		e.private(e.w.Rita, "can approve resets too")
		e.stillPending(sam)
		// The opt-out still lets her approve a reset of someone who is not a responder.
		e.cardStored(alice)
		e.mustAck(e.st.Click(e.w.Rita, alice, "approve"))
		e.summary(alice)
		e.assertRevokedOnce()
	})
	t.Run("the target of an okta event's card cannot cancel it", func(t *testing.T) {
		t.Parallel()
		e := startHookE2E(t, map[string]string{"RESETBOT_EVENT_SUSPICIOUS_ACTIVITY": "approve"})
		ev := hookEvent{"5b1e0c44-aaaa-4bbb-8ccc-000000000001", "user.account.report_suspicious_activity_by_enduser",
			"User report suspicious activity", e.w.Sam.OktaID, e.w.Sam.Email, e.w.Sam}
		if status := e.hookPost(hookDelivery(ev), hookSecret); status != http.StatusOK {
			t.Fatalf("delivery answered %d", status)
		}
		card := e.alertCard()
		e.cardStored(card)
		e.mustAck(e.st.Click(e.w.Sam, card, "cancel"))
		e.private(e.w.Sam, "you cannot cancel it")
		e.stillPending(card)
		e.refusedIn(demo.RequestID(card), "self_target")
	})
}

func TestE2EOnlyActiveOktaUsersAct(t *testing.T) {
	t.Parallel()
	for _, status := range []string{"SUSPENDED", "LOCKED_OUT", "DEPROVISIONED", "PASSWORD_EXPIRED"} {
		t.Run(status, func(t *testing.T) {
			t.Parallel()
			e := startE2E(t, nil)
			e.st.Command(e.w.Sam, "alice@example.com")
			card := e.card(1)
			e.cardStored(card)
			// Rita's Okta account is compromised and suspended; her Slack session is not.
			e.w.Okta.SetStatus(e.w.Rita.OktaID, status)
			e.mustAck(e.st.Click(e.w.Rita, card, "approve"))
			e.private(e.w.Rita, "Your Okta account is "+status)
			e.mustAck(e.st.Click(e.w.Rita, card, "cancel"))
			e.mustAck(e.st.Command(e.w.Rita, "bob@example.com"))
			e.until("three refusals on record", func() bool { return countKind(e.audit(""), store.KindRefused) >= 3 })
			e.stillPending(card)
			if n := len(e.w.Slack.Messages()); n != 1 {
				t.Errorf("%d messages; a suspended responder's request must post nothing", n)
			}
			for _, ev := range e.audit("") {
				if ev.Kind == store.KindRefused && !strings.HasSuffix(ev.Detail, ": inactive") {
					t.Errorf("refusal %q; want inactive", ev.Detail)
				}
			}
		})
	}
}

func TestE2EGroupsGrantRightsByID(t *testing.T) {
	t.Parallel()
	t.Run("an imported group with the responders' name grants nothing", func(t *testing.T) {
		t.Parallel()
		e := startE2E(t, nil)
		mallory := e.w.AddPerson("Mallory", "Imported", "mallory@example.com", "U0MALLORY", false)
		imported := e.w.Okta.AddGroupOfType("", strings.ToLower(world.ResponderGroup), "APP_GROUP")
		e.w.Okta.AddToGroup(mallory.OktaID, imported)
		e.mustAck(e.st.Command(mallory, "alice@example.com"))
		e.private(mallory, "not allowed to request")
		e.st.Command(e.w.Rita, "alice@example.com")
		card := e.card(1)
		e.cardStored(card)
		e.mustAck(e.st.Click(mallory, card, "approve"))
		e.private(mallory, "not allowed to approve")
		e.stillPending(card)
	})
	t.Run("startup refuses a group name two groups share", func(t *testing.T) {
		t.Parallel()
		w, err := world.Start(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(w.Close)
		imported := w.Okta.AddGroupOfType("", world.ResponderGroup, "APP_GROUP")
		var stdout, stderr bytes.Buffer
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		code := cli.Main(ctx, []string{"run"}, cli.Env{Getenv: w.Getenv, Stdout: &stdout, Stderr: &stderr, Roots: w.Roots})
		msg := stderr.String()
		if code != cli.ExitUsage {
			t.Errorf("run exited %d; want %d (a configuration error): %s", code, cli.ExitUsage, msg)
		}
		for _, want := range []string{"RESETBOT_REQUESTER_GROUPS", w.GroupID + " (OKTA_GROUP)", imported + " (APP_GROUP)", "set the id"} {
			if !strings.Contains(msg, want) {
				t.Errorf("error does not say %q: %s", want, msg)
			}
		}
		if w.Slack.Connections() != 0 {
			t.Error("the bot connected to Slack with a group it cannot trust")
		}
		// Naming the group by id settles it.
		w.Set("RESETBOT_REQUESTER_GROUPS", w.GroupID)
		cfg, err := config.LoadFor(w.Getenv, config.Need{Slack: true, Policy: true})
		if err != nil {
			t.Fatal(err)
		}
		svc, err := app.BuildBot(ctx, cfg, slog.New(slog.DiscardHandler), app.BotOptions{Roots: w.Roots})
		if err != nil {
			t.Fatalf("by id: %v", err)
		}
		svc.Close()
	})
}

func TestE2ESlackIdentityIsTheInstallingWorkspaces(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		user slackfake.User
		want string
	}{
		{"a user of another workspace with a responder's email", slackfake.User{ID: "U0OTHER", TeamID: "T0OTHERTEAM", Name: "rita", Email: "rita@example.com"}, "belongs to another workspace"},
		{"a slack connect stranger", slackfake.User{ID: "U0STRANGE", TeamID: "T0PARTNER", Name: "rita", Email: "rita@example.com", IsStranger: true}, "Slack Connect"},
		{"an unconfirmed email", slackfake.User{ID: "U0UNCONF", Name: "rita2", Email: "rita@example.com", EmailUnconfirmed: true}, "has not confirmed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := startE2E(t, nil)
			e.w.Slack.AddUser(tt.user)
			impostor := world.Person{Name: "Impostor", SlackID: tt.user.ID}
			e.st.Command(e.w.Sam, "alice@example.com")
			card := e.card(1)
			e.cardStored(card)
			e.mustAck(e.st.Command(impostor, "bob@example.com"))
			e.private(impostor, tt.want)
			e.mustAck(e.st.Click(impostor, card, "approve"))
			e.until("the click refused", func() bool { return countKind(e.audit(demo.RequestID(card)), store.KindRefused) == 1 })
			e.stillPending(card)
			for _, ev := range e.audit("") {
				if ev.Kind == store.KindRefused && (ev.Actor.OktaLogin != "" || ev.Actor.SlackID != tt.user.ID) {
					t.Errorf("the refusal records %+v: an impostor must never be recorded as the responder", ev.Actor)
				}
			}
		})
	}
	t.Run("the workspace's own responders are recorded with their team", func(t *testing.T) {
		t.Parallel()
		e := startE2E(t, nil)
		e.st.Command(e.w.Rita, "alice@example.com")
		card := e.card(1)
		events := e.audit(demo.RequestID(card))
		if len(events) == 0 || events[0].Actor.TeamID == "" || events[0].Actor.OktaID != e.w.Rita.OktaID || events[0].Actor.SlackID != e.w.Rita.SlackID {
			t.Errorf("requested event records %+v; want Slack id, team and Okta identity", events)
		}
	})
	t.Run("RESETBOT_ALLOWED_TEAMS widens who may act", func(t *testing.T) {
		t.Parallel()
		e := startE2E(t, map[string]string{"RESETBOT_ALLOWED_TEAMS": "T0SISTER"})
		sister := world.Person{Name: "Sister", SlackID: "U0SISTER"}
		e.w.Slack.AddUser(slackfake.User{ID: sister.SlackID, TeamID: "T0SISTER", Name: "sam", Email: "sam@example.com"})
		e.w.Slack.SendSlashCommand(slackfake.SlashCommand{TeamID: "T0SISTER", ChannelID: world.Channel, UserID: sister.SlackID, Text: "alice@example.com"})
		e.card(1)
	})
}

func TestE2EAutomaticOnlyWhenOktaAgrees(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		target func(w *world.World) world.Person
		status string
		auto   bool
		note   string
	}{
		{"a suspension okta shows", func(w *world.World) world.Person { return w.Alice }, "SUSPENDED", true, ""},
		{"a suspension okta does not show", func(w *world.World) world.Person { return w.Alice }, "ACTIVE", false, "Okta shows them ACTIVE now"},
		{"a suspended responder", func(w *world.World) world.Person { return w.Sam }, "SUSPENDED", false, "can request or approve resets"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := startHookE2E(t, nil) // suspend defaults to auto
			target := tt.target(e.w)
			e.w.Okta.SetStatus(target.OktaID, tt.status)
			ev := hookEvent{"77a0c1d2-" + strings.ReplaceAll(strings.ToLower(tt.status), "_", "") + "-4000-8000-" + target.SlackID,
				"user.lifecycle.suspend", "Suspend Okta user", hookAdminID, hookAdmin, target}
			if status := e.hookPost(hookDelivery(ev), hookSecret); status != http.StatusOK {
				t.Fatalf("delivery answered %d", status)
			}
			card := e.alertCard()
			if tt.auto {
				e.summary(card)
				e.assertRevokedOnce()
				return
			}
			e.waitMetric(hookEvents("user.lifecycle.suspend", "approve"), 1)
			if !strings.Contains(string(card.Blocks), "Not reset at once") || !strings.Contains(string(card.Blocks), tt.note) {
				t.Errorf("the card does not say why it waits (%q): %s", tt.note, card.Blocks)
			}
			e.stillPending(card)
		})
	}
}

func TestE2EProtectedPeople(t *testing.T) {
	t.Parallel()
	protect := func(e *e2e) {
		g := e.w.Okta.AddGroup("", "Break Glass")
		e.w.Okta.AddToGroup(e.w.Alice.OktaID, g)
	}
	t.Run("refused by default", func(t *testing.T) {
		t.Parallel()
		e := startE2Eless(t, map[string]string{"RESETBOT_PROTECTED_GROUPS": "Break Glass"})
		protect(e)
		e.start()
		e.mustAck(e.st.Command(e.w.Rita, "alice@example.com, bob@example.com phishing"))
		e.private(e.w.Rita, "protected (Okta group Break Glass)")
		if n := len(e.w.Slack.Messages()); n != 0 {
			t.Errorf("%d messages posted about a protected person", n)
		}
		e.refusedIn("", "protected")
	})
	t.Run("two approvers other than the requester with the approve policy", func(t *testing.T) {
		t.Parallel()
		e := startE2Eless(t, map[string]string{"RESETBOT_PROTECTED_GROUPS": "Break Glass", "RESETBOT_PROTECTED_POLICY": "approve"})
		protect(e)
		e.start()
		tess := e.w.AddPerson("Tess", "Third", "tess@example.com", "U0TESS", true)
		e.st.Command(e.w.Rita, "alice@example.com")
		card := e.card(1)
		if !strings.Contains(string(card.Blocks), "two responders other than the requester") {
			t.Errorf("the card does not say it needs two approvers: %s", card.Blocks)
		}
		e.cardStored(card)
		e.mustAck(e.st.Click(e.w.Sam, card, "approve"))
		e.private(e.w.Sam, "needs one more")
		e.cardShows(card, "waiting for one more responder")
		e.mustAck(e.st.Click(e.w.Sam, card, "approve"))
		e.private(e.w.Sam, "You already approved")
		e.mustAck(e.st.Click(e.w.Rita, card, "approve"))
		e.private(e.w.Rita, "another responder has to approve")
		e.assertNothingRevoked()
		e.mustAck(e.st.Click(tess, card, "approve"))
		final := e.cardReads(card, ": done")
		e.assertRevokedOnce()
		if !strings.Contains(string(final.Blocks), "U0SAM") || !strings.Contains(string(final.Blocks), "U0TESS") {
			t.Errorf("the card does not name both approvers: %s", final.Blocks)
		}
		if n := countKind(e.audit(demo.RequestID(card)), store.KindApproved); n != 2 {
			t.Errorf("%d approvals on record; want 2", n)
		}
	})
	t.Run("check says whether resetbot's own okta admin is protected", func(t *testing.T) {
		t.Parallel()
		w, err := world.Start(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(w.Close)
		admin := w.AddPerson("Okta", "Admin", "okta-admin@example.com", "U0OKTAADMIN", false)
		w.Okta.SetTokenOwner(admin.OktaID)
		glass := w.Okta.AddGroup("", "Break Glass")
		w.Set("RESETBOT_PROTECTED_GROUPS", "Break Glass")
		check := func() string {
			var stdout, stderr bytes.Buffer
			if code := cli.Main(t.Context(), []string{"check"}, cli.Env{Getenv: w.Getenv, Stdout: &stdout, Stderr: &stderr, Roots: w.Roots}); code != cli.ExitOK {
				t.Fatalf("check exited %d: %s%s", code, stdout.String(), stderr.String())
			}
			return stdout.String()
		}
		if out := check(); !strings.Contains(out, "okta-admin@example.com") || !strings.Contains(out, "NOT protected") {
			t.Errorf("check does not warn that resetbot's own admin is unprotected:\n%s", out)
		}
		w.Okta.AddToGroup(admin.OktaID, glass)
		if out := check(); !strings.Contains(out, "okta-admin@example.com is protected (Break Glass)") {
			t.Errorf("check does not say the admin is protected:\n%s", out)
		}
	})
}

func TestE2EBatchSmallerThings(t *testing.T) {
	t.Parallel()
	t.Run("one group named three ways is expanded once", func(t *testing.T) {
		t.Parallel()
		e := startE2E(t, nil)
		financeGroup(e, 3) // Alice, Bob and 3 more
		e.mustAck(e.st.Command(e.w.Rita, "group:Finance, group:finance, group:FINANCE quarterly audit"))
		card := e.card(1)
		if !strings.Contains(string(card.Blocks), "5 people") {
			t.Errorf("card: %s", card.Blocks)
		}
		// Once to expand the group, once for each group that gives a role (the responders).
		if n := e.w.Okta.Count("members"); n != 2 {
			t.Errorf("group members were listed %d times; want 2: the group once, and the responders once", n)
		}
	})
	t.Run("a cancelled card names who cancelled", func(t *testing.T) {
		t.Parallel()
		e := startE2E(t, nil)
		e.st.Command(e.w.Rita, "alice@example.com")
		card := e.card(1)
		e.cardStored(card)
		e.mustAck(e.st.Click(e.w.Sam, card, "cancel"))
		final := e.cardReads(card, "cancelled")
		if !strings.Contains(string(final.Blocks), "Cancelled by \\u003c@U0SAM\\u003e") {
			t.Errorf("cancelled card: %s", final.Blocks)
		}
	})
}
