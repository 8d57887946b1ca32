package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/resetbot/resetbot/bot"
	"github.com/resetbot/resetbot/internal/app"
	"github.com/resetbot/resetbot/internal/config"
	slackfake "github.com/resetbot/resetbot/internal/fake/slack"
	"github.com/resetbot/resetbot/internal/fake/world"
)

// Stage is a bot running against a world of fakes: the demo plays a story on it and the
// end-to-end tests drive it. The bot is the real one, wired exactly as `resetbot run` wires it.
type Stage struct {
	World   *world.World
	Bot     *bot.Bot
	Service *app.Service
	// Front is the HTTP side, when the world's environment sets RESETBOT_HTTP_ADDR.
	Front *app.Front
	stop  context.CancelFunc
	done  chan error
	close func()
	once  sync.Once
	err   error
}

// StartStage builds the bot from the world's environment and runs it until Stop.
func StartStage(ctx context.Context, w *world.World, logger *slog.Logger, opt app.BotOptions) (*Stage, error) {
	cfg, err := config.LoadFor(w.Getenv, config.Need{Slack: true, Policy: true})
	if err != nil {
		return nil, err
	}
	opt.Roots = w.Roots
	svc, err := app.BuildBot(ctx, cfg, logger, opt)
	if err != nil {
		return nil, err
	}
	var f *app.Front
	if cfg.HTTPAddr != "" {
		if f, err = app.StartFront(cfg, svc, logger); err != nil {
			svc.Close()
			return nil, err
		}
	}
	runCtx, stop := context.WithCancel(ctx)
	s := &Stage{World: w, Bot: svc.Bot, Service: svc, Front: f, stop: stop, done: make(chan error, 1), close: svc.Close}
	go func() { s.done <- app.Serve(runCtx, svc.Bot, f, 10*time.Second) }()
	return s, nil
}

// Stop ends the bot gracefully and waits for it; calling it again returns the same result.
func (s *Stage) Stop() error {
	s.once.Do(func() {
		s.stop()
		s.err = <-s.done
		s.close()
	})
	return s.err
}

// Command runs /reset-sessions as person and returns the envelope id.
func (s *Stage) Command(p world.Person, text string) string { return SendCommand(s.World, p, text) }

// Click presses a button of the card as person.
func (s *Stage) Click(p world.Person, card slackfake.Message, action string) string {
	return ClickCard(s.World, p, card, action)
}

// SendCommand is person typing /reset-sessions text in the security channel; whichever bot is
// connected to the world's Slack receives it. It returns the envelope id.
func SendCommand(w *world.World, p world.Person, text string) string {
	return w.Slack.SendSlashCommand(slackfake.SlashCommand{ChannelID: world.Channel, UserID: p.SlackID, Text: text})
}

// ClickCard is person pressing a button of the card.
func ClickCard(w *world.World, p world.Person, card slackfake.Message, action string) string {
	return w.Slack.SendBlockAction(slackfake.BlockAction{
		UserID: p.SlackID, ChannelID: card.Channel, MessageTS: card.TS,
		ActionID: action, BlockID: "request_actions", Value: RequestID(card),
	})
}

// WaitCard waits for the n-th card (1 for the first) the bot posts in the channel.
func (s *Stage) WaitCard(ctx context.Context, n int) (slackfake.Message, error) {
	var card slackfake.Message
	err := s.World.Slack.WaitFor(ctx, func(sn slackfake.Snapshot) bool {
		seen := 0
		for _, m := range sn.Messages {
			if IsCard(m) {
				if seen++; seen == n {
					card = m
					return true
				}
			}
		}
		return false
	})
	return card, err
}

// WaitThread waits for the bot's n-th reply in the card's thread.
func (s *Stage) WaitThread(ctx context.Context, card slackfake.Message, n int) ([]slackfake.Message, error) {
	var replies []slackfake.Message
	err := s.World.Slack.WaitFor(ctx, func(sn slackfake.Snapshot) bool {
		replies = sn.Thread(card.Channel, card.TS)
		return len(replies) >= n
	})
	return replies, err
}

// WaitPrivate waits for a private answer to person that satisfies ok.
func (s *Stage) WaitPrivate(ctx context.Context, p world.Person, ok func(text string) bool) (string, error) {
	var got string
	err := s.World.Slack.WaitFor(ctx, func(sn slackfake.Snapshot) bool {
		for _, r := range sn.Responses {
			if r.User == p.SlackID && ok(r.Text) {
				got = r.Text
				return true
			}
		}
		for _, e := range sn.Ephemerals {
			if e.User == p.SlackID && ok(e.Text) {
				got = e.Text
				return true
			}
		}
		return false
	})
	return got, err
}

// IsCard tells a request card (one that had Approve and Cancel buttons) from the bot's other
// messages in the security channel.
func IsCard(m slackfake.Message) bool {
	return m.ThreadTS == "" && m.Channel == world.Channel && RequestID(m) != ""
}

// RequestID reads the request id a card's Approve button carries; "" when m is no card.
func RequestID(m slackfake.Message) string {
	for _, blocks := range [][]byte{m.Blocks, firstBlocks(m)} {
		var bs []struct {
			Type     string `json:"type"`
			Elements []struct {
				ActionID string `json:"action_id"`
				Value    string `json:"value"`
			} `json:"elements"`
		}
		if json.Unmarshal(blocks, &bs) != nil {
			continue
		}
		for _, b := range bs {
			for _, el := range b.Elements {
				if el.ActionID == "approve" {
					return el.Value
				}
			}
		}
	}
	return ""
}

// firstBlocks is the card as first posted: once approved, its buttons are gone.
func firstBlocks(m slackfake.Message) []byte {
	if len(m.History) == 0 {
		return nil
	}
	return m.History[0].Blocks
}

// errStory marks a demo step that did not go as the story says.
var errStory = errors.New("the demo did not go as planned")

func storyf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errStory, fmt.Sprintf(format, args...))
}
