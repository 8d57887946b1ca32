package bot

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/slack-go/slack"

	"github.com/resetbot/resetbot/internal/lifecycle"
	"github.com/resetbot/resetbot/internal/reset"
	"github.com/resetbot/resetbot/internal/store"
)

// onCommand decides what the ack says and what work follows. Everything here is local: the
// ack must leave within Slack's 3 seconds, so Okta and the providers are asked afterwards.
func (b *Bot) onCommand(cmd slack.SlashCommand) (ack any, work func(context.Context)) {
	if !b.teamAllowed(cmd.TeamID, cmd.EnterpriseID) {
		b.log.Warn("command from a workspace not allowed", "audit", "refused", "team", cmd.TeamID, "user", cmd.UserID)
		return private("resetbot does not serve this workspace."), nil
	}
	parsed, err := parseCommand(cmd.Text)
	if err != nil {
		return private(err.Error()), nil
	}
	if parsed.help {
		return private(usage(cmd.Command)), nil
	}
	looking := ":mag: Checking your permissions and looking the person up…"
	if parsed.batch() {
		looking = ":mag: Checking your permissions and looking everyone up…"
	}
	return private(looking), func(ctx context.Context) {
		b.request(ctx, cmd, parsed)
	}
}

// request runs after the ack: who is asking, who is meant, where they have accounts, then the
// card. Every refusal is private and changes nothing.
func (b *Bot) request(ctx context.Context, cmd slack.SlashCommand, parsed command) {
	reply := b.replier(cmd.ResponseURL, cmd.ChannelID, cmd.UserID)
	requester, standing, refusal := b.identify(ctx, cmd.UserID)
	if refusal == nil {
		refusal = said(b.cfg.Policy.MayRequest(standing))
	}
	if refusal != nil {
		b.refuse(ctx, "", requester, "request", refusal, reply)
		return
	}
	if parsed.batch() {
		b.requestBatch(ctx, cmd, parsed, requester, reply)
		return
	}
	target, err := b.resolve(ctx, parsed.people[0])
	if err != nil {
		b.audit(ctx, store.Event{Kind: "refused", Actor: requester, Target: parsed.people[0].display(), Reason: parsed.reason, Detail: "target: " + err.Error()})
		reply(ctx, err.Error())
		return
	}
	now := b.now()
	req := reset.Request{
		ID:        newID(),
		Target:    target,
		Reason:    parsed.reason,
		Requester: requester,
		Source:    "slack",
		Channel:   cmd.ChannelID,
		State:     reset.Pending,
		CreatedAt: now,
		UpdatedAt: now,
		ExpiresAt: now.Add(b.cfg.TTL),
	}
	if !b.mayAsk(ctx, &req, reply) {
		return
	}
	req.Plan = b.plan(ctx, target)
	if err := b.cfg.Store.Create(ctx, req); err != nil {
		b.log.Error("store request", "error", err.Error())
		reply(ctx, "I could not save the request, so nothing was started. Try again; if it keeps failing, tell whoever runs resetbot.")
		return
	}
	b.audit(ctx, store.Event{RequestID: req.ID, Kind: "requested", Actor: requester, Target: target.Login, Reason: req.Reason})
	b.log.Info("request created", "audit", "requested", "request", req.ID, "requester", requester.String(), "target", target.Login)

	b.postCard(ctx, req, reply)
}

// postCard posts a new request's card and records where it is. Without a card nobody can
// approve, so a card Slack refuses withdraws the request and tells the requester how to fix it.
func (b *Bot) postCard(ctx context.Context, req reset.Request, reply func(context.Context, string)) {
	fallback, blocks := card{req: req, names: b.cfg.Executor.Names()}.render()
	channel, ts, err := b.cfg.Slack.PostMessageContext(ctx, req.Channel, slack.MsgOptionText(fallback, false), slack.MsgOptionBlocks(blocks...))
	if err != nil {
		_, _ = b.cfg.Store.Withdraw(ctx, req.ID, reset.Actor{Name: "resetbot"}, b.now())
		b.audit(ctx, store.Event{RequestID: req.ID, Kind: "cancelled", Actor: reset.Actor{Name: "resetbot"}, Target: auditTarget(req), Detail: "card could not be posted: " + err.Error()})
		reply(ctx, postFailure(err))
		return
	}
	if err := b.cfg.Store.SetMessage(ctx, req.ID, channel, ts); err != nil {
		b.log.Error("store card location", "request", req.ID, "error", err.Error())
	}
}

// mayAsk reads what Okta says of the request's people now and applies the policy: a request
// about a protected person is refused, privately and on record, or noted on its card as
// needing two approvers. It reports whether the request may go on.
func (b *Bot) mayAsk(ctx context.Context, req *reset.Request, reply func(context.Context, string)) bool {
	roles, err := b.roles(ctx, req.People())
	if err != nil {
		b.log.Error("okta groups of the people to sign out", "error", err.Error())
		reply(ctx, b.oktaFailed(err, "reading the Okta groups of the people to sign out"))
		return false
	}
	if r := said(b.cfg.Policy.MayAsk(*req, roles)); r != nil {
		b.audit(ctx, store.Event{Kind: store.KindRefused, Actor: req.Requester, Target: auditTarget(*req), Reason: req.Reason, Detail: "request: " + r.Code})
		b.log.Info("refused", "audit", "refused", "action", "request", "code", r.Code, "actor", req.Requester.String())
		reply(ctx, r.Message)
		return false
	}
	req.Note = b.approvalNote(*req, roles)
	return true
}

