package slackfake_test

import (
	"context"
	"encoding/json"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/slack-go/slack"

	slackfake "github.com/resetbot/resetbot/internal/fake/slack"
)

func TestEventsTellTheConversationInOrder(t *testing.T) {
	t.Parallel()
	s := slackfake.Start(slackfake.WithChannel(channelID, "security-resets"))
	s.AddUser(slackfake.User{ID: userID, Name: "alice"})
	api := apiClient(s)
	ctx := testContext(t)

	s.SendSlashCommand(slackfake.SlashCommand{ChannelID: channelID, UserID: userID, Text: "bob"})
	_, ts, err := api.PostMessage(channelID, slack.MsgOptionText("Reset bob?", false))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := api.UpdateMessage(channelID, ts, slack.MsgOptionText("Approved", false)); err != nil {
		t.Fatal(err)
	}
	if _, err := api.PostEphemeral(channelID, userID, slack.MsgOptionText("only you", false)); err != nil {
		t.Fatal(err)
	}
	_, _, _ = api.PostMessage("C0NOWHERE", slack.MsgOptionText("lost", false))

	// A reader that comes late still gets everything, and the stream ends after Close.
	if err := s.WaitFor(ctx, func(sn slackfake.Snapshot) bool { return len(sn.Errors) == 1 }); err != nil {
		t.Fatal(err)
	}
	events := s.Events()
	s.Close()
	var got []string
	for e := range events {
		got = append(got, string(e.Kind)+":"+e.Text)
	}
	want := []string{"command:/reset-sessions bob", "post:Reset bob?", "update:Approved", "ephemeral:only you", "refused:chat.postMessage"}
	if !slices.Equal(got, want) {
		t.Errorf("events = %q\nwant %q", got, want)
	}
}

func TestLateAckIsMarkedAndItsPayloadIgnored(t *testing.T) {
	t.Parallel()
	s := start(t, slackfake.WithAckTimeout(20*time.Millisecond))
	ctx := testContext(t)
	_, url, err := apiClient(s).StartSocketModeContext(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ws, _, err := websocket.DefaultDialer.DialContext(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	var frame struct {
		Type       string `json:"type"`
		EnvelopeID string `json:"envelope_id"`
	}
	if err := ws.ReadJSON(&frame); err != nil || frame.Type != "hello" {
		t.Fatalf("first frame %+v, %v; want hello", frame, err)
	}

	id := s.SendSlashCommand(slackfake.SlashCommand{ChannelID: channelID, UserID: userID})
	if err := ws.ReadJSON(&frame); err != nil || frame.EnvelopeID != id || frame.Type != "slash_commands" {
		t.Fatalf("second frame %+v, %v; want the slash command", frame, err)
	}
	if err := s.WaitFor(ctx, func(sn slackfake.Snapshot) bool { return sn.Envelopes[0].TimedOut }); err != nil {
		t.Fatal(err)
	}
	ack, _ := json.Marshal(map[string]any{"envelope_id": id, "payload": map[string]string{"text": "too late"}})
	if err := ws.WriteMessage(websocket.TextMessage, ack); err != nil {
		t.Fatal(err)
	}
	a, err := s.WaitAck(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if !a.Late {
		t.Errorf("ack = %+v, want it marked late", a)
	}
	if rs := s.Responses(); len(rs) != 0 {
		t.Errorf("responses = %+v: Slack shows nothing from an ack that came after it gave up", rs)
	}
}

// BenchmarkAckLatency measures envelope-sent → ack-received through the real slack-go
// Socket Mode client acking on arrival: the floor under the bot's own ack latency.
func BenchmarkAckLatency(b *testing.B) {
	s := start(b)
	connect(b, s)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := s.WaitConnected(ctx, 1); err != nil {
		b.Fatal(err)
	}
	latencies := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		id := s.SendSlashCommand(slackfake.SlashCommand{ChannelID: channelID, UserID: userID, Text: "bob@example.com"})
		a, err := s.WaitAck(ctx, id)
		if err != nil {
			b.Fatal(err)
		}
		latencies = append(latencies, a.Latency)
	}
	b.StopTimer()
	sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
	pct := func(p float64) float64 {
		return float64(latencies[int(p*float64(len(latencies)-1))]) / float64(time.Microsecond)
	}
	b.ReportMetric(pct(0.50), "p50-µs")
	b.ReportMetric(pct(0.99), "p99-µs")
}
