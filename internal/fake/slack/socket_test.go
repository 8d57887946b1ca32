package slackfake_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"

	slackfake "github.com/resetbot/resetbot/internal/fake/slack"
)

const (
	channelID = "C0RESETS"
	userID    = "U0ALICE"
)

// start starts a fake with one channel the bot is in and one user, closed at the end of the
// test.
func start(t testing.TB, opts ...slackfake.Option) *slackfake.Server {
	t.Helper()
	s := slackfake.Start(append([]slackfake.Option{slackfake.WithChannel(channelID, "security-resets")}, opts...)...)
	t.Cleanup(s.Close)
	s.AddUser(slackfake.User{ID: userID, Name: "alice", RealName: "Alice Example", Email: "alice@example.com"})
	return s
}

func apiClient(s *slackfake.Server, opts ...slack.Option) *slack.Client {
	return slack.New(s.BotToken(), append([]slack.Option{
		slack.OptionAPIURL(s.APIURL()), slack.OptionAppLevelToken(s.AppToken()),
	}, opts...)...)
}

// client is the real slack-go Socket Mode client, acking every envelope the moment it
// arrives, as the bot must. What it receives is forwarded on got.
type client struct {
	api *slack.Client
	sm  *socketmode.Client
	got chan socketmode.Event
}

func connect(t testing.TB, s *slackfake.Server, opts ...socketmode.Option) *client {
	t.Helper()
	api := apiClient(s)
	c := &client{api: api, sm: socketmode.New(api, opts...), got: make(chan socketmode.Event, 1024)}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() {
		defer close(ran)
		_ = c.sm.RunContext(ctx)
	}()
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case evt := <-c.sm.Events:
				if evt.Request != nil && evt.Request.EnvelopeID != "" {
					_ = c.sm.Ack(*evt.Request)
				}
				select {
				case c.got <- evt:
				default:
				}
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-ran
	})
	return c
}

// next returns the next event of type typ the client received.
func (c *client) next(t testing.TB, ctx context.Context, typ socketmode.EventType) socketmode.Event {
	t.Helper()
	for {
		select {
		case evt := <-c.got:
			if evt.Type == typ {
				return evt
			}
		case <-ctx.Done():
			t.Fatalf("no %s event reached the client: %v", typ, ctx.Err())
		}
	}
}

func testContext(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestSlashCommandReachesClientAndAckIsRecorded(t *testing.T) {
	t.Parallel()
	s := start(t)
	c := connect(t, s)
	ctx := testContext(t)

	hello := c.next(t, ctx, socketmode.EventTypeHello)
	if hello.Request.ConnectionInfo.AppID != s.AppID() || hello.Request.NumConnections != 1 {
		t.Errorf("hello = app %q, %d connections; want app %q, 1 connection",
			hello.Request.ConnectionInfo.AppID, hello.Request.NumConnections, s.AppID())
	}

	id := s.SendSlashCommand(slackfake.SlashCommand{ChannelID: channelID, UserID: userID, Text: "bob@example.com phished"})
	evt := c.next(t, ctx, socketmode.EventTypeSlashCommand)
	cmd, ok := evt.Data.(slack.SlashCommand)
	if !ok {
		t.Fatalf("slash command event carries %T", evt.Data)
	}
	want := slack.SlashCommand{
		TeamID: s.TeamID(), TeamDomain: "resetbot-test", ChannelID: channelID, ChannelName: "security-resets",
		UserID: userID, UserName: "alice", Command: "/reset-sessions", Text: "bob@example.com phished", APIAppID: s.AppID(),
	}
	got := cmd
	got.Token, got.ResponseURL, got.TriggerID = "", "", ""
	if got != want {
		t.Errorf("slash command = %+v\nwant %+v", got, want)
	}
	if !strings.HasPrefix(cmd.ResponseURL, s.URL()+"/commands/") || cmd.TriggerID == "" {
		t.Errorf("response_url %q, trigger_id %q: want the fake's response_url and a trigger id", cmd.ResponseURL, cmd.TriggerID)
	}
	if evt.Request.EnvelopeID != id || !evt.Request.AcceptsResponsePayload {
		t.Errorf("envelope = %q (accepts response %v), want %q accepting a response", evt.Request.EnvelopeID, evt.Request.AcceptsResponsePayload, id)
	}

	ack, err := s.WaitAck(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if !ack.Known || ack.Duplicate || ack.Conn != 1 || ack.Latency < 0 || ack.SentAt.IsZero() {
		t.Errorf("ack = %+v, want a first ack of a known envelope on connection 1 with its latency", ack)
	}
}

func TestEnvelopeAfterConnectionLossReachesTheNewConnection(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cut  func(*slackfake.Server)
	}{
		{"disconnect message", (*slackfake.Server).Disconnect},
		{"dropped connection", (*slackfake.Server).Drop},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := start(t)
			connect(t, s)
			ctx := testContext(t)
			if err := s.WaitConnected(ctx, 1); err != nil {
				t.Fatal(err)
			}

			tc.cut(s)
			// Sent while the client may still be reconnecting: it waits for the new connection.
			id := s.SendSlashCommand(slackfake.SlashCommand{ChannelID: channelID, UserID: userID, Text: "bob@example.com"})
			ack, err := s.WaitAck(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if ack.Conn != 2 {
				t.Errorf("ack came on connection %d, want 2 (the reconnect)", ack.Conn)
			}
			if n := s.Count("apps.connections.open"); n != 2 {
				t.Errorf("apps.connections.open called %d times, want 2", n)
			}
		})
	}
}