// auditTarget names a request's target in the audit log, as the lifecycle does.
var auditTarget = lifecycle.AuditTarget

// resolve finds the target in Okta; its error is a sentence for the requester.
func (b *Bot) resolve(ctx context.Context, c who) (reset.Target, error) {
	t, err := b.lookup(ctx, c)
	switch {
	case err == nil:
		return t, nil
	case errors.Is(err, errNoSlackEmail):
		return t, fmt.Errorf("I could not find an email for <@%s> in Slack, so I cannot find them in Okta. Use their email instead.", c.slackUser)
	case errors.Is(err, errUnvouched):
		return t, fmt.Errorf("I cannot vouch for the email on <@%s>'s Slack profile (another workspace, Slack Connect, or an email Slack has not confirmed), so I will not look them up by it. Use their email or Okta login instead.", c.slackUser)
	case isNotFound(err):
		return t, fmt.Errorf("Nobody in Okta matches `%s`. Nothing was posted; check the spelling or use their Okta login.", escape(c.display()))
	default:
		b.log.Error("okta lookup of target", "error", err.Error())
		return t, errors.New(b.oktaFailed(err, "looking that person up"))
	}
}

// errNoSlackEmail is a mentioned person whose Slack profile shows no email; it matches
// errNotFound, since they cannot be found in Okta either.
var errNoSlackEmail = fmt.Errorf("no email on the slack profile: %w", errNotFound)

// errUnvouched is a mentioned person whose profile email nothing vouches for: an outsider
// could put an employee's address on their own profile and have a card point at the employee.
// It matches errNotFound too.
var errUnvouched = fmt.Errorf("the slack profile's email is not vouched for: %w", errNotFound)

// lookup finds one named person in Okta: by the email of a Slack mention, by email (then as a
// login, for orgs whose logins look like addresses) or by login or id.
func (b *Bot) lookup(ctx context.Context, c who) (reset.Target, error) {
	switch {
	case c.slackUser != "":
		u, err := b.cfg.Slack.GetUserInfoContext(ctx, c.slackUser)
		if err != nil || u.Profile.Email == "" {
			return reset.Target{}, errNoSlackEmail
		}
		if u.IsStranger || !u.IsEmailConfirmed || !b.teamAllowed(u.TeamID, u.Enterprise.EnterpriseID) {
			return reset.Target{}, errUnvouched
		}
		return b.cfg.Directory.FindByEmail(ctx, u.Profile.Email)
	case c.email != "":
		t, err := b.cfg.Directory.FindByEmail(ctx, c.email)
		if isNotFound(err) {
			t, err = b.cfg.Directory.Find(ctx, c.email)
		}
		return t, err
	default:
		return b.cfg.Directory.Find(ctx, c.login)
	}
}

func (c who) display() string {
	switch {
	case c.group != "":
		return "group:" + c.group
	case c.slackUser != "":
		return "<@" + c.slackUser + ">"
	case c.email != "":
		return c.email
	default:
		return c.login
	}
}

// refuse answers privately and writes the refusal to the audit log.
func (b *Bot) refuse(ctx context.Context, requestID string, who reset.Actor, what string, r *reset.Refusal, reply func(context.Context, string)) {
	// The decision is on record before the person hears of it.
	b.log.Info("refused", "audit", "refused", "action", what, "code", r.Code, "actor", who.String(), "request", requestID)
	b.audit(ctx, store.Event{RequestID: requestID, Kind: "refused", Actor: who, Detail: what + ": " + r.Code})
	reply(ctx, r.Message)
}

// said makes a policy's refusal safe to show in Slack: its words name people by address
// ("Alice <alice@example.com>"), which mrkdwn would read as markup.
func said(r *reset.Refusal) *reset.Refusal {
	if r == nil {
		return nil
	}
	return &reset.Refusal{Code: r.Code, Message: escape(r.Message)}
}

func (b *Bot) audit(ctx context.Context, e store.Event) {
	if e.At.IsZero() {
		e.At = b.now()
	}
	if err := b.cfg.Store.Append(ctx, e); err != nil {
		b.log.Error("audit log append failed", "audit", e.Kind, "request", e.RequestID, "error", err.Error())
	}
}

// postFailure explains, in a responder's words, why the card could not be posted.
func postFailure(err error) string {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "not_in_channel"), strings.Contains(msg, "channel_not_found"):
		return "I can't post in this channel, so nobody could approve the request; nothing was started. Invite me with `/invite @resetbot`, or use the command in a channel I'm in."
	case strings.Contains(msg, "is_archived"):
		return "This channel is archived; use the command in an active channel. Nothing was started."
	default:
		return "Slack refused the request card (" + escape(msg) + "); nothing was started."
	}
}

func isNotFound(err error) bool {
	return err != nil && errors.Is(err, errNotFound)
}
