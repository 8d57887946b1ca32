package e2e

import (
	"encoding/json"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/resetbot/resetbot/internal/demo"
	"github.com/resetbot/resetbot/internal/fake"
	"github.com/resetbot/resetbot/internal/fake/binary"
	slackfake "github.com/resetbot/resetbot/internal/fake/slack"
	"github.com/resetbot/resetbot/internal/store"
)

// These tests are the faults the Okta event inbox is for: an event accepted with a 200 is never
// lost, whatever Okta, Slack or the process does after.

// eventStored reads the inbox row of an event.
func (e *e2e) eventStored(uuid string) store.InboxEvent {
	e.t.Helper()
	st, err := store.Open(e.ctx, e.w.Env()["RESETBOT_DATABASE_URL"])
	if err != nil {
		e.t.Fatal(err)
	}
	defer st.Close()
	ev, err := st.Event(e.ctx, uuid)
	if err != nil {
		e.t.Fatal(err)
	}
	return ev
}

func TestE2EAnOktaFailureDuringTheLookupDelaysTheCardButLosesNothing(t *testing.T) {
	t.Parallel()
	e := startHookE2E(t, map[string]string{"RESETBOT_EVENT_SUSPICIOUS_ACTIVITY": "approve"})
	e.w.Okta.Fail("lookup", fake.Fault{Status: http.StatusServiceUnavailable})
	ev := suspiciousEvent(e.w, "0b7e9c2a-1111-4000-8000-000000000001")
	if status := e.hookPost(hookDelivery(ev), hookSecret); status != http.StatusOK {
		t.Fatalf("delivery answered %d", status)
	}
	card := e.alertCard()
	e.waitMetric(hookEvents(ev.eventType, "retried"), 1)
	e.waitMetric(hookEvents(ev.eventType, "approve"), 1)
	if !strings.Contains(string(card.Blocks), "Alice Example") {
		t.Errorf("card: %s", card.Blocks)
	}
	e.until("the event is recorded done", func() bool { return e.eventStored(ev.uuid).State == store.EventDone })
	if stored := e.eventStored(ev.uuid); stored.Attempts != 2 || stored.RequestID != demo.RequestID(card) {
		t.Errorf("inbox holds %+v; want done on the second attempt, with the card's request", stored)
	}
}

func TestE2EACardSlackRefusedIsPostedOnceSlackTakesItAgain(t *testing.T) {
	t.Parallel()
	e := startHookE2E(t, map[string]string{"RESETBOT_EVENT_SUSPICIOUS_ACTIVITY": "approve"})
	e.w.Slack.SetMember(alertChannel, false) // not_in_channel, until someone invites the bot
	ev := suspiciousEvent(e.w, "0b7e9c2a-2222-4000-8000-000000000002")
	if status := e.hookPost(hookDelivery(ev), hookSecret); status != http.StatusOK {
		t.Fatalf("delivery answered %d", status)
	}
	e.waitMetric(hookEvents(ev.eventType, "retried"), 2)
	if n := len(e.alertCards()); n != 0 {
		t.Fatalf("%d cards while Slack refuses them", n)
	}
	// Okta delivers the event again meanwhile: it is the same event, not a new one.
	if status := e.hookPost(hookDelivery(ev), hookSecret); status != http.StatusOK {
		t.Fatalf("redelivery answered %d", status)
	}
	e.w.Slack.SetMember(alertChannel, true)
	card := e.alertCard()
	e.waitMetric(hookEvents(ev.eventType, "approve"), 1)
	e.cardStored(card)
	e.mustAck(e.st.Click(e.w.Sam, card, "approve"))
	e.summary(card)
	e.assertRevokedOnce()
	if n := len(e.alertCards()); n != 1 {
		t.Errorf("%d cards; want one for one event", n)
	}
	if got := e.scrape()[hookEvents(ev.eventType, "duplicate")]; got != 1 {
		t.Errorf("the redelivery was counted %v times as a duplicate; want 1", got)
	}
}

func TestE2EInboxDepthIsOnMetrics(t *testing.T) {
	t.Parallel()
	e := startHookE2E(t, map[string]string{"RESETBOT_EVENT_SUSPICIOUS_ACTIVITY": "approve"})
	e.w.Slack.SetMember(alertChannel, false)
	if status := e.hookPost(hookDelivery(suspiciousEvent(e.w, "0b7e9c2a-3333-4000-8000-000000000003")), hookSecret); status != http.StatusOK {
		t.Fatalf("delivery answered %d", status)
	}
	e.waitMetric("resetbot_okta_inbox_depth", 1)
	e.until("the oldest event's age shows", func() bool { return e.scrape()["resetbot_okta_inbox_oldest_age_seconds"] > 0 })
	e.w.Slack.SetMember(alertChannel, true)
	e.alertCard()
	e.until("the inbox is empty", func() bool {
		m := e.scrape()
		return m["resetbot_okta_inbox_depth"] == 0 && m["resetbot_okta_inbox_oldest_age_seconds"] == 0
	})
}

// TestE2EAnEventAcceptedByAProcessKilledWithSigkillIsWorkedOnByAnother: the 200 is given only
// once the event is stored, so a process killed right after it loses nothing.
func TestE2EAnEventAcceptedByAProcessKilledWithSigkillIsWorkedOnByAnother(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	t.Parallel()
	bin := binary.Build(t)
	e := startE2Eless(t, map[string]string{
		"RESETBOT_HTTP_ADDR": "127.0.0.1:0", "RESETBOT_OKTA_HOOK_SECRET": hookSecret, "RESETBOT_ALERT_CHANNEL": alertChannel,
		"RESETBOT_EVENT_SUSPICIOUS_ACTIVITY": "approve",
	})
	e.w.Slack.AddChannel(slackfake.Channel{ID: alertChannel, Name: "security-alerts", Member: true})
	e.w.Okta.SetLatency("lookup", 10*time.Minute) // the first process's worker never gets the person
	env, home := binary.Env(t, e.w)
	proc := exec.CommandContext(e.ctx, bin, "run", "--event-timeout", "1s", "--replica", "doomed")
	proc.Env, proc.Dir = env, home
	var logs fake.Buffer
	proc.Stderr = &logs
	if err := proc.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = proc.Process.Kill(); _ = proc.Wait() })
	var addr string
	e.until("the doomed process listens", func() bool {
		for _, l := range strings.Split(logs.String(), "\n") {
			var line struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if json.Unmarshal([]byte(l), &line) == nil && line.Msg == "http listening" {
				addr = line.Addr
				return true
			}
		}
		return false
	})
	ev := suspiciousEvent(e.w, "0b7e9c2a-4444-4000-8000-000000000004")
	req, _ := http.NewRequestWithContext(e.ctx, http.MethodPost, "http://"+addr+"/hooks/okta", strings.NewReader(hookDelivery(ev)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", hookSecret)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("delivery answered %d\n%s", res.StatusCode, logs.String())
	}
	e.until("the doomed worker took the event", func() bool { return e.w.Okta.Count("lookup") > 0 })
	if err := proc.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = proc.Wait()
	e.w.Okta.SetLatency("lookup", 0)
	e.w.Okta.Release("lookup")

	e.opt.EventTimeout = time.Second
	e.st = e.startReplica("survivor")
	card := e.alertCard()
	if !strings.Contains(string(card.Blocks), "Alice Example") {
		t.Errorf("card: %s", card.Blocks)
	}
	e.until("the survivor records the event done", func() bool { return e.eventStored(ev.uuid).State == store.EventDone })
	if n := len(e.alertCards()); n != 1 {
		t.Errorf("%d cards; want one", n)
	}
}