func TestBlockActionCarriesTheClickedCard(t *testing.T) {
	t.Parallel()
	s := start(t)
	c := connect(t, s)
	ctx := testContext(t)

	approve := slack.NewButtonBlockElement("approve", "req-1", slack.NewTextBlockObject("plain_text", "Approve", false, false))
	approve.Style = slack.StylePrimary
	_, ts, err := c.api.PostMessageContext(ctx, channelID, slack.MsgOptionText("Reset bob?", false), slack.MsgOptionBlocks(
		slack.NewSectionBlock(slack.NewTextBlockObject("mrkdwn", "Reset *bob*?", false, false), nil, nil),
		slack.NewActionBlock("decision", approve),
	))
	if err != nil {
		t.Fatal(err)
	}

	id := s.SendBlockAction(slackfake.BlockAction{ChannelID: channelID, UserID: userID, MessageTS: ts, ActionID: "approve", Value: "req-1"})
	evt := c.next(t, ctx, socketmode.EventTypeInteractive)
	cb, ok := evt.Data.(slack.InteractionCallback)
	if !ok {
		t.Fatalf("interactive event carries %T", evt.Data)
	}
	if cb.Type != slack.InteractionTypeBlockActions || len(cb.ActionCallback.BlockActions) != 1 {
		t.Fatalf("callback type %q with %d block actions, want one block_actions action", cb.Type, len(cb.ActionCallback.BlockActions))
	}
	a := cb.ActionCallback.BlockActions[0]
	if a.ActionID != "approve" || a.BlockID != "decision" || a.Value != "req-1" || a.Text.Text != "Approve" || a.Type != "button" {
		t.Errorf("action = %+v, want button approve in block decision with value req-1 and text Approve", a)
	}
	if cb.User.ID != userID || cb.Team.ID != s.TeamID() || cb.Channel.ID != channelID ||
		cb.Container.MessageTs != ts || cb.Message.Timestamp != ts || cb.Message.Text != "Reset bob?" {
		t.Errorf("callback user %q team %q channel %q container ts %q message ts %q text %q",
			cb.User.ID, cb.Team.ID, cb.Channel.ID, cb.Container.MessageTs, cb.Message.Timestamp, cb.Message.Text)
	}
	if _, err := s.WaitAck(ctx, id); err != nil {
		t.Fatal(err)
	}

	// The bot answers the click through its response_url, replacing the card.
	_, _, err = c.api.PostMessageContext(ctx, "", slack.MsgOptionReplaceOriginal(cb.ResponseURL), slack.MsgOptionText("Approved by alice", false))
	if err != nil {
		t.Fatalf("reply to response_url: %v", err)
	}
	m, _ := s.Snapshot().Message(channelID, ts)
	if len(m.History) != 2 || m.Text != "Approved by alice" || m.History[1].Via != "response_url" {
		t.Errorf("card history = %+v, want the post then the response_url replacement", m.History)
	}
	rs := s.Responses()
	if len(rs) != 1 || rs[0].Kind != "action" || !rs[0].ReplaceOriginal || rs[0].MessageTS != ts || rs[0].User != userID {
		t.Errorf("responses = %+v, want one replace_original reply to alice's click", rs)
	}
}

