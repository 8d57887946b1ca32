package bot

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/slack-go/slack"

	"github.com/resetbot/resetbot/internal/reset"
	"github.com/resetbot/resetbot/internal/store"
)

// Submission is a reset asked for by something other than a person typing in Slack, such as
// an Okta event saying an account is at risk.
type Submission struct {
	// Who is the target's Okta user id, login or email.
	Who    string
	Reason string
	// Source identifies the trigger uniquely ("okta-event:<uuid>"): a second submission with
	// the same source is a redelivery and is refused with ErrDuplicate.
	Source string
	// Requester is recorded as who asked, e.g. {Name: "okta event user.lifecycle.suspend"}.
	Requester reset.Actor
	// Channel receives the card and the summary.
	Channel string
	// Auto asks for the reset to run at once; otherwise the card waits for an Approve click.
	// It runs at once only when Okta, asked afresh, agrees: the target's status is one of
	// Confirms, and the target is neither a responder nor protected. Otherwise the card
	// waits, saying why.
	Auto bool
	// Confirms are the Okta statuses that bear the event out (SUSPENDED for a suspension);
	// none means nothing in Okta's record of the person can, and the card always waits.
	Confirms []string
	// Event names the event in the card's explanation, e.g. "suspended".
	Event string
}

// ErrDuplicate is returned by Submit for a source already submitted.
var ErrDuplicate = store.ErrDuplicate

// ErrRefused is matched by errors.Is when the policy refuses a submission outright (a
// protected person with RESETBOT_PROTECTED_POLICY=refuse); the error says why.
var ErrRefused = errors.New("refused by policy")

// Submit creates a request from s, posts its card and, when s.Auto, runs it. It returns once
// the card is posted; an automatic reset goes on in the background, and Run's shutdown waits
// for it like for any other.
func (b *Bot) Submit(ctx context.Context, s Submission) (reset.Request, error) {
	select {
	case <-b.stopping:
		return reset.Request{}, errors.New("resetbot is shutting down")
	default:
	}
	target, err := b.cfg.Directory.Find(ctx, s.Who)
	if err != nil {
		return reset.Request{}, fmt.Errorf("find %q in okta: %w", s.Who, err)
	}
	roles, err := b.roles(ctx, []reset.Target{target})
	if err != nil {
		return reset.Request{}, fmt.Errorf("read okta groups of %s: %w", target.Login, err)
	}
	now := b.now()
	req := reset.Request{
		ID: newID(), Target: target, Reason: s.Reason, Requester: s.Requester, Source: s.Source,
		Channel: s.Channel, State: reset.Pending, CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(b.cfg.TTL),
	}
	if r := b.cfg.Policy.MayAsk(req, roles); r != nil {
		b.audit(ctx, store.Event{Kind: store.KindRefused, Actor: s.Requester, Target: target.Login, Reason: s.Reason, Detail: "request: " + r.Code + ": " + s.Source})
		b.log.Info("refused", "audit", "refused", "action", "request", "code", r.Code, "source", s.Source, "target", target.Login)
		return reset.Request{}, fmt.Errorf("%s: %w: %s", s.Source, ErrRefused, r.Message)
	}
	req.Note = b.approvalNote(req, roles)
	if s.Auto {
		if why := b.notAutomatic(s, target, roles); why != "" {
			s.Auto = false
			req.Note = strings.TrimSpace("Not reset at once: " + why + " A responder decides. " + req.Note)
		}
	}
	req.Plan = b.plan(ctx, target)
	if err := b.cfg.Store.Create(ctx, req); err != nil {
		return reset.Request{}, fmt.Errorf("store request from %s: %w", s.Source, err)
	}
	b.audit(ctx, store.Event{RequestID: req.ID, Kind: "requested", Actor: s.Requester, Target: target.Login, Reason: s.Reason, Detail: s.Source})
	b.log.Info("request submitted", "audit", "requested", "request", req.ID, "source", s.Source, "target", target.Login, "auto", s.Auto, "note", req.Note)

	fallback, blocks := card{req: req, names: b.cfg.Executor.Names()}.render()
	channel, ts, err := b.cfg.Slack.PostMessageContext(ctx, s.Channel, slack.MsgOptionText(fallback, false), slack.MsgOptionBlocks(blocks...))
	if err != nil {
		// Without a card the request cannot be approved or followed; an automatic reset still
		// runs, since the event asked for it, and the audit log tells the story.
		b.log.Error("post card for submitted request", "request", req.ID, "channel", s.Channel, "error", err.Error())
		if !s.Auto {
			_, _ = b.cfg.Store.Withdraw(ctx, req.ID, reset.Actor{Name: "resetbot"}, b.now())
			b.audit(ctx, store.Event{RequestID: req.ID, Kind: "cancelled", Actor: reset.Actor{Name: "resetbot"}, Target: target.Login, Detail: "card could not be posted: " + err.Error()})
			return req, fmt.Errorf("post card in %s: %w", s.Channel, err)
		}
	} else {
		req.Channel, req.MessageTS = channel, ts
		if err := b.cfg.Store.SetMessage(ctx, req.ID, channel, ts); err != nil {
			b.log.Error("store card location", "request", req.ID, "error", err.Error())
		}
	}
	if !s.Auto {
		return req, nil
	}
	approver := reset.Actor{Name: "automatic (" + s.Requester.String() + ")"}
	running, err := b.runner.Approve(ctx, req, approver, "automatic: "+s.Source)
	if err != nil {
		return req, fmt.Errorf("approve automatic request: %w", err)
	}
	running.Channel, running.MessageTS = req.Channel, req.MessageTS
	work := b.workContext(ctx)
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		b.execute(work, running, "")
	}()
	return running, nil
}

// notAutomatic says why an event that asks for an automatic reset must wait for a responder
// instead, or "" when it may run at once: Okta must bear the event out now, and the target
// must not be someone whose own say over resets (a responder) or whose protection the event
// would bypass.
func (b *Bot) notAutomatic(s Submission, t reset.Target, roles reset.Roles) string {
	if g, ok := roles.Responders[t.OktaID]; ok {
		return fmt.Sprintf("%s can request or approve resets (Okta group %s).", t.String(), g)
	}
	if g, ok := roles.Protected[t.OktaID]; ok {
		return fmt.Sprintf("%s is protected (Okta group %s).", t.String(), g)
	}
	if len(s.Confirms) == 0 {
		return fmt.Sprintf("nothing in Okta's record of %s can confirm the event.", t.String())
	}
	if !slices.Contains(s.Confirms, t.Status) {
		return fmt.Sprintf("the event says %s was %s, but Okta shows them %s now.", t.String(), s.Event, orDash(t.Status))
	}
	return ""
}
