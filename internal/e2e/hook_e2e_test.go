package e2e

import (
	"github.com/resetbot/resetbot/internal/demo"
	"github.com/resetbot/resetbot/internal/hook/hooktest"

	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/resetbot/resetbot/internal/fake"
	slackfake "github.com/resetbot/resetbot/internal/fake/slack"
	"github.com/resetbot/resetbot/internal/fake/world"
	"github.com/resetbot/resetbot/internal/store"
)

// These tests run `resetbot run`'s HTTP side on a real listener (127.0.0.1:0) in front of the
// real bot and the world of fakes, and post Okta event hook deliveries shaped as in Okta's
// documentation.

const (
	alertChannel = "C0ALERTS"
	hookSecret   = "e2e-okta-hook-secret-4f9c2a7d1b"
	hookAdmin    = "admin@example.com"
	hookAdminID  = "00u1qw6mqitPHM8AJ0g7"
)

// hookEvent is one System Log event as Okta delivers it through an event hook.
type hookEvent struct {
	uuid, eventType, message string
	actorID, actorLogin      string
	target                   world.Person
}

func (ev hookEvent) JSON() string {
	return hooktest.Event(ev.uuid, ev.eventType, ev.message,
		hooktest.Person{ID: ev.actorID, Login: ev.actorLogin, Name: "Example Admin"},
		hooktest.Person{ID: ev.target.OktaID, Login: ev.target.Email, Name: ev.target.Name})
}

// hookDelivery wraps events in the envelope of an event hook POST.
func hookDelivery(events ...hookEvent) string {
	var parts []string
	for _, ev := range events {
		parts = append(parts, ev.JSON())
	}
	return hooktest.Delivery(parts...)
}

// The three events, about Alice, as Okta sends them.
func suspendEvent(w *world.World, uuid string) hookEvent {
	return hookEvent{uuid, "user.lifecycle.suspend", "Suspend Okta user", hookAdminID, hookAdmin, w.Alice}
}

func suspiciousEvent(w *world.World, uuid string) hookEvent {
	return hookEvent{uuid, "user.account.report_suspicious_activity_by_enduser", "User report suspicious activity", w.Alice.OktaID, w.Alice.Email, w.Alice}
}

func passwordResetEvent(w *world.World, uuid string) hookEvent {
	return hookEvent{uuid, "user.account.reset_password", "Reset password for Okta user", hookAdminID, hookAdmin, w.Alice}
}

// startHookE2E starts a world with an alert channel and a bot whose HTTP side listens on a
// free local port with the Okta hook configured; env is applied on top.
func startHookE2E(t *testing.T, env map[string]string) *e2e {
	t.Helper()
	all := map[string]string{
		"RESETBOT_HTTP_ADDR":        "127.0.0.1:0",
		"RESETBOT_OKTA_HOOK_SECRET": hookSecret,
		"RESETBOT_ALERT_CHANNEL":    alertChannel,
	}
	maps.Copy(all, env)
	e := startE2E(t, all)
	// Nothing is posted before the first event, so the channel can come after the start.
	e.w.Slack.AddChannel(slackfake.Channel{ID: alertChannel, Name: "security-alerts", Member: true})
	if e.st.Front == nil {
		t.Fatal("RESETBOT_HTTP_ADDR is set but nothing listens")
	}
	return e
}