func TestClientSurvivesOddFrames(t *testing.T) {
	t.Parallel()
	s := start(t)
	c := connect(t, s)
	ctx := testContext(t)
	if err := s.WaitConnected(ctx, 1); err != nil {
		t.Fatal(err)
	}

	s.SendRaw([]byte(`{"type":`))
	s.SendRaw([]byte(`[1,2,3]`))
	unknown := s.SendEvent("surprise_type", json.RawMessage(`{"x":1}`))
	event := s.SendEvent("events_api", json.RawMessage(`{"type":"event_callback","team_id":"T0FAKETEAM","api_app_id":"A0RESETBOT",
		"event":{"type":"app_mention","user":"U0ALICE","text":"hi","ts":"1.000001","channel":"C0RESETS","event_ts":"1.000001"},
		"event_id":"Ev1","event_time":1}`))

	c.next(t, ctx, socketmode.EventTypeEventsAPI)
	if _, err := s.WaitAck(ctx, event); err != nil {
		t.Fatal(err)
	}
	if s.Connections() != 1 {
		t.Errorf("client reconnected %d times after odd frames, want it to stay on its connection", s.Connections()-1)
	}
	for _, a := range s.Acks() {
		if a.EnvelopeID == unknown {
			t.Errorf("slack-go acked the unknown envelope type by itself; Socket Mode acks nothing by itself")
		}
	}
}

func TestPingsAreAnsweredAndKeepTheConnection(t *testing.T) {
	t.Parallel()
	s := start(t, slackfake.WithPingInterval(20*time.Millisecond))
	connect(t, s, socketmode.OptionPingInterval(5*time.Second))
	ctx := testContext(t)
	if err := s.WaitFor(ctx, func(sn slackfake.Snapshot) bool { return sn.Pongs >= 3 }); err != nil {
		t.Fatal(err)
	}
	if n := s.Connections(); n != 1 {
		t.Errorf("%d connections, want the first one kept", n)
	}
}

func TestSocketEdge(t *testing.T) {
	t.Parallel()
	s := start(t)
	ctx := testContext(t)
	_, url, err := apiClient(s).StartSocketModeContext(ctx)
	if err != nil {
		t.Fatal(err)
	}

	// Any Origin is accepted, as Slack does.
	ws, _, err := websocket.DefaultDialer.DialContext(ctx, url, http.Header{"Origin": {"https://elsewhere.example"}})
	if err != nil {
		t.Fatalf("dial with a foreign Origin: %v", err)
	}
	defer ws.Close()
	var hello map[string]any
	if err := ws.ReadJSON(&hello); err != nil || hello["type"] != "hello" {
		t.Fatalf("first frame = %v (%v), want hello", hello, err)
	}

	// A ticket is good for one connection.
	if again, resp, err := websocket.DefaultDialer.DialContext(ctx, url, nil); err == nil {
		again.Close()
		t.Error("second dial with the same ticket was accepted")
	} else if resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("second dial: %v, want 401", err)
	}

	// Slack drops responses of 20 KB or more; the fake ignores them rather than count an ack.
	id := s.SendSlashCommand(slackfake.SlashCommand{ChannelID: channelID, UserID: userID})
	big, _ := json.Marshal(map[string]any{"envelope_id": id, "payload": map[string]string{"text": strings.Repeat("x", 21000)}})
	if err := ws.WriteMessage(websocket.TextMessage, big); err != nil {
		t.Fatal(err)
	}
	if err := s.WaitFor(ctx, func(sn slackfake.Snapshot) bool { return len(sn.Ignored) == 1 }); err != nil {
		t.Fatal(err)
	}
	if acks := s.Acks(); len(acks) != 0 {
		t.Errorf("acks = %+v, want none from an oversized response", acks)
	}
}

func TestAckPayloadIsShownAsCommandReply(t *testing.T) {
	t.Parallel()
	s := start(t)
	ctx := testContext(t)
	api := apiClient(s)
	sm := socketmode.New(api)
	runCtx, cancel := context.WithCancel(ctx)
	ran := make(chan struct{})
	go func() { defer close(ran); _ = sm.RunContext(runCtx) }()
	t.Cleanup(func() { cancel(); <-ran })
	go func() {
		for {
			select {
			case <-runCtx.Done():
				return
			case evt := <-sm.Events:
				if evt.Type == socketmode.EventTypeSlashCommand {
					_ = sm.Ack(*evt.Request, map[string]string{"text": "Looking up bob…"})
				}
			}
		}
	}()

	id := s.SendSlashCommand(slackfake.SlashCommand{ChannelID: channelID, UserID: userID, Text: "bob"})
	if err := s.WaitFor(ctx, func(sn slackfake.Snapshot) bool { return len(sn.Responses) == 1 }); err != nil {
		t.Fatal(err)
	}
	r := s.Responses()[0]
	if r.Via != "ack" || r.EnvelopeID != id || r.Text != "Looking up bob…" || r.ResponseType != "ephemeral" || r.User != userID {
		t.Errorf("response = %+v, want alice to see the ack's text privately", r)
	}
}
