package e2e

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/resetbot/resetbot/internal/app"
	"github.com/resetbot/resetbot/internal/demo"
	"github.com/resetbot/resetbot/internal/fake"
	slackfake "github.com/resetbot/resetbot/internal/fake/slack"
	"github.com/resetbot/resetbot/internal/fake/world"
	"github.com/resetbot/resetbot/internal/reset"
	"github.com/resetbot/resetbot/internal/store"
)

// The end-to-end tests run the real bot (slack-go Socket Mode, the providers' SDKs, the SQLite
// store) against the world of fakes, and assert on what people would see in Slack, what
// reached each system and what the audit log says.

type e2e struct {
	t      *testing.T
	ctx    context.Context
	w      *world.World
	st     *demo.Stage
	clock  *testClock
	opt    app.BotOptions
	logger *slog.Logger
}

type testClock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.off += d
	c.mu.Unlock()
}

// startE2E starts a world and a bot on it; env changes apply before the bot starts.
func startE2E(t *testing.T, env map[string]string) *e2e {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	w, err := world.Start(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	for k, v := range env {
		w.Set(k, v)
	}
	e := &e2e{t: t, ctx: ctx, w: w, clock: &testClock{}, logger: slog.New(slog.DiscardHandler)}
	fast := reset.RetryPolicy{MaxAttempts: 3, BaseDelay: 10 * time.Millisecond, MaxDelay: 50 * time.Millisecond}
	e.opt = app.BotOptions{Sweep: 50 * time.Millisecond, Lease: 5 * time.Second, Retry: &fast, Now: e.clock.Now,
		EventPoll: 50 * time.Millisecond, EventBackoff: 100 * time.Millisecond}
	if testing.Verbose() {
		e.logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	e.start()
	return e
}

func (e *e2e) start() {
	e.t.Helper()
	st, err := demo.StartStage(e.ctx, e.w, e.logger, e.opt)
	if err != nil {
		e.t.Fatal(err)
	}
	e.st = st
	e.t.Cleanup(func() { _ = st.Stop() })
	if err := e.w.Slack.WaitConnected(e.ctx, e.w.Slack.Connections()+1); err != nil {
		e.t.Fatal(err)
	}
}

// until polls cond until it holds, failing the test with what when the test's time runs out.
func (e *e2e) until(what string, cond func() bool) {
	e.t.Helper()
	for !cond() {
		select {
		case <-e.ctx.Done():
			e.t.Fatalf("never: %s (revokes %v)", what, e.revokes())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// revokes counts the revoke calls that reached every system.
func (e *e2e) revokes() map[string]int {
	return map[string]int{
		"okta": e.w.Okta.Count("revoke"), "google": e.w.Google.Count("revoke"),
		"zoom": e.w.Zoom.Count("revoke"), "microsoft": e.w.Microsoft.Count("revoke"),
		"slack": e.w.Slack.Count("admin.users.session.reset"),
	}
}

func (e *e2e) assertNothingRevoked() {
	e.t.Helper()
	for name, n := range e.revokes() {
		if n != 0 {
			e.t.Errorf("%s received %d revoke calls; want none", name, n)
		}
	}
}

// channelPosts counts the bot's messages in the channel (cards and thread replies).
func (e *e2e) channelPosts() int {
	n := 0
	for _, m := range e.w.Slack.Messages() {
		if m.Channel == world.Channel {
			n++
		}
	}
	return n
}

// mustAck waits for an envelope's ack and checks Slack would have taken it.
func (e *e2e) mustAck(id string) slackfake.Ack {
	e.t.Helper()
	ack, err := e.w.Slack.WaitAck(e.ctx, id)
	if err != nil {
		e.t.Fatal(err)
	}
	if ack.Late {
		e.t.Errorf("envelope %s acked after Slack's deadline (%s)", id, ack.Latency)
	}
	return ack
}

// private waits for a private answer to p containing want.
func (e *e2e) private(p world.Person, want string) string {
	e.t.Helper()
	got, err := e.st.WaitPrivate(e.ctx, p, func(t string) bool { return strings.Contains(t, want) })
	if err != nil {
		e.t.Fatalf("no private answer to %s containing %q: %v\nresponses: %+v", p.Name, want, err, e.w.Slack.Responses())
	}
	return got
}

func (e *e2e) card(n int) slackfake.Message {
	e.t.Helper()
	c, err := e.st.WaitCard(e.ctx, n)
	if err != nil {
		e.t.Fatalf("no card: %v", err)
	}
	return c
}

// cardReads waits until the card's fallback text mentions want.
func (e *e2e) cardReads(card slackfake.Message, want string) slackfake.Message {
	e.t.Helper()
	var m slackfake.Message
	err := e.w.Slack.WaitFor(e.ctx, func(sn slackfake.Snapshot) bool {
		m, _ = sn.Message(card.Channel, card.TS)
		return strings.Contains(m.Text, want)
	})
	if err != nil {
		e.t.Fatalf("card never read %q; it reads %q", want, m.Text)
	}
	return m
}

func (e *e2e) summary(card slackfake.Message) string {
	e.t.Helper()
	replies, err := e.st.WaitThread(e.ctx, card, 1)
	if err != nil {
		sn := e.w.Slack.Snapshot()
		e.t.Fatalf("no thread summary: %v\nmessages: %+v\nresponses: %+v\nerrors: %+v\nacks: %+v", err, sn.Messages, sn.Responses, sn.Errors, sn.Acks)
	}
	return replies[0].Text
}

func (e *e2e) audit(requestID string) []store.Event {
	e.t.Helper()
	db, err := store.Open(e.ctx, e.w.Env()["RESETBOT_DATABASE_URL"])
	if err != nil {
		e.t.Fatal(err)
	}
	defer db.Close()
	events, err := db.Audit(e.ctx, store.Filter{RequestID: requestID})
	if err != nil {
		e.t.Fatal(err)
	}
	return events
}

// countKind counts the events of one kind.
func countKind(events []store.Event, kind string) int {
	n := 0
	for _, ev := range events {
		if ev.Kind == kind {
			n++
		}
	}
	return n
}

func kinds(events []store.Event) string {
	var k []string
	for _, ev := range events {
		k = append(k, ev.Kind)
	}
	return strings.Join(k, ",")
}

func TestE2EHappyPath(t *testing.T) {
	t.Parallel()
	e := startE2E(t, nil)
	e.mustAck(e.st.Command(e.w.Rita, "alice@example.com clicked a phishing link"))
	card := e.card(1)
	for _, want := range []string{"Alice Example", "alice@example.com", "clicked a phishing link", "ACTIVE", "okta*: account found", "microsoft*: account found", "Approve", "Cancel"} {
		if !strings.Contains(string(card.Blocks), want) {
			t.Errorf("card lacks %q: %s", want, card.Blocks)
		}
	}
	e.assertNothingRevoked() // nothing happens before approval
	e.mustAck(e.st.Click(e.w.Sam, card, "approve"))
	sum := e.summary(card)
	final := e.cardReads(card, ": done")
	for name, n := range e.revokes() {
		if n != 1 {
			t.Errorf("%s received %d revoke calls; want exactly 1", name, n)
		}
	}
	lines := strings.Split(sum, "\n")
	if len(lines) != 6 || !strings.Contains(lines[0], "Result: done") {
		t.Fatalf("summary = %q; want a result line and one line per system", sum)
	}
	for i, name := range []string{"okta", "google", "zoom", "microsoft", "slack"} {
		if !strings.Contains(lines[i+1], "*"+name+"*: revoked") {
			t.Errorf("summary line %d = %q; want %s revoked", i+1, lines[i+1], name)
		}
	}
	if !strings.Contains(string(final.Blocks), `\u003c@`+e.w.Sam.SlackID) || strings.Contains(string(final.Blocks), `"approve"`) {
		t.Errorf("final card should name the approver and have no buttons: %s", final.Blocks)
	}
	if got := kinds(e.audit(demo.RequestID(card))); got != "requested,approved,outcome,outcome,outcome,outcome,outcome,finished" {
		t.Errorf("audit kinds = %s", got)
	}
	if got := e.w.Okta.Revocations(); len(got) != 1 || !got[0].OAuthTokens {
		t.Errorf("okta revocations = %+v; want one with oauthTokens=true", got)
	}
}

func TestE2ERefusalsChangeNothing(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  map[string]string
		// play drives the refused step and returns who should get the private answer.
		play func(e *e2e) world.Person
		want string
	}{
		{name: "requester outside the groups", want: "not allowed to request",
			play: func(e *e2e) world.Person { e.st.Command(e.w.Oscar, "alice@example.com"); return e.w.Oscar }},
		{name: "slack user without an okta account", want: "could not find an Okta account",
			play: func(e *e2e) world.Person {
				ghost := world.Person{Name: "Ghost", SlackID: "U0GHOST"}
				e.w.Slack.AddUser(slackfake.User{ID: ghost.SlackID, Name: "ghost", Email: "ghost@example.com"})
				e.st.Command(ghost, "alice@example.com")
				return ghost
			}},
		{name: "guest account", want: "Guest accounts cannot",
			play: func(e *e2e) world.Person {
				guest := world.Person{Name: "Guest", SlackID: "U0GUEST"}
				e.w.Slack.AddUser(slackfake.User{ID: guest.SlackID, Name: "guest", Email: "rita@example.com", IsRestricted: true})
				e.st.Command(guest, "alice@example.com")
				return guest
			}},
		{name: "unknown target", want: "Nobody in Okta matches",
			play: func(e *e2e) world.Person { e.st.Command(e.w.Rita, "mallory@example.com"); return e.w.Rita }},
		{name: "a command from another workspace", want: "does not serve this workspace",
			play: func(e *e2e) world.Person {
				e.w.Slack.SendSlashCommand(slackfake.SlashCommand{TeamID: "T0ELSEWHERE", ChannelID: world.Channel, UserID: e.w.Rita.SlackID, Text: "alice@example.com"})
				return e.w.Rita
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := startE2E(t, tt.env)
			who := tt.play(e)
			e.private(who, tt.want)
			if n := e.channelPosts(); n != 0 {
				t.Errorf("%d messages posted in the channel; a refusal must be private", n)
			}
			e.assertNothingRevoked()
		})
	}
}

func TestE2ERefusedClicksChangeNothing(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  map[string]string
		play func(e *e2e, card slackfake.Message) world.Person
		want string
	}{
		{name: "approver outside the groups", want: "not allowed to approve",
			play: func(e *e2e, card slackfake.Message) world.Person {
				e.st.Click(e.w.Oscar, card, "approve")
				return e.w.Oscar
			}},
		{name: "self approval, refused by default", want: "another responder has to approve",
			play: func(e *e2e, card slackfake.Message) world.Person {
				e.st.Click(e.w.Rita, card, "approve")
				return e.w.Rita
			}},
		{name: "expired card", want: "expired",
			play: func(e *e2e, card slackfake.Message) world.Person {
				e.cardStored(card) // the sweep updates a card whose location is stored
				e.clock.Advance(16 * time.Minute)
				e.cardReads(card, "expired")
				e.st.Click(e.w.Sam, card, "approve")
				return e.w.Sam
			}},
		{name: "cancel then a replayed approve", want: "already cancelled",
			play: func(e *e2e, card slackfake.Message) world.Person {
				e.mustAck(e.st.Click(e.w.Rita, card, "cancel"))
				e.cardReads(card, "cancelled")
				e.st.Click(e.w.Sam, card, "approve")
				return e.w.Sam
			}},
		{name: "forged request id", want: "I don't know that request",
			play: func(e *e2e, card slackfake.Message) world.Person {
				e.w.Slack.SendBlockAction(slackfake.BlockAction{UserID: e.w.Sam.SlackID, ChannelID: card.Channel, MessageTS: card.TS,
					ActionID: "approve", BlockID: "request_actions", Value: "' OR 1=1 --"})
				return e.w.Sam
			}},
		{name: "click from another workspace", want: "does not serve this workspace",
			play: func(e *e2e, card slackfake.Message) world.Person {
				e.w.Slack.SendBlockAction(slackfake.BlockAction{TeamID: "T0ELSEWHERE", UserID: e.w.Sam.SlackID, ChannelID: card.Channel, MessageTS: card.TS,
					ActionID: "approve", BlockID: "request_actions", Value: demo.RequestID(card)})
				return e.w.Sam
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := startE2E(t, nil)
			e.st.Command(e.w.Rita, "alice@example.com")
			card := e.card(1)
			if tt.env != nil { // a policy change takes effect on the next start
				for k, v := range tt.env {
					e.w.Set(k, v)
				}
				if err := e.st.Stop(); err != nil {
					t.Fatal(err)
				}
				e.start()
			}
			who := tt.play(e, card)
			e.private(who, tt.want)
			e.assertNothingRevoked()
			if n := len(e.w.Slack.Snapshot().Thread(card.Channel, card.TS)); n != 0 {
				t.Errorf("%d thread replies; a refused click must not produce a summary", n)
			}
			// Refusals that cannot name a request (a forged id, a foreign workspace) are
			// logged without one.
			if got := kinds(e.audit("")); !strings.Contains(got, "refused") || strings.Contains(got, "approved") {
				t.Errorf("audit kinds = %s; want a refusal and no approval", got)
			}
		})
	}
}

func TestE2EConcurrentApprovalsRunOnce(t *testing.T) {
	t.Parallel()
	e := startE2E(t, nil)
	tess := e.w.AddPerson("Tess", "Third", "tess@example.com", "U0TESS", true)
	e.st.Command(e.w.Rita, "alice@example.com")
	card := e.card(1)
	a := e.st.Click(e.w.Sam, card, "approve")
	b := e.st.Click(tess, card, "approve")
	e.mustAck(a)
	e.mustAck(b)
	e.summary(card)
	e.cardReads(card, ": done")
	// One of the two clickers hears that it is already running.
	err := e.w.Slack.WaitFor(e.ctx, func(sn slackfake.Snapshot) bool {
		for _, r := range sn.Responses {
			if strings.Contains(r.Text, "already") {
				return true
			}
		}
		return false
	})
	if err != nil {
		t.Fatalf("the losing click got no answer: %v", err)
	}
	for name, n := range e.revokes() {
		if n != 1 {
			t.Errorf("%s received %d revoke calls; two clicks must run the reset once", name, n)
		}
	}
	if n := len(e.w.Slack.Snapshot().Thread(card.Channel, card.TS)); n != 1 {
		t.Errorf("%d thread summaries; want 1", n)
	}
}

func TestE2EFailedAndMissingAccountsAreShownAsSuch(t *testing.T) {
	t.Parallel()
	e := startE2E(t, nil)
	e.w.Microsoft.FailTimes("revoke", 10, fake.Fault{Status: http.StatusForbidden})
	e.st.Command(e.w.Rita, "bob@example.com") // Bob has no Zoom account
	card := e.card(1)
	e.st.Click(e.w.Sam, card, "approve")
	sum := e.summary(card)
	e.cardReads(card, ": partial")
	for _, want := range []string{"Result: partial", "*okta*: revoked", "*google*: revoked", "*zoom*: no account", "*microsoft*: failed", "User.RevokeSessions.All", "retrying will not help"} {
		if !strings.Contains(sum, want) {
			t.Errorf("summary lacks %q:\n%s", want, sum)
		}
	}
	if n := e.w.Microsoft.Count("revoke"); n != 1 {
		t.Errorf("microsoft got %d revoke calls; a 403 must not be retried", n)
	}
}

func TestE2ERemovedResponderIsRefusedNextTime(t *testing.T) {
	t.Parallel()
	e := startE2E(t, nil)
	e.st.Command(e.w.Rita, "alice@example.com")
	e.card(1)
	e.w.Okta.RemoveFromGroup(e.w.Rita.OktaID, e.w.GroupID)
	e.st.Command(e.w.Rita, "bob@example.com")
	e.private(e.w.Rita, "not allowed to request")
	if n := e.channelPosts(); n != 1 {
		t.Errorf("%d cards posted; the second request must be refused", n)
	}
}

func TestE2EHostileTextIsAnsweredPrivately(t *testing.T) {
	t.Parallel()
	e := startE2E(t, nil)
	texts := []string{
		strings.Repeat("A", 10*1024),
		"<!channel> <script>alert(1)</script>",
		"'; DROP TABLE requests; --",
		"👩‍💻 \u202egnp.exe",
		"",
		"   ",
		"\xff\xfe",
		"<mailto:not-an-email|x>",
		"nobody%00",
		"alice@example.com " + strings.Repeat("reason ", 200),
	}
	for _, text := range texts {
		ack := e.mustAck(e.st.Command(e.w.Rita, text))
		var payload struct {
			ResponseType string `json:"response_type"`
			Text         string `json:"text"`
		}
		if err := json.Unmarshal(ack.Payload, &payload); err != nil || payload.Text == "" || payload.ResponseType != "ephemeral" {
			t.Errorf("ack of %.40q = %s; want a private answer", text, ack.Payload)
		}
		if strings.Contains(payload.Text, "<!channel>") || strings.Contains(payload.Text, "<script>") {
			t.Errorf("answer echoes markup unescaped: %q", payload.Text)
		}
	}
	e.private(e.w.Rita, "Nobody in Okta matches") // "nobody%00" is looked up, and not found
	// Envelopes the SDK cannot parse are acked too, and the bot keeps serving.
	e.mustAck(e.w.Slack.SendEvent("unknown_envelope_type", json.RawMessage(`{"x":1}`)))
	e.w.Slack.SendRaw([]byte(`{"type":"slash_commands","envelope_id":"broken","payload":"not an object"}`))
	e.mustAck("broken")
	if n := e.channelPosts(); n != 0 {
		t.Errorf("%d messages posted for hostile input", n)
	}
	e.assertNothingRevoked()
	e.st.Command(e.w.Rita, "alice@example.com still works")
	e.card(1)
}

func TestE2EReconnectAndRestart(t *testing.T) {
	t.Parallel()
	e := startE2E(t, nil)
	e.w.Slack.Disconnect()
	if err := e.w.Slack.WaitConnected(e.ctx, 2); err != nil {
		t.Fatalf("the bot did not reconnect: %v", err)
	}
	e.mustAck(e.st.Command(e.w.Rita, "alice@example.com"))
	card := e.card(1)

	// Restart with the card pending: the new process approves it from the store.
	if err := e.st.Stop(); err != nil {
		t.Fatal(err)
	}
	e.start()
	e.mustAck(e.st.Click(e.w.Sam, card, "approve"))
	e.summary(card)
	e.cardReads(card, ": done")
	for name, n := range e.revokes() {
		if n != 1 {
			t.Errorf("%s received %d revoke calls after the restart; want 1", name, n)
		}
	}
}

func TestE2ECancelRevokesNothing(t *testing.T) {
	t.Parallel()
	e := startE2E(t, nil)
	e.st.Command(e.w.Rita, "alice@example.com")
	card := e.card(1)
	e.mustAck(e.st.Click(e.w.Sam, card, "cancel"))
	final := e.cardReads(card, "cancelled")
	if !strings.Contains(string(final.Blocks), "Nothing was reset") || strings.Contains(string(final.Blocks), `"approve"`) {
		t.Errorf("cancelled card: %s", final.Blocks)
	}
	e.assertNothingRevoked()
	if got := kinds(e.audit(demo.RequestID(card))); got != "requested,cancelled" {
		t.Errorf("audit kinds = %s", got)
	}
}
