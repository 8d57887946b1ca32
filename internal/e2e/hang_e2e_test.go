package e2e

import (
	"strings"
	"testing"
	"time"
)

// These tests hang the bot's dependencies, as an incident does: every command and click must
// still get a clear private answer, and once the dependency answers again the next command
// works at once.

func TestE2EAHungOktaCostsEachCommandAnAnswerNeverTheBot(t *testing.T) {
	t.Parallel()
	e := startE2Eless(t, nil)
	e.opt.StepTimeout = time.Second
	e.opt.Workers = 4
	e.start()
	// The Okta lookups every command starts with hang; more commands than the bot has
	// workers and Okta has slots in its pacing queue (8 by default).
	e.w.Okta.SetLatency("search", 10*time.Minute)
	asked := make([]string, 12)
	for i := range asked {
		asked[i] = e.st.Command(e.w.Rita, "alice@example.com")
	}
	for _, id := range asked {
		e.mustAck(id)
	}
	e.until("every command answered privately", func() bool {
		n := 0
		for _, r := range e.w.Slack.Responses() {
			if strings.Contains(r.Text, "Okta did not answer in 1s while I was checking your permissions; nothing was changed") ||
				strings.Contains(r.Text, "resetbot is busy right now; nothing was done") {
				n++
			}
		}
		return n >= len(asked)
	})
	if n := e.channelPosts(); n != 0 {
		t.Errorf("%d messages posted while Okta hung", n)
	}
	// Okta answers again: the next command works, with no worker or pacing slot still held.
	e.w.Okta.SetLatency("search", 0)
	e.w.Okta.Release("search")
	before := e.w.Okta.Count("search")
	e.mustAck(e.st.Command(e.w.Rita, "alice@example.com now"))
	e.card(1)
	if e.w.Okta.Count("search") == before {
		t.Error("the card was posted without asking Okta")
	}
}

func TestE2EAClickThatCannotBeWorkedOnIsAnsweredVisibly(t *testing.T) {
	t.Parallel()
	e := startE2Eless(t, nil)
	e.opt.StepTimeout = 5 * time.Second
	e.opt.Workers = 1
	e.start()
	e.st.Command(e.w.Rita, "alice@example.com")
	card := e.card(1)
	e.cardStored(card)
	// The one worker is held by a command waiting on a hung Okta.
	e.w.Okta.SetLatency("search", 10*time.Minute)
	e.mustAck(e.st.Command(e.w.Oscar, "bob@example.com"))
	e.until("the worker is held", func() bool { return e.w.Okta.Count("search") >= 2 })
	e.mustAck(e.st.Click(e.w.Sam, card, "approve"))
	e.private(e.w.Sam, "resetbot is busy right now; nothing was done")
	e.assertNothingRevoked()
	e.w.Okta.SetLatency("search", 0)
	e.w.Okta.Release("search")
	// Once free, the same click works.
	e.until("the held command is answered", func() bool {
		for _, r := range e.w.Slack.Responses() {
			if r.User == e.w.Oscar.SlackID && strings.Contains(r.Text, "not allowed") {
				return true
			}
		}
		return false
	})
	e.mustAck(e.st.Click(e.w.Sam, card, "approve"))
	e.summary(card)
	e.assertRevokedOnce()
}

func TestE2EAHungSlackCallEndsAtItsDeadline(t *testing.T) {
	t.Parallel()
	e := startE2Eless(t, nil)
	e.opt.StepTimeout = time.Second
	e.start()
	// users.info hangs once: the requester hears nothing can be checked, and the next
	// command works.
	e.w.Slack.SetLatency("users.info", 10*time.Minute)
	e.mustAck(e.st.Command(e.w.Rita, "alice@example.com"))
	e.private(e.w.Rita, "I could not look you up in Slack just now; nothing was changed")
	e.w.Slack.SetLatency("users.info", 0)
	e.w.Slack.Release("users.info")
	e.mustAck(e.st.Command(e.w.Rita, "alice@example.com"))
	e.card(1)
}
