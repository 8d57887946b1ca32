package bot

import (
	"context"
	"sync"

	"github.com/slack-go/slack"

	"github.com/resetbot/resetbot/internal/lifecycle"
	"github.com/resetbot/resetbot/internal/reset"
)

// execute runs an approved request to its end through the lifecycle, with the card and its
// thread as the announcer: the card shows each answer (or a batch's counts every few
// seconds), and one summary goes into the thread once the end is stored.
func (b *Bot) execute(ctx context.Context, req reset.Request, note string) {
	run := &cardRun{b: b, ctx: ctx, note: note, names: b.cfg.Executor.Names()}
	if end := b.runner.Run(ctx, req, run); end.Stopped {
		run.stopped() // the card keeps what it shows, for whoever takes the request over
	}
}

// cardRun announces one run on its request's card.
type cardRun struct {
	b     *Bot
	ctx   context.Context
	req   reset.Request
	note  string
	names []string
	// outcomes are one person's answers so far; prog a batch's.
	outcomes map[string]reset.Outcome
	prog     *progress
	// stopTicker ends a batch's periodic card updates.
	stopTicker func()
}

func (c *cardRun) Started(req reset.Request, done map[string][]reset.Outcome) {
	c.req = req
	if !req.Batch() {
		c.outcomes = map[string]reset.Outcome{}
		for _, o := range done[req.Target.Key()] {
			c.outcomes[o.Provider] = o
		}
		c.b.updateCard(c.ctx, c.card())
		return
	}
	c.prog = newProgress(c.names, len(req.Targets))
	for _, t := range req.Targets {
		if had := done[t.Key()]; len(had) < len(c.names) {
			for _, o := range had { // finished people are counted when the lifecycle hands them over
				c.prog.heard(o)
			}
		}
	}
	c.b.updateCard(c.ctx, c.card())
	c.stopTicker = c.tick()
}

// tick updates a batch's card every ProgressEvery while there is something new to show.
func (c *cardRun) tick() func() {
	ctx, cancel := context.WithCancel(c.ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := newTicker(c.b.cfg.ProgressEvery)
		defer t.Stop()
		shown := c.prog.version()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if n := c.prog.version(); n != shown {
					shown = n
					c.b.updateCard(ctx, card{req: c.req, names: c.names, note: c.note, progress: c.prog.snapshot()})
				}
			}
		}
	}()
	return func() { cancel(); wg.Wait() }
}

func (c *cardRun) Heard(_ reset.Target, o reset.Outcome) {
	if c.prog != nil {
		c.prog.heard(o)
		return
	}
	c.outcomes[o.Provider] = o
	c.b.updateCard(c.ctx, c.card())
}

func (c *cardRun) Person(t reset.Target, r reset.Result, cut bool) {
	if c.prog != nil && !cut {
		c.prog.add(t, r.Outcomes)
	}
}

func (c *cardRun) Finished(req reset.Request, end lifecycle.End) {
	c.req = req
	if c.stopTicker != nil {
		c.stopTicker()
	}
	if req.MessageTS != "" {
		texts := c.summary(end)
		for i, text := range texts {
			opts := []slack.MsgOption{slack.MsgOptionTS(req.MessageTS), slack.MsgOptionText(text, false)}
			if i == len(texts)-1 && end.Final != reset.Done {
				opts = append(opts, slack.MsgOptionBlocks(retryBlocks(req, text)...))
			}
			if _, _, err := c.b.cfg.Slack.PostMessageContext(c.ctx, req.Channel, opts...); err != nil {
				c.b.log.Error("post summary", "request", req.ID, "error", err.Error())
				break
			}
		}
	}
	c.b.updateCard(c.ctx, c.card())
}

// stopped ends the updates of a run cut short.
func (c *cardRun) stopped() {
	if c.stopTicker != nil {
		c.stopTicker()
	}
}

func (c *cardRun) card() card {
	k := card{req: c.req, names: c.names, note: c.note}
	if c.prog != nil {
		k.progress = c.prog.snapshot()
	} else {
		k.outcomes = copyMap(c.outcomes)
	}
	return k
}

// summary is the thread reply: one line per system for one person, counts and failures for
// a batch.
func (c *cardRun) summary(end lifecycle.End) []string {
	if c.prog != nil {
		return batchSummary(c.req, c.prog.snapshot(), end.Final, c.note)
	}
	var ordered []reset.Outcome
	for _, n := range c.names {
		if o, ok := c.outcomes[n]; ok {
			ordered = append(ordered, o)
		}
	}
	return []string{summary(c.req, ordered, end.Final, c.note)}
}
