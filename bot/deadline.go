package bot

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/slack-go/slack"

	"github.com/resetbot/resetbot/internal/reset"
)

// Every call the bot makes to Slack or Okta has its own deadline: on the day of an incident
// they are at their slowest, and a call that hangs must cost the request that made it a clear
// answer, never a worker held forever. These wrappers put the deadline on every call, so no
// call site can forget it.

// timedSlack bounds every Web API call by d.
type timedSlack struct {
	Slack
	d time.Duration
}

func (s timedSlack) PostMessageContext(ctx context.Context, channelID string, options ...slack.MsgOption) (string, string, error) {
	ctx, cancel := context.WithTimeout(ctx, s.d)
	defer cancel()
	return s.Slack.PostMessageContext(ctx, channelID, options...)
}

func (s timedSlack) UpdateMessageContext(ctx context.Context, channelID, timestamp string, options ...slack.MsgOption) (string, string, string, error) {
	ctx, cancel := context.WithTimeout(ctx, s.d)
	defer cancel()
	return s.Slack.UpdateMessageContext(ctx, channelID, timestamp, options...)
}

func (s timedSlack) PostEphemeralContext(ctx context.Context, channelID, userID string, options ...slack.MsgOption) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, s.d)
	defer cancel()
	return s.Slack.PostEphemeralContext(ctx, channelID, userID, options...)
}

func (s timedSlack) GetUserInfoContext(ctx context.Context, user string, options ...slack.GetUserInfoOption) (*slack.User, error) {
	ctx, cancel := context.WithTimeout(ctx, s.d)
	defer cancel()
	return s.Slack.GetUserInfoContext(ctx, user, options...)
}

// timedDirectory bounds every Okta call by d; listing a group's members or finding many
// people, page after page, by three times that.
type timedDirectory struct {
	Directory
	d time.Duration
}

func (t timedDirectory) Find(ctx context.Context, who string) (reset.Target, error) {
	ctx, cancel := context.WithTimeout(ctx, t.d)
	defer cancel()
	return t.Directory.Find(ctx, who)
}

func (t timedDirectory) FindByEmail(ctx context.Context, email string) (reset.Target, error) {
	ctx, cancel := context.WithTimeout(ctx, t.d)
	defer cancel()
	return t.Directory.FindByEmail(ctx, email)
}

// FindMany is bounded like listing a group's members: it may take a page after another.
func (t timedDirectory) FindMany(ctx context.Context, names []string) (map[string]reset.Target, map[string]error, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*t.d)
	defer cancel()
	return t.Directory.FindMany(ctx, names)
}

func (t timedDirectory) Groups(ctx context.Context, oktaUserID string) ([]reset.Group, error) {
	ctx, cancel := context.WithTimeout(ctx, t.d)
	defer cancel()
	return t.Directory.Groups(ctx, oktaUserID)
}

func (t timedDirectory) GroupMembers(ctx context.Context, group string, limit int) ([]reset.Target, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*t.d)
	defer cancel()
	return t.Directory.GroupMembers(ctx, group, limit)
}

// plan asks every system where t has accounts within PlanTimeout: a system that does not
// answer in time shows as "lookup failed" on the card, which is still posted.
func (b *Bot) plan(ctx context.Context, t reset.Target) []reset.PlanEntry {
	ctx, cancel := context.WithTimeout(ctx, b.cfg.PlanTimeout)
	defer cancel()
	return b.cfg.Executor.Plan(ctx, t)
}

// timedOut reports whether err is a call that ran out of time.
func timedOut(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	_, _, reason := reset.Classify(err)
	return reason == "timeout"
}

// oktaFailed is the answer to a request Okta could not serve: how long it was given when it
// did not answer, and that nothing was changed either way.
func (b *Bot) oktaFailed(err error, what string) string {
	if timedOut(err) {
		return fmt.Sprintf("Okta did not answer in %s while I was %s; nothing was changed. Try again in a minute.", b.cfg.StepTimeout, what)
	}
	return fmt.Sprintf("I could not reach Okta while I was %s; nothing was changed. Try again in a minute.", what)
}
