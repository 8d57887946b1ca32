package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/resetbot/resetbot/internal/demo"
	"github.com/resetbot/resetbot/internal/fake"
	slackfake "github.com/resetbot/resetbot/internal/fake/slack"
	"github.com/resetbot/resetbot/internal/fake/world"
	"github.com/resetbot/resetbot/internal/store"
)

// clickRetry presses the Retry button of the thread's last summary as p.
func (e *e2e) clickRetry(p world.Person, card slackfake.Message) string {
	e.t.Helper()
	replies, err := e.st.WaitThread(e.ctx, card, 1)
	if err != nil {
		e.t.Fatal(err)
	}
	last := replies[len(replies)-1]
	if !strings.Contains(string(last.Blocks), `"retry"`) {
		e.t.Fatalf("the summary has no Retry button: %s", last.Blocks)
	}
	return e.w.Slack.SendBlockAction(slackfake.BlockAction{UserID: p.SlackID, ChannelID: last.Channel, MessageTS: last.TS,
		ActionID: "retry", BlockID: "summary_actions", Value: demo.RequestID(card)})
}

func TestE2ERetryFailedRunsOnlyTheFailedSystemsOnce(t *testing.T) {
	t.Parallel()
	e := startE2E(t, nil)
	tess := e.w.AddPerson("Tess", "Third", "tess@example.com", "U0TESS", true)
	e.w.Microsoft.FailTimes("revoke", 3, fake.Fault{Status: http.StatusServiceUnavailable}) // every attempt of the first run
	e.st.Command(e.w.Rita, "tess@example.com her laptop was stolen")
	card := e.card(1)
	e.cardStored(card)
	e.mustAck(e.st.Click(e.w.Sam, card, "approve"))
	if sum := e.summary(card); !strings.Contains(sum, "Result: partial") || !strings.Contains(sum, "*microsoft*: failed") {
		t.Fatalf("first summary: %s", sum)
	}
	before := e.revokes()

	// Someone outside the groups, and the person being signed out, may not retry.
	e.mustAck(e.clickRetry(e.w.Oscar, card))
	e.private(e.w.Oscar, "not allowed to approve")
	e.mustAck(e.clickRetry(tess, card))
	e.private(tess, "You are one of the people this request signs out")
	if got := e.revokes(); got["microsoft"] != before["microsoft"] {
		t.Fatalf("a refused retry reached Microsoft: %v", got)
	}

	// Microsoft is back: a responder retries, and only Microsoft is asked again, once.
	e.mustAck(e.clickRetry(e.w.Sam, card))
	replies, err := e.st.WaitThread(e.ctx, card, 2)
	if err != nil {
		t.Fatal(err)
	}
	second := replies[len(replies)-1].Text
	if !strings.Contains(second, "Result: done") || !strings.Contains(second, "retry of the failed systems") || !strings.Contains(second, "*microsoft*: revoked") {
		t.Errorf("second summary: %s", second)
	}
	e.cardReads(card, ": done")
	after := e.revokes()
	for name, n := range after {
		want := before[name]
		if name == "microsoft" {
			want++
		}
		if n != want {
			t.Errorf("%s received %d revoke calls after the retry; want %d", name, n, want)
		}
	}
	events := e.audit(demo.RequestID(card))
	if n := countKind(events, store.KindRetried); n != 1 {
		t.Errorf("%d retried events; want 1: %s", n, kinds(events))
	}
	if n := countKind(events, store.KindFinished); n != 2 {
		t.Errorf("%d finished events; want one per run: %s", n, kinds(events))
	}
	if n := countKind(events, store.KindRefused); n != 2 {
		t.Errorf("%d refusals on record; want the outsider's and the target's", n)
	}
	// A done request has no Retry button, and a replayed click changes nothing.
	if strings.Contains(string(replies[len(replies)-1].Blocks), `"retry"`) {
		t.Error("a done summary offers Retry")
	}
	e.mustAck(e.w.Slack.SendBlockAction(slackfake.BlockAction{UserID: e.w.Sam.SlackID, ChannelID: replies[0].Channel, MessageTS: replies[0].TS,
		ActionID: "retry", BlockID: "summary_actions", Value: demo.RequestID(card)}))
	e.private(e.w.Sam, "only a request that ended partial or failed can be retried")
	if got := e.revokes(); got["microsoft"] != after["microsoft"] {
		t.Errorf("a replayed retry reached Microsoft")
	}
}
