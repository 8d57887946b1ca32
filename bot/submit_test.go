package bot

import (
	"errors"
	"testing"

	"github.com/resetbot/resetbot/internal/reset"
	"github.com/resetbot/resetbot/internal/store"
)

// suspension is an Okta event saying who was suspended, asking for an automatic reset.
func suspension(who, source string) Submission {
	return Submission{Who: who, Reason: "suspended in Okta", Source: source, Channel: channel, Auto: true,
		Requester: reset.Actor{Name: "okta event user.lifecycle.suspend"}, Confirms: []string{"SUSPENDED"}, Event: "suspended"}
}

func TestSubmitRunsAtOnceOnlyWhenOktaAgrees(t *testing.T) {
	t.Parallel()
	suspended, active := []string{"SUSPENDED"}, []string{reset.Active}
	tests := []struct {
		name     string
		who      string
		confirms []string
		edit     func(*Config)
		// note is the card's explanation of why it waits; "" is a reset that runs at once.
		note string
	}{
		{name: "a suspension okta shows runs at once", who: "sid@example.com", confirms: suspended},
		{name: "a suspension okta does not show waits", who: "alice@example.com", confirms: suspended,
			note: "Not reset at once: the event says Alice Example &lt;alice@example.com&gt; was suspended, but Okta shows them ACTIVE now. A responder decides."},
		{name: "an event about a responder waits", who: "sam@example.com", confirms: active,
			note: "Sam Approver &lt;sam@example.com&gt; can request or approve resets (Okta group Responders). A responder decides."},
		{name: "an event about a protected person waits for two approvers", who: "victor@example.com", confirms: active,
			edit: func(c *Config) { c.Policy.ApproveProtected = true },
			note: "is protected (Okta group Executives). A responder decides. A protected person is among the people to sign out: two responders"},
		{name: "an event okta cannot confirm waits", who: "sid@example.com",
			note: "Not reset at once: nothing in Okta's record of Sid Suspended &lt;sid@example.com&gt; can confirm the event."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var edit []func(*Config)
			if tt.edit != nil {
				edit = append(edit, tt.edit)
			}
			h := newHarness(t, edit...)
			sub := suspension(tt.who, "okta-event:1")
			sub.Confirms = tt.confirms
			got, err := h.bot.Submit(h.ctx, sub)
			if err != nil {
				t.Fatal(err)
			}
			h.bot.wg.Wait()
			cards := h.cards()
			if len(cards) != 1 {
				t.Fatalf("%d cards posted; want one", len(cards))
			}
			card := cards[0]
			stored := h.request(got.ID)
			if tt.note != "" {
				h.unchanged(card)
				contains(t, "card", card.shown(), tt.note, "Session reset requested")
				if b := buttons(card.blocks); len(b) != 2 {
					t.Errorf("waiting card has buttons %+v; want Approve and Cancel", b)
				}
				return
			}
			h.signedOutOnce(tt.who)
			if got.State != reset.Running || stored.State != reset.StateDone {
				t.Errorf("Submit returned a %s request, stored %s; want running, then done", got.State, stored.State)
			}
			contains(t, "card", h.now(card).shown(), "Session reset done", "*Approved by* automatic (okta event user.lifecycle.suspend)")
			lacks(t, "card", h.now(card).shown(), "Not reset at once")
			contains(t, "summary", h.summaryOf(card), "*Result: done* for ", tt.who)
			events := h.events(got.ID)
			if kinds(events) != "requested,approved,outcome,outcome,outcome,outcome,finished" || events[1].Detail != "automatic: okta-event:1" {
				t.Errorf("audit = %s %+v", kinds(events), events)
			}
		})
	}
}

func TestSubmitRefusalsPostNothing(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		who  string
		want error
		// refused is the refusal on record, if any.
		refused string
	}{
		{name: "a protected person, refused by policy", who: "victor@example.com", want: ErrRefused, refused: "request: protected: okta-event:1"},
		{name: "somebody okta does not know", who: "mallory@example.com", want: errNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			_, err := h.bot.Submit(h.ctx, suspension(tt.who, "okta-event:1"))
			h.bot.wg.Wait()
			if !errors.Is(err, tt.want) {
				t.Errorf("Submit error = %v; want one matching %v", err, tt.want)
			}
			if n := len(h.sentAll()); n != 0 {
				t.Errorf("%d messages sent to Slack; want none", n)
			}
			h.nothingPosted()
			h.signedOutOnce()
			switch events := h.events(""); {
			case tt.refused == "" && len(events) != 0:
				t.Errorf("audit = %+v; want nothing on record", events)
			case tt.refused != "" && (len(events) != 1 || events[0].Kind != store.KindRefused || events[0].Detail != tt.refused):
				t.Errorf("audit = %+v; want the refusal %q on record", events, tt.refused)
			}
		})
	}
}

func TestSubmitRedeliveryResetsOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	first, err := h.bot.Submit(h.ctx, suspension("sid@example.com", "okta-event:7"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = h.bot.Submit(h.ctx, suspension("sid@example.com", "okta-event:7"))
	h.bot.wg.Wait()
	if !errors.Is(err, ErrDuplicate) {
		t.Errorf("a redelivered event gave %v; want ErrDuplicate", err)
	}
	h.signedOutOnce("sid@example.com")
	if n := len(h.cards()); n != 1 {
		t.Errorf("%d cards; want the first event's only", n)
	}
	if got := h.stored(); len(got) != 1 || got[0].ID != first.ID {
		t.Errorf("stored requests %+v; want the first only", got)
	}
}

func TestSubmitWithoutACard(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		auto bool
		// runs says the reset goes on without a card, since the event asked for it.
		runs  bool
		state reset.State
	}{
		{name: "an automatic reset still runs", auto: true, runs: true, state: reset.StateDone},
		{name: "a reset waiting for a responder is withdrawn", auto: false, state: reset.Cancelled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			h.slack.postErr = errors.New("channel_not_found")
			sub := suspension("sid@example.com", "okta-event:1")
			sub.Auto = tt.auto
			got, err := h.bot.Submit(h.ctx, sub)
			h.bot.wg.Wait()
			if (err == nil) != tt.runs {
				t.Errorf("Submit error = %v; want an error only when nothing runs", err)
			}
			if tt.runs {
				h.signedOutOnce("sid@example.com")
			} else {
				h.signedOutOnce()
			}
			if r := h.request(got.ID); r.State != tt.state {
				t.Errorf("request is %s; want %s", r.State, tt.state)
			}
		})
	}
}
