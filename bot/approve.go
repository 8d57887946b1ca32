package bot

import (
	"context"
	"errors"
	"fmt"

	"github.com/slack-go/slack"

	"github.com/resetbot/resetbot/internal/lifecycle"
	"github.com/resetbot/resetbot/internal/reset"
	"github.com/resetbot/resetbot/internal/store"
)

// onInteraction picks the work for a button click. The ack carries nothing: a click's answer
// goes to response_url or the card.
func (b *Bot) onInteraction(cb slack.InteractionCallback) func(context.Context) {
	if cb.Type != slack.InteractionTypeBlockActions || len(cb.ActionCallback.BlockActions) == 0 {
		return nil
	}
	action := cb.ActionCallback.BlockActions[0]
	if action.ActionID != actionApprove && action.ActionID != actionCancel && action.ActionID != actionRetry {
		return nil
	}
	return func(ctx context.Context) { b.click(ctx, cb, action) }
}

// click handles Approve and Cancel. The button's value is only a request id; what the request
// is comes from the store, so an edited payload can name a request but never change it.
func (b *Bot) click(ctx context.Context, cb slack.InteractionCallback, action *slack.BlockAction) {
	reply := b.replier(cb.ResponseURL, cb.Channel.ID, cb.User.ID)
	clicker := reset.Actor{SlackID: cb.User.ID, TeamID: cb.Team.ID}
	if !b.teamAllowed(cb.Team.ID, cb.Enterprise.ID) {
		b.refuse(ctx, "", clicker, action.ActionID, &reset.Refusal{Code: "team_not_allowed", Message: "resetbot does not serve this workspace."}, reply)
		return
	}
	req, err := b.cfg.Store.Get(ctx, action.Value)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			b.refuse(ctx, "", clicker, action.ActionID, &reset.Refusal{Code: "unknown_request", Message: "I don't know that request; nothing was changed."}, reply)
			return
		}
		b.log.Error("load request", "request", action.Value, "error", err.Error())
		reply(ctx, "I could not load that request just now; nothing was changed. Try again in a minute.")
		return
	}
	// Approve and Cancel sit on the card; Retry on a summary in the card's thread.
	where := cb.Container.MessageTs
	if action.ActionID == actionRetry {
		where = cb.Container.ThreadTs
	}
	if cb.Container.MessageTs != "" && req.MessageTS != "" && (where != req.MessageTS || cb.Container.ChannelID != req.Channel) {
		// A click from one card naming another card's request: someone edited the payload.
		b.log.Warn("button does not belong to the request's card", "audit", "tampering", "request", req.ID, "user", cb.User.ID)
		b.refuse(ctx, req.ID, clicker, action.ActionID, &reset.Refusal{Code: "tampering", Message: "That button does not belong to this request; nothing was changed."}, reply)
		return
	}
	if req.MessageTS == "" && cb.Container.MessageTs != "" && !cb.Container.IsEphemeral && action.ActionID != actionRetry {
		// The click beat the card's location into the store (the card is posted, then
		// recorded): the card is the message that was clicked.
		req.Channel, req.MessageTS = cb.Container.ChannelID, cb.Container.MessageTs
		if err := b.cfg.Store.SetMessage(ctx, req.ID, req.Channel, req.MessageTS); err != nil {
			b.log.Warn("store card location", "request", req.ID, "error", err.Error())
		}
	}
	clicker, st, refusal := b.identify(ctx, cb.User.ID)
	if refusal != nil {
		b.refuse(ctx, req.ID, clicker, action.ActionID, refusal, reply)
		return
	}
	if action.ActionID == actionCancel {
		if refusal := said(b.cfg.Policy.MayCancel(req, clicker, st, b.now())); refusal != nil {
			b.refuse(ctx, req.ID, clicker, "cancel", refusal, reply)
			return
		}
		b.cancel(ctx, req, clicker, reply)
		return
	}
	if action.ActionID == actionRetry {
		b.retry(ctx, req, clicker, st, reply)
		return
	}
	b.approve(ctx, req, clicker, st, reply)
}

