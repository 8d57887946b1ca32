package bot

import (
	"cmp"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/resetbot/resetbot/internal/reset"
	"github.com/resetbot/resetbot/internal/store"
)

func TestApproveSignsTheTargetOutOnceAndReportsInTheThread(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.provider("zoom").answers["alice@example.com"] = reset.NoAccountError(errors.New("zoom user not found"))

	card := h.card("U0RITA", "alice@example.com clicked a phishing link")
	if card.channel != channel {
		t.Errorf("card posted in %s; want the channel of the command, %s", card.channel, channel)
	}
	id := h.requestID(card)
	h.signedOutOnce() // nothing before an approval
	if r := h.request(id); r.State != reset.Pending || r.MessageTS != card.ts || r.Channel != channel {
		t.Fatalf("stored request is %s at %s/%s; want pending at the card %s/%s", r.State, r.Channel, r.MessageTS, channel, card.ts)
	}

	h.click("U0SAM", actionApprove, card)

	h.signedOutOnce("alice@example.com")
	sum := h.summaryOf(card)
	lines := strings.Split(sum, "\n")
	want := []string{"*Result: done* for Alice Example &lt;alice@example.com&gt;", "*okta*: revoked", "*google*: revoked", "*zoom*: no account", "*microsoft*: revoked"}
	if len(lines) != len(want) {
		t.Fatalf("summary = %q; want a result line and one line per system", sum)
	}
	for i, w := range want {
		contains(t, "summary line", lines[i], w)
	}
	final := h.now(card)
	contains(t, "final card", final.shown(), "Session reset done", "*Approved by* <@U0SAM>", "*okta*: revoked", "*zoom*: no account")
	if b := buttons(final.blocks); len(b) != 0 {
		t.Errorf("final card still has buttons %+v", b)
	}
	if len(h.private("U0SAM")) != 0 {
		t.Errorf("the approver was answered privately: %q", h.private("U0SAM"))
	}
	r := h.request(id)
	if r.State != reset.StateDone || r.Approver.SlackID != "U0SAM" || r.Approver.OktaLogin != "sam@example.com" {
		t.Errorf("stored request is %s approved by %+v; want done, approved by Sam in Slack and Okta", r.State, r.Approver)
	}
	if got := kinds(h.events(id)); got != "requested,approved,outcome,outcome,outcome,outcome,finished" {
		t.Errorf("audit = %s", got)
	}
}

func TestRefusedClicksChangeNothing(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		target  string
		clicker string
		// edit changes the click's payload; h is the bot with the card posted.
		edit  func(h *harness, cb *slack.InteractionCallback)
		later time.Duration
		code  string
		want  string
		// anonymous refusals happen before the request is known, so name none.
		anonymous bool
	}{
		{name: "a clicker outside the approver groups", clicker: "U0OSCAR", code: "not_approver", want: "not allowed to approve session resets: you need to be in one of these Okta groups: Responders"},
		{name: "the person to sign out", target: "sam@example.com", clicker: "U0SAM", code: "self_target", want: "You are one of the people this request signs out"},
		{name: "the requester, with peer approval on", clicker: "U0RITA", code: "self_approval", want: "another responder has to approve it"},
		{name: "a responder suspended in Okta", clicker: "U0SUE", code: "inactive", want: "Your Okta account is SUSPENDED"},
		{name: "a slack user of another workspace", clicker: "U0FOREIGN", code: "foreign_user", want: "belongs to another workspace"},
		{name: "a slack connect stranger", clicker: "U0STRANGER", code: "stranger", want: "through Slack Connect"},
		{name: "a slack email nobody confirmed", clicker: "U0UNCONFIRMED", code: "email_unconfirmed", want: "Slack has not confirmed the email address"},
		{name: "a guest", clicker: "U0GUEST", code: "guest", want: "Guest accounts cannot"},
		{name: "a bot", clicker: "U0BOT", code: "bot", want: "Bots cannot"},
		{name: "a deactivated slack account", clicker: "U0GONE", code: "deactivated", want: "deactivated"},
		{name: "a slack user unknown to okta", clicker: "U0GHOST", code: "no_okta_account", want: "could not find an Okta account for ghost@example.com"},
		{name: "a click after the card expired", clicker: "U0SAM", later: ttl, code: "expired", want: "expired before it was approved"},
		{name: "a click from a workspace not served", clicker: "U0SAM", anonymous: true, code: "team_not_allowed", want: "does not serve this workspace",
			edit: func(_ *harness, cb *slack.InteractionCallback) { cb.Team.ID = "T0ELSEWHERE" }},
		{name: "a click naming an unknown request", clicker: "U0SAM", anonymous: true, code: "unknown_request", want: "I don't know that request",
			edit: func(_ *harness, cb *slack.InteractionCallback) {
				cb.ActionCallback.BlockActions[0].Value = "' OR 1=1 --"
			}},
		{name: "a click on another card naming this request", clicker: "U0SAM", code: "tampering", want: "does not belong to this request",
			edit: func(h *harness, cb *slack.InteractionCallback) {
				cb.Container.MessageTs = h.card("U0TESS", "bob@example.com").ts
			}},
		{name: "a click naming this request from another channel", clicker: "U0SAM", code: "tampering", want: "does not belong to this request",
			edit: func(_ *harness, cb *slack.InteractionCallback) { cb.Container.ChannelID = "C0ELSEWHERE" }},
		{name: "a clicker slack cannot look up", clicker: "U0UNKNOWN", code: "slack_error", want: "I could not look you up in Slack just now; nothing was changed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			card := h.card("U0RITA", cmp.Or(tt.target, "alice@example.com"))
			h.clock.Advance(tt.later)
			h.click(tt.clicker, actionApprove, card, func(cb *slack.InteractionCallback) {
				if tt.edit != nil {
					tt.edit(h, cb)
				}
			})
			e := h.refusedClick(card, tt.clicker, actionApprove, tt.code, tt.want)
			if id := h.requestID(card); e.RequestID != id && !tt.anonymous {
				t.Errorf("refusal names request %q; want %q", e.RequestID, id)
			}
		})
	}
}