// hookPost posts body to /hooks/okta with the secret and returns the status.
func (e *e2e) hookPost(body, secret string) int {
	e.t.Helper()
	req, err := http.NewRequestWithContext(e.ctx, http.MethodPost, e.st.Front.URL()+"/hooks/okta", strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if secret != "" {
		req.Header.Set("Authorization", secret)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, res.Body)
	return res.StatusCode
}

// get fetches a path of the front and returns the status and body.
func (e *e2e) get(path string, header ...string) (int, string) {
	e.t.Helper()
	req, err := http.NewRequestWithContext(e.ctx, http.MethodGet, e.st.Front.URL()+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// scrape reads /metrics as Prometheus would, series → value.
func (e *e2e) scrape() map[string]float64 {
	e.t.Helper()
	status, body := e.get("/metrics")
	if status != http.StatusOK {
		e.t.Fatalf("/metrics answered %d", status)
	}
	return parseMetrics(body)
}

// parseMetrics reads Prometheus's text format, series → value.
func parseMetrics(body string) map[string]float64 {
	series := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			series[line[:i]] = v
		}
	}
	return series
}

// waitMetric polls /metrics until series reaches at least want.
func (e *e2e) waitMetric(series string, want float64) {
	e.t.Helper()
	e.until(fmt.Sprintf("%s reached %v", series, want), func() bool { return e.scrape()[series] >= want })
}

// waitReady polls /readyz until it answers status.
func (e *e2e) waitReady(status int) string {
	e.t.Helper()
	var body string
	e.until(fmt.Sprintf("/readyz answered %d", status), func() bool {
		var got int
		got, body = e.get("/readyz")
		return got == status
	})
	return body
}

func hookEvents(eventType, result string) string {
	return fmt.Sprintf(`resetbot_okta_hook_events_total{event_type=%q,result=%q}`, eventType, result)
}

// alertCards lists the cards in the alert channel.
func (e *e2e) alertCards() []slackfake.Message {
	var cards []slackfake.Message
	for _, m := range e.w.Slack.Messages() {
		if m.Channel == alertChannel && m.ThreadTS == "" && demo.RequestID(m) != "" {
			cards = append(cards, m)
		}
	}
	return cards
}

// alertCard waits for the first card in the alert channel.
func (e *e2e) alertCard() slackfake.Message {
	e.t.Helper()
	err := e.w.Slack.WaitFor(e.ctx, func(sn slackfake.Snapshot) bool { return len(e.alertCards()) > 0 })
	if err != nil {
		e.t.Fatalf("no card in the alert channel: %v", err)
	}
	return e.alertCards()[0]
}

// cardStored waits until the bot has recorded where card is. The bot posts a card and then
// stores its location; a click landing in between is handled without a card to update (a race
// in the bot, reported separately), so these tests click only once the location is stored.
func (e *e2e) cardStored(card slackfake.Message) {
	e.t.Helper()
	for {
		req, err := e.st.Service.Store.Get(e.ctx, demo.RequestID(card))
		if err == nil && req.MessageTS == card.TS {
			return
		}
		select {
		case <-e.ctx.Done():
			e.t.Fatalf("the card's location was never stored: %v", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func (e *e2e) assertRevokedOnce() {
	e.t.Helper()
	for name, n := range e.revokes() {
		if n != 1 {
			e.t.Errorf("%s received %d revoke calls; want exactly 1", name, n)
		}
	}
}

func TestE2EOktaEventsByPolicy(t *testing.T) {
	t.Parallel()
	events := []struct {
		variable string
		event    func(w *world.World, uuid string) hookEvent
		actor    string
		// status is what Okta shows of Alice once the event happened; under auto, an event
		// Okta's record cannot bear out (a report of suspicious activity) waits on a card.
		status string
		auto   string
	}{
		{"RESETBOT_EVENT_SUSPEND", suspendEvent, hookAdmin, "SUSPENDED", "auto"},
		{"RESETBOT_EVENT_SUSPICIOUS_ACTIVITY", suspiciousEvent, "alice@example.com", "ACTIVE", "approve"},
		{"RESETBOT_EVENT_ADMIN_PASSWORD_RESET", passwordResetEvent, hookAdmin, "RECOVERY", "auto"},
	}
	for _, ev := range events {
		for _, policy := range []string{"auto", "approve", "off"} {
			t.Run(ev.variable+"="+policy, func(t *testing.T) {
				t.Parallel()
				e := startHookE2E(t, map[string]string{ev.variable: policy})
				e.w.Okta.SetStatus(e.w.Alice.OktaID, ev.status)
				sent := ev.event(e.w, "1f0e3dad-"+strings.ToLower(ev.variable[len("RESETBOT_EVENT_"):])+"-"+policy)
				if status := e.hookPost(hookDelivery(sent), hookSecret); status != http.StatusOK {
					t.Fatalf("delivery answered %d; want 200", status)
				}
				if policy == "auto" {
					policy = ev.auto
				}
				e.waitMetric(hookEvents(sent.eventType, policy), 1)
				requester := "okta event " + sent.eventType + " by " + ev.actor

				switch policy {
				case "off":
					if n := len(e.w.Slack.Messages()); n != 0 {
						t.Errorf("%d messages posted for an event whose policy is off", n)
					}
					e.assertNothingRevoked()
					return
				case "approve":
					card := e.alertCard()
					for _, want := range []string{"Alice Example", sent.message, requester, "Approve", "Cancel"} {
						if !strings.Contains(string(card.Blocks), want) {
							t.Errorf("card lacks %q: %s", want, card.Blocks)
						}
					}
					e.assertNothingRevoked()
					// The card is a working one: a responder approves it.
					e.cardStored(card)
					e.mustAck(e.st.Click(e.w.Sam, card, "approve"))
				}
				card := e.alertCard()
				if sum := e.summary(card); !strings.Contains(sum, "Result: done") {
					t.Errorf("thread summary = %q; want done", sum)
				}
				e.cardReads(card, ": done")
				e.assertRevokedOnce()
				if n := len(e.alertCards()); n != 1 {
					t.Errorf("%d cards in the alert channel; want 1", n)
				}
				audit := e.audit(demo.RequestID(card))
				if len(audit) == 0 || audit[0].Kind != store.KindRequested || audit[0].Actor.String() != requester || audit[0].Detail != "okta-event:"+sent.uuid {
					t.Errorf("the audit log should name the event as the requester: %+v", audit)
				}
			})
		}
	}
}

func TestE2EOktaRedeliveryResetsOnce(t *testing.T) {
	t.Parallel()
	e := startHookE2E(t, nil) // suspend defaults to auto
	e.w.Okta.SetStatus(e.w.Alice.OktaID, "SUSPENDED")
	body := hookDelivery(suspendEvent(e.w, "2c9d6b7e-5d1f-4d2b-9a51-6f0e0c1b2a3d"))
	for range 3 {
		if status := e.hookPost(body, hookSecret); status != http.StatusOK {
			t.Fatalf("delivery answered %d", status)
		}
	}
	e.waitMetric(hookEvents("user.lifecycle.suspend", "duplicate"), 2)
	card := e.alertCard()
	e.summary(card)
	e.assertRevokedOnce()
	if n := len(e.alertCards()); n != 1 {
		t.Errorf("%d cards for one event delivered three times; want 1", n)
	}
	if got := e.scrape()[hookEvents("user.lifecycle.suspend", "auto")]; got != 1 {
		t.Errorf("%v submissions counted; want 1", got)
	}
}

func TestE2EOktaHookMisuseChangesNothing(t *testing.T) {
	t.Parallel()
	e := startHookE2E(t, map[string]string{"RESETBOT_EVENT_ADMIN_PASSWORD_RESET": "auto"})
	w := e.w

	// Okta's one-time verification carries the secret too; without it, nothing is echoed.
	if status, body := e.get("/hooks/okta", "X-Okta-Verification-Challenge", "echo-me"); status != http.StatusUnauthorized || strings.Contains(body, "echo-me") {
		t.Errorf("verification without the secret answered %d %q; want 401", status, body)
	}
	status, body := e.get("/hooks/okta", "X-Okta-Verification-Challenge", "9TuDemoNo0lJ9tS7AGSeFo2B8oGaRDO4eQQpnd6F", "Authorization", hookSecret)
	var verification map[string]string
	if status != http.StatusOK || json.Unmarshal([]byte(body), &verification) != nil || verification["verification"] != "9TuDemoNo0lJ9tS7AGSeFo2B8oGaRDO4eQQpnd6F" {
		t.Errorf("verification answered %d %q", status, body)
	}

	good := hookDelivery(suspendEvent(w, "9a1b2c3d-0000-4000-8000-000000000001"))
	tests := []struct {
		name   string
		body   string
		secret string
		want   int
	}{
		{name: "no secret", body: good, want: http.StatusUnauthorized},
		{name: "a wrong secret", body: good, secret: "guess", want: http.StatusUnauthorized},
		{name: "malformed JSON", body: `{"eventType":"com.okta.event_hook","data":{"events":[{"uuid":`, secret: hookSecret, want: http.StatusBadRequest},
		{name: "a huge body", body: hookDelivery(hookEvent{"9a1b2c3d-0000-4000-8000-000000000002", "user.lifecycle.suspend",
			strings.Repeat("A", 400<<10), hookAdminID, hookAdmin, w.Alice}), secret: hookSecret, want: http.StatusRequestEntityTooLarge},
	}
	for _, tt := range tests {
		if got := e.hookPost(tt.body, tt.secret); got != tt.want {
			t.Errorf("%s: answered %d; want %d", tt.name, got, tt.want)
		}
	}
	// Accepted deliveries that start nothing: an event type resetbot does not act on, and a
	// password reset the user did themself.
	unknown := hookEvent{"9a1b2c3d-0000-4000-8000-000000000003", "user.session.start", "User login to Okta", w.Alice.OktaID, w.Alice.Email, w.Alice}
	self := hookEvent{"9a1b2c3d-0000-4000-8000-000000000004", "user.account.reset_password", "Reset password for Okta user", w.Alice.OktaID, w.Alice.Email, w.Alice}
	if got := e.hookPost(hookDelivery(unknown, self), hookSecret); got != http.StatusOK {
		t.Errorf("a delivery of events resetbot ignores answered %d; want 200 as Okta expects", got)
	}
	e.waitMetric(hookEvents("other", "ignored"), 1)
	e.waitMetric(hookEvents("user.account.reset_password", "self_service"), 1)

	got := e.scrape()
	for result, n := range map[string]float64{"unauthorized": 3, "malformed": 1, "too_large": 1, "verified": 1, "accepted": 1} {
		if series := fmt.Sprintf(`resetbot_okta_hook_requests_total{result=%q}`, result); got[series] != n {
			t.Errorf("%s = %v; want %v", series, got[series], n)
		}
	}
	if n := len(w.Slack.Messages()); n != 0 {
		t.Errorf("%d messages posted; misuse must post nothing", n)
	}
	e.assertNothingRevoked()

	// Slack is still served.
	e.mustAck(e.st.Command(w.Rita, "alice@example.com"))
	e.card(1)
}

func TestE2EMetricsMoveAfterAReset(t *testing.T) {
	t.Parallel()
	e := startHookE2E(t, nil)
	before := e.scrape()
	if got := before[`resetbot_requests_finished_total{state="done"}`]; got != 0 {
		t.Fatalf("done requests before any reset = %v", got)
	}
	// Google asks once to slow down: one retry, then revoked.
	e.w.Google.Fail("revoke", fake.Fault{Status: http.StatusTooManyRequests, Header: http.Header{"Retry-After": {"0"}}})

	e.mustAck(e.st.Command(e.w.Rita, "alice@example.com phished"))
	card := e.card(1)
	e.cardStored(card)
	e.mustAck(e.st.Click(e.w.Sam, card, "approve"))
	e.summary(card)

	e.waitMetric(`resetbot_requests_finished_total{state="done"}`, 1)
	after := e.scrape()
	want := map[string]float64{
		`resetbot_provider_outcomes_total{provider="okta",status="revoked"}`:       1,
		`resetbot_provider_outcomes_total{provider="google",status="revoked"}`:     1,
		`resetbot_provider_outcomes_total{provider="zoom",status="revoked"}`:       1,
		`resetbot_provider_outcomes_total{provider="microsoft",status="revoked"}`:  1,
		`resetbot_provider_outcomes_total{provider="slack",status="revoked"}`:      1,
		`resetbot_provider_duration_seconds_count{provider="google"}`:              1,
		`resetbot_provider_retries_total{provider="google",reason="rate_limited"}`: 1,
		`resetbot_slack_socket_connections_total`:                                  1,
		`resetbot_slack_ack_duration_seconds_count{kind="slash_commands"}`:         1,
		`resetbot_slack_ack_duration_seconds_count{kind="interactive"}`:            1,
	}
	for series, v := range want {
		if after[series] != v {
			t.Errorf("%s = %v; want %v", series, after[series], v)
		}
	}
}

func TestE2EReadiness(t *testing.T) {
	t.Parallel()
	t.Run("slack disconnected", func(t *testing.T) {
		t.Parallel()
		e := startHookE2E(t, nil)
		e.waitReady(http.StatusOK)
		// Slack drops the connection and refuses a new one for a while.
		e.w.Slack.RateLimit("apps.connections.open", 2, 2*time.Second)
		e.w.Slack.Drop()
		if body := e.waitReady(http.StatusServiceUnavailable); !strings.Contains(body, "slack socket mode not connected") {
			t.Errorf("/readyz says %q; want the reason", body)
		}
		if status, _ := e.get("/healthz"); status != http.StatusOK {
			t.Errorf("/healthz answered %d while Slack was away; the process is alive", status)
		}
		e.waitReady(http.StatusOK)
		if got := e.scrape()[`resetbot_slack_socket_connections_total`]; got != 2 {
			t.Errorf("socket connections = %v; want 2 (the first and the reconnect)", got)
		}
	})
	t.Run("store unreachable", func(t *testing.T) {
		t.Parallel()
		e := startHookE2E(t, nil)
		if body := e.waitReady(http.StatusOK); body != "ready\n" {
			t.Errorf("/readyz body %q", body)
		}
		if err := e.st.Service.Store.Close(); err != nil {
			t.Fatal(err)
		}
		status, body := e.get("/readyz")
		if status != http.StatusServiceUnavailable || !strings.Contains(body, "store unreachable") {
			t.Errorf("/readyz with the store closed answered %d %q; want 503 naming the store", status, body)
		}
		if strings.Contains(body, e.w.Env()["RESETBOT_DATABASE_URL"]) {
			t.Errorf("/readyz reveals the database location: %q", body)
		}
	})
}