// retry runs the failed systems of a finished request again, for whoever may approve it, by
// the same rules; the card shows the run and its thread gets one more summary.
func (b *Bot) retry(ctx context.Context, req reset.Request, clicker reset.Actor, st reset.Standing, reply func(context.Context, string)) {
	roles, err := b.roles(ctx, req.People())
	if err != nil {
		b.log.Error("okta groups of the people to sign out", "request", req.ID, "error", err.Error())
		reply(ctx, b.oktaFailed(err, "reading the Okta groups of the people to sign out"))
		return
	}
	if refusal := said(b.cfg.Policy.MayRetry(req, clicker, st, roles, b.now())); refusal != nil {
		b.refuse(ctx, req.ID, clicker, "retry", refusal, reply)
		return
	}
	running, err := b.runner.Retry(ctx, req, clicker)
	if err != nil {
		if errors.Is(err, store.ErrConflict) {
			b.refuse(ctx, req.ID, clicker, "retry", &reset.Refusal{Code: "not_retryable",
				Message: fmt.Sprintf("This request is %s now: someone else is retrying it, or it is already done; nothing more was done.", running.State)}, reply)
			return
		}
		b.log.Error("retry", "request", req.ID, "error", err.Error())
		reply(ctx, "I could not record your retry; nothing was run. Try again in a minute.")
		return
	}
	reply(ctx, "Running the failed systems again; the card shows how it goes, and the thread gets the result.")
	b.execute(ctx, running, fmt.Sprintf("retry of the failed systems by %s", clicker.String()))
}

// approve decides an Approve click from what Okta says now of the clicker and of the people
// to sign out, records it, and runs the request once it has every approval it needs. A
// request that changed under the click (another approval landed first) is decided again.
func (b *Bot) approve(ctx context.Context, req reset.Request, clicker reset.Actor, st reset.Standing, reply func(context.Context, string)) {
	roles, err := b.roles(ctx, req.People())
	if err != nil {
		b.log.Error("okta groups of the people to sign out", "request", req.ID, "error", err.Error())
		reply(ctx, b.oktaFailed(err, "reading the Okta groups of the people to sign out"))
		return
	}
	for range 3 {
		if refusal := said(b.cfg.Policy.MayApprove(req, clicker, st, roles, b.now())); refusal != nil {
			b.refuse(ctx, req.ID, clicker, "approve", refusal, reply)
			return
		}
		now := b.now()
		if need := b.cfg.Policy.ApprovalsNeeded(req, roles); len(req.Approvals)+1 < need {
			pending, err := b.cfg.Store.AddApproval(ctx, req.ID, req.Approvals, clicker, now)
			if errors.Is(err, store.ErrConflict) {
				req = pending
				continue
			}
			if err != nil {
				b.log.Error("record approval", "request", req.ID, "error", err.Error())
				reply(ctx, "I could not record your approval; nothing was reset. Try again in a minute.")
				return
			}
			detail := fmt.Sprintf("approval %d of %d", len(pending.Approvals), need)
			b.audit(ctx, store.Event{RequestID: req.ID, Kind: store.KindApproved, Actor: clicker, Target: auditTarget(req), Reason: req.Reason, Detail: detail})
			b.log.Info("request approved, another approval needed", "audit", "approved", "request", req.ID, "approver", clicker.String(), "approvals", detail)
			b.updateCard(ctx, card{req: pending, names: b.cfg.Executor.Names()})
			reply(ctx, "Your approval is recorded. This request needs one more responder's approval before anyone is signed out.")
			return
		}
		running, err := b.runner.Approve(ctx, req, clicker, "")
		if err != nil {
			if errors.Is(err, store.ErrExpired) {
				b.refuse(ctx, req.ID, clicker, "approve", &reset.Refusal{Code: "expired",
					Message: "This request expired before it was approved; nothing was reset. Ask again if it is still needed."}, reply)
				return
			}
			if errors.Is(err, store.ErrConflict) {
				msg := fmt.Sprintf("This request is already %s; nothing more was done.", running.State)
				if running.Approver.SlackID != "" {
					msg = fmt.Sprintf("This request is already %s (approved by <@%s>); nothing more was done.", running.State, running.Approver.SlackID)
				}
				b.refuse(ctx, req.ID, clicker, "approve", &reset.Refusal{Code: "not_pending", Message: msg}, reply)
				return
			}
			b.log.Error("approve", "request", req.ID, "error", err.Error())
			reply(ctx, "I could not record your approval; nothing was reset. Try again in a minute.")
			return
		}
		b.execute(ctx, running, "")
		return
	}
	reply(ctx, "Others were approving this request at the same moment; nothing was changed by your click. Look at the card and click again if it still needs you.")
}