func TestClicksTheBotDoesNotHandleAreIgnored(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cb   slack.InteractionCallback
	}{
		{name: "a view submission", cb: slack.InteractionCallback{Type: slack.InteractionTypeViewSubmission}},
		{name: "block actions without an action", cb: slack.InteractionCallback{Type: slack.InteractionTypeBlockActions}},
		{name: "a button that is not the card's", cb: slack.InteractionCallback{Type: slack.InteractionTypeBlockActions,
			ActionCallback: slack.ActionCallbacks{BlockActions: []*slack.BlockAction{{ActionID: "overflow_menu", Value: "req1"}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			if work := h.bot.onInteraction(tt.cb); work != nil {
				t.Errorf("work follows %s; want it acked and left alone", tt.name)
			}
		})
	}
}

func TestProtectedTargetNeedsTwoOtherApprovers(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *Config) { c.Policy.ApproveProtected = true })
	card := h.card("U0RITA", "victor@example.com break-glass account used")
	id := h.requestID(card)
	contains(t, "card", card.shown(), "two responders other than the requester must approve")

	h.click("U0SAM", actionApprove, card)
	h.heard("U0SAM", "Your approval is recorded")
	h.signedOutOnce()
	if r := h.request(id); r.State != reset.Pending || len(r.Approvals) != 1 || r.Approvals[0].SlackID != "U0SAM" {
		t.Fatalf("after one approval the request is %s with approvals %+v; want pending with Sam's", r.State, r.Approvals)
	}
	contains(t, "card after one approval", h.now(card).shown(), "*Approved by* <@U0SAM>; waiting for one more responder")
	if b := buttons(h.now(card).blocks); len(b) != 2 {
		t.Errorf("card after one approval has buttons %+v; want Approve and Cancel still", b)
	}
	if e := h.events(id); kinds(e) != "requested,approved" || e[1].Detail != "approval 1 of 2" {
		t.Errorf("audit after one approval = %s %+v", kinds(e), e)
	}

	h.click("U0SAM", actionApprove, card)
	h.click("U0RITA", actionApprove, card)
	if got := h.private("U0SAM"); len(got) != 2 || !strings.Contains(got[1], "You already approved this request") {
		t.Errorf("a second click by the same approver was answered %q; want a refusal", got)
	}
	h.heard("U0RITA", "You asked for this reset")
	h.signedOutOnce()
	if r := h.request(id); r.State != reset.Pending || len(r.Approvals) != 1 {
		t.Fatalf("refused clicks changed the request: %s with approvals %+v", r.State, r.Approvals)
	}

	h.click("U0TESS", actionApprove, card)
	h.signedOutOnce("victor@example.com")
	contains(t, "final card", h.now(card).shown(), "*Approved by* <@U0SAM> and <@U0TESS>", "Session reset done")
	if r := h.request(id); r.State != reset.StateDone || r.Approver.SlackID != "U0TESS" {
		t.Errorf("request is %s approved by %+v; want done, by Tess", r.State, r.Approver)
	}
	contains(t, "summary", h.summaryOf(card), "*Result: done* for Victor Vip")
}

