package bot

import (
	"context"

	"github.com/slack-go/slack"

	"github.com/resetbot/resetbot/internal/directory"
)

var errNotFound = directory.ErrNotFound

// private is an ack payload shown only to the person who typed the command.
func private(text string) map[string]any {
	return map[string]any{"response_type": "ephemeral", "text": text}
}

// replier answers one person privately: through the response_url Slack gave us (works in any
// channel, even ones the bot is not in), falling back to an ephemeral message.
func (b *Bot) replier(responseURL, channel, user string) func(context.Context, string) {
	return func(ctx context.Context, text string) {
		if responseURL != "" {
			err := slack.PostWebhookCustomHTTPContext(ctx, responseURL, b.cfg.HTTPClient, &slack.WebhookMessage{
				Text: text, ResponseType: slack.ResponseTypeEphemeral, ReplaceOriginal: false,
			})
			if err == nil {
				return
			}
			b.log.Warn("response_url failed; trying an ephemeral message", "error", err.Error())
		}
		if _, err := b.cfg.Slack.PostEphemeralContext(ctx, channel, user, slack.MsgOptionText(text, false)); err != nil {
			b.log.Error("could not answer privately", "user", user, "error", err.Error())
		}
	}
}