func (b *Bot) cancel(ctx context.Context, req reset.Request, by reset.Actor, reply func(context.Context, string)) {
	cancelled, err := b.cfg.Store.Cancel(ctx, req.ID, by, b.now())
	if err != nil {
		if errors.Is(err, store.ErrExpired) {
			reply(ctx, "This request expired before anyone approved it; nothing was reset or changed.")
			return
		}
		if errors.Is(err, store.ErrConflict) {
			reply(ctx, fmt.Sprintf("This request is already %s; nothing was changed.", cancelled.State))
			return
		}
		reply(ctx, "I could not cancel the request just now. Try again in a minute.")
		return
	}
	b.audit(ctx, store.Event{RequestID: req.ID, Kind: "cancelled", Actor: by, Target: auditTarget(req)})
	b.log.Info("request cancelled", "audit", "cancelled", "request", req.ID, "by", by.String())
	b.updateCard(ctx, card{req: cancelled, names: b.cfg.Executor.Names()})
}

// sweep expires cards nobody approved in time and takes over resets whose replica died.
func (b *Bot) sweep(ctx context.Context) {
	select {
	case <-b.stopping:
		return
	default:
	}
	now := b.now()
	expired, err := b.cfg.Store.ExpireDue(ctx, now)
	if err != nil {
		b.log.Warn("expire pending requests", "error", err.Error())
	}
	for _, r := range expired {
		b.audit(ctx, store.Event{RequestID: r.ID, Kind: "expired", Actor: reset.Actor{Name: "resetbot"}, Target: auditTarget(r)})
		b.log.Info("request expired", "audit", "expired", "request", r.ID)
		b.updateCard(ctx, card{req: r, names: b.cfg.Executor.Names()})
	}
	taken, err := b.runner.TakeOver(ctx)
	if err != nil {
		b.log.Warn("take over interrupted requests", "error", err.Error())
	}
	for _, r := range taken {
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			b.execute(ctx, r, "resumed after interruption")
		}()
	}
	// An end stored but never told (its replica died in between) gets its summary now.
	if err := b.runner.AnnounceUnannounced(ctx, func(r reset.Request) lifecycle.Announcer {
		return &cardRun{b: b, ctx: ctx, names: b.cfg.Executor.Names()}
	}); err != nil {
		b.log.Warn("claim unannounced requests", "error", err.Error())
	}
}

func (b *Bot) updateCard(ctx context.Context, c card) {
	if c.req.MessageTS == "" {
		return
	}
	fallback, blocks := c.render()
	if _, _, _, err := b.cfg.Slack.UpdateMessageContext(ctx, c.req.Channel, c.req.MessageTS,
		slack.MsgOptionText(fallback, false), slack.MsgOptionBlocks(blocks...)); err != nil {
		b.log.Warn("update card", "request", c.req.ID, "error", err.Error())
	}
}

func copyMap(m map[string]reset.Outcome) map[string]reset.Outcome {
	c := make(map[string]reset.Outcome, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}