func TestCancel(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		target  string
		clicker string
		// refusal is the private answer of a cancel refused; "" is a cancel that happens.
		refusal string
		code    string
	}{
		{name: "by the requester", clicker: "U0RITA"},
		{name: "by an approver", clicker: "U0SAM"},
		{name: "not by the person to sign out", target: "sam@example.com", clicker: "U0SAM", code: "self_target", refusal: "you cannot cancel it"},
		{name: "not by someone outside the groups", clicker: "U0OSCAR", code: "not_approver", refusal: "Only the requester or an approver can cancel"},
		{name: "not by a suspended responder", clicker: "U0SUE", code: "inactive", refusal: "Your Okta account is SUSPENDED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			card := h.card("U0RITA", cmp.Or(tt.target, "alice@example.com"))
			id := h.requestID(card)
			h.click(tt.clicker, actionCancel, card)
			if tt.refusal != "" {
				h.refusedClick(card, tt.clicker, actionCancel, tt.code, tt.refusal)
				return
			}
			h.signedOutOnce()
			if r := h.request(id); r.State != reset.Cancelled || r.CancelledBy.SlackID != tt.clicker {
				t.Errorf("request is %s, cancelled by %+v; want cancelled by %s", r.State, r.CancelledBy, tt.clicker)
			}
			h.endedUnapproved(card, reset.Cancelled, "Session reset cancelled", "Cancelled by <@"+tt.clicker+">. Nothing was reset.")
		})
	}
}

func TestSweepExpiresUnapprovedCardsOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	card := h.card("U0RITA", "alice@example.com")
	id := h.requestID(card)
	h.clock.Advance(ttl - time.Second)
	h.bot.sweep(h.ctx)
	if r := h.request(id); r.State != reset.Pending || len(h.updates(card)) != 0 {
		t.Fatalf("a card a second short of its expiry was changed: request %s, %d updates", r.State, len(h.updates(card)))
	}

	h.clock.Advance(time.Second)
	h.bot.sweep(h.ctx)
	h.bot.sweep(h.ctx) // a second sweep finds nothing more to announce
	if n := len(h.updates(card)); n != 1 {
		t.Fatalf("card updated %d times; want once", n)
	}
	h.endedUnapproved(card, reset.Expired, "Session reset expired", "without approval. Nothing was reset")
}

func TestSweepFinishesARunWhoseReplicaDied(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	card := h.card("U0RITA", "alice@example.com")
	id := h.requestID(card)
	if _, err := h.store.Approve(h.ctx, id, reset.Actor{SlackID: "U0SAM"}, h.clock.Now(), "replica-dead", time.Hour); err != nil {
		t.Fatal(err)
	}
	h.bot.sweep(h.ctx)
	h.bot.wg.Wait()
	h.signedOutOnce() // the dead replica's lease has not lapsed yet

	// Its lease lapses (released here, as the database's clock would end it).
	if err := h.store.ReleaseLeases(h.ctx, "replica-dead"); err != nil {
		t.Fatal(err)
	}
	h.bot.sweep(h.ctx)
	h.bot.wg.Wait()
	h.signedOutOnce("alice@example.com")
	contains(t, "summary", h.summaryOf(card), "*Result: done*", "(resumed after interruption)")
	contains(t, "card", h.now(card).shown(), "Session reset done", "resumed after interruption")
	if r := h.request(id); r.State != reset.StateDone {
		t.Errorf("request is %s; want done", r.State)
	}
	events := h.events(id)
	if i := slices.IndexFunc(events, func(e store.Event) bool { return e.Kind == store.KindTakenOver }); i < 0 || events[i].Actor.Name != "replica-test" {
		t.Errorf("audit = %s; want the takeover on record by replica-test", kinds(events))
	}
}

// TestCancelAfterExpirySaysItExpired pins the answer to a Cancel clicked after the card's
// expiry but before the sweep marked it expired: the store refuses the cancel as expired.
func TestCancelAfterExpirySaysItExpired(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	card := h.card("U0RITA", "alice@example.com")
	h.clock.Advance(ttl)
	h.click("U0RITA", actionCancel, card)
	h.heard("U0RITA", "expired")
	for _, text := range h.private("U0RITA") {
		lacks(t, "answer", text, "already pending")
	}
	h.unchanged(card)
}

// endedUnapproved checks a request that ended before anyone approved it: stored in state,
// on record as asked and ended so, its card showing shown without buttons, and a late
// Approve by Sam answered with why, signing nobody out.
func (h *harness) endedUnapproved(card sent, state reset.State, shown ...string) {
	h.t.Helper()
	id := h.requestID(card)
	if r := h.request(id); r.State != state {
		h.t.Errorf("request is %s; want %s", r.State, state)
	}
	if got, want := kinds(h.events(id)), "requested,"+string(state); got != want {
		h.t.Errorf("audit = %s; want %s", got, want)
	}
	now := h.now(card)
	contains(h.t, "card", now.shown(), shown...)
	if b := buttons(now.blocks); len(b) != 0 {
		h.t.Errorf("%s card still has buttons %+v", state, b)
	}
	h.click("U0SAM", actionApprove, card)
	h.heard("U0SAM", "already "+string(state))
	h.signedOutOnce()
}

// refusedClick checks that clicker's click of action on card was refused: answered privately
// with want, the refusal on record with its code, and nothing changed. It returns the record.
func (h *harness) refusedClick(card sent, clicker, action, code, want string) store.Event {
	h.t.Helper()
	h.heard(clicker, want)
	h.unchanged(card)
	return h.refusedOnRecord(clicker, action, code)
}
