package bot

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	slackfake "github.com/resetbot/resetbot/internal/fake/slack"
	"github.com/resetbot/resetbot/internal/reset"
)

// TestCardsFitSlackLimits posts every state of a worst-case card through slack-go to the fake
// Slack, which refuses what Slack would (text lengths, block counts, duplicate ids).
func TestCardsFitSlackLimits(t *testing.T) {
	t.Parallel()
	fs := slackfake.Start(slackfake.WithChannel("C1", "security"))
	defer fs.Close()
	api := slack.New(fs.BotToken(), slack.OptionAPIURL(fs.APIURL()))
	ctx := context.Background()

	long := strings.Repeat("<&>", 700)
	names := []string{"okta", "google", "zoom", "microsoft"}
	req := reset.Request{
		ID:        strings.Repeat("f", 32),
		Target:    reset.Target{OktaID: "00u1", Login: "a@example.com", Email: "a@example.com", DisplayName: long, Status: "SUSPENDED"},
		Reason:    strings.Repeat("ü<", 250),
		Requester: reset.Actor{SlackID: "U1"},
		Approver:  reset.Actor{SlackID: "U2"},
		ExpiresAt: time.Now().Add(time.Hour),
	}
	for _, n := range names {
		req.Plan = append(req.Plan, reset.PlanEntry{Provider: n, Account: reset.LookupFailed, Detail: long})
	}
	outcomes := map[string]reset.Outcome{}
	for _, n := range names {
		outcomes[n] = reset.Outcome{Provider: n, Status: reset.Failed, Detail: long, Attempts: 5, Duration: time.Second}
	}
	_, ts, err := api.PostMessageContext(ctx, "C1", slack.MsgOptionText("x", false))
	if err != nil {
		t.Fatal(err)
	}
	for _, state := range []reset.State{reset.Pending, reset.Running, reset.StatePartial, reset.Cancelled, reset.Expired} {
		req.State = state
		fallback, blocks := card{req: req, outcomes: outcomes, names: names, note: long}.render()
		if _, _, _, err := api.UpdateMessageContext(ctx, "C1", ts, slack.MsgOptionText(fallback, false), slack.MsgOptionBlocks(blocks...)); err != nil {
			t.Errorf("%s card refused by Slack: %v", state, err)
		}
	}
	var all []reset.Outcome
	for _, n := range names {
		all = append(all, outcomes[n])
	}
	text := summary(req, all, reset.AllFail, long)
	if _, _, err := api.PostMessageContext(ctx, "C1", slack.MsgOptionTS(ts), slack.MsgOptionText(text, false)); err != nil {
		t.Errorf("summary refused by Slack: %v", err)
	}
	for _, m := range fs.Messages() {
		if strings.Contains(m.Text, "<&>") || strings.Contains(string(m.Blocks), `<&>`) || strings.Contains(string(m.Blocks), `\u003c\u0026\u003e`) {
			t.Errorf("user text reached Slack unescaped")
		}
	}
}
