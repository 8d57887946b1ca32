package bot

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/slack-go/slack"

	"github.com/resetbot/resetbot/internal/directory"
	"github.com/resetbot/resetbot/internal/reset"
	"github.com/resetbot/resetbot/internal/store"
)

// maxPeople bounds one batch, groups expanded: beyond it the command line (`reset --file`)
// is the better tool, and a card must stay approvable at a glance.
const maxPeople = 1000

// requestBatch is request for several people or a group: everyone is found in Okta and
// their accounts counted before the one card is posted. Anyone who cannot be found stops the
// whole request, privately and before anything is posted: a responder fixes the list rather
// than approving a batch that silently misses someone.
func (b *Bot) requestBatch(ctx context.Context, cmd slack.SlashCommand, parsed command, requester reset.Actor, reply func(context.Context, string)) {
	named := make([]string, len(parsed.people))
	for i, w := range parsed.people {
		named[i] = w.display()
	}
	refuse := func(code, msg string) {
		b.audit(ctx, store.Event{Kind: store.KindRefused, Actor: requester, Target: truncate(strings.Join(named, ", "), 500), Reason: parsed.reason, Detail: "targets: " + code})
		b.log.Info("batch refused", "audit", "refused", "code", code, "requester", requester.String())
		reply(ctx, msg)
	}
	targets, missing, err := b.resolveAll(ctx, parsed.people)
	switch {
	case err != nil:
		b.log.Error("okta lookup of batch", "error", err.Error())
		refuse("okta_error", b.oktaFailed(err, "looking everyone up"))
		return
	case len(missing) > 0:
		refuse("not_found", fmt.Sprintf("I could not find %d of the %d names in Okta: %s. Fix or remove them and ask again; nothing was posted.",
			len(missing), len(parsed.people), escape(truncate(strings.Join(missing, ", "), 1500))))
		return
	case len(targets) == 0:
		refuse("empty", "Those groups have nobody in them; nothing was posted.")
		return
	case len(targets) > maxPeople:
		refuse("too_many", fmt.Sprintf("That is %d people; one request takes at most %d. Split it, or run `resetbot reset --file` from the command line.", len(targets), maxPeople))
		return
	}

	now := b.now()
	req := reset.Request{
		ID:        newID(),
		Target:    reset.Target{DisplayName: fmt.Sprintf("%d people", len(targets))},
		Targets:   targets,
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
	reply(ctx, fmt.Sprintf(":mag: Found %d people; checking where they have accounts…", len(targets)))
	req.Plan = b.planAll(ctx, targets)
	if err := b.cfg.Store.Create(ctx, req); err != nil {
		b.log.Error("store batch request", "error", err.Error())
		reply(ctx, "I could not save the request, so nothing was started. Try again; if it keeps failing, tell whoever runs resetbot.")
		return
	}
	b.audit(ctx, store.Event{RequestID: req.ID, Kind: store.KindRequested, Actor: requester, Target: req.Target.String(), Reason: req.Reason,
		Detail: truncate("named: "+strings.Join(named, ", "), 2000)})
	b.log.Info("batch request created", "audit", "requested", "request", req.ID, "requester", requester.String(), "people", len(targets))
	b.postCard(ctx, req, reply)
}

// resolveAll finds everyone named, groups expanded, without repeats. Plain names (addresses,
// logins, Okta ids) are found together, one Okta request per page of names (FindMany);
// mentions go through Slack first and groups are listed, a few at a time. missing lists the
// names Okta does not know, or knows as several people; err is set when Okta could not be
// asked at all.
func (b *Bot) resolveAll(ctx context.Context, people []who) (targets []reset.Target, missing []string, err error) {
	found := make([][]reset.Target, len(people))
	errs := make([]error, len(people))
	var plain []string
	for _, w := range people {
		if w.group == "" && w.slackUser == "" {
			plain = append(plain, w.display())
		}
	}
	var (
		named   map[string]reset.Target
		unnamed map[string]error
		manyErr error
	)
	var wg sync.WaitGroup
	if len(plain) > 0 {
		wg.Go(func() { named, unnamed, manyErr = b.cfg.Directory.FindMany(ctx, plain) })
	}
	slots := make(chan struct{}, 8)
	for i, w := range people {
		if w.group == "" && w.slackUser == "" {
			continue
		}
		wg.Go(func() {
			slots <- struct{}{}
			defer func() { <-slots }()
			if w.group != "" {
				found[i], errs[i] = b.cfg.Directory.GroupMembers(ctx, w.group, maxPeople)
				return
			}
			t, err := b.lookup(ctx, w)
			found[i], errs[i] = []reset.Target{t}, err
		})
	}
	wg.Wait()
	if manyErr != nil {
		return nil, nil, manyErr
	}
	for i, w := range people {
		if w.group == "" && w.slackUser == "" {
			if t, ok := named[w.display()]; ok {
				found[i] = []reset.Target{t}
			} else {
				errs[i] = unnamed[w.display()]
			}
		}
	}
	seen := map[string]bool{}
	for i, w := range people {
		switch {
		case errs[i] == nil:
		case isNotFound(errs[i]):
			missing = append(missing, w.display())
			continue
		case errors.Is(errs[i], directory.ErrAmbiguous):
			missing = append(missing, w.display()+" (several Okta users have that email: use their login)")
			continue
		default:
			return nil, nil, errs[i]
		}
		for _, t := range found[i] {
			if !seen[t.Key()] {
				seen[t.Key()] = true
				targets = append(targets, t)
			}
		}
	}
	return targets, missing, nil
}

// planAll asks where each person has accounts, a few people at a time; the executor's limiter
// keeps the lookups under each system's rate limit.
func (b *Bot) planAll(ctx context.Context, targets []reset.Target) []reset.PlanEntry {
	plans := make([][]reset.PlanEntry, len(targets))
	var wg sync.WaitGroup
	slots := make(chan struct{}, b.cfg.BatchWorkers)
	for i, t := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			slots <- struct{}{}
			defer func() { <-slots }()
			plans[i] = b.plan(ctx, t)
		}()
	}
	wg.Wait()
	return reset.MergePlans(plans)
}

// progress collects a batch's results as they arrive; it is shared by the workers and the
// card updater, so every access holds mu. live counts every system's answers as they come,
// for the card; tally counts people once all their systems answered, for the summary.
type progress struct {
	mu       sync.Mutex
	names    []string
	total    int
	live     *reset.Tally
	tally    *reset.Tally
	failures []failure
	all      []reset.Outcome
	// changes counts every answer and person added, so the card is updated only when there is
	// something new to show.
	changes int
}

// failure is one system's failure for one person, as the summary lists it; detail is the
// system's words with the person's own names taken out, so the same error for many people
// reads as one.
type failure struct {
	who     string
	detail  string
	outcome reset.Outcome
}

// impersonal takes t's identifiers out of a provider's error text.
func impersonal(detail string, t reset.Target) string {
	for _, id := range []string{t.Email, t.Login, t.OktaID} {
		if id != "" {
			detail = strings.ReplaceAll(detail, id, "…")
		}
	}
	return detail
}

func newProgress(names []string, total int) *progress {
	return &progress{names: names, total: total, tally: reset.NewTally(names), live: reset.NewTally(names)}
}

// heard counts one system's answer for the card.
func (p *progress) heard(o reset.Outcome) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.live.AddOne(o)
	p.changes++
}

func (p *progress) add(t reset.Target, outcomes []reset.Outcome) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.tally.Add(outcomes)
	p.changes++
	p.all = append(p.all, outcomes...)
	for _, o := range outcomes {
		if o.Status == reset.Failed {
			p.failures = append(p.failures, failure{who: shortName(t), detail: impersonal(o.Detail, t), outcome: o})
		}
	}
}

func (p *progress) version() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.changes
}

// batchView is a copy of the progress at one moment, for rendering.
type batchView struct {
	total    int
	live     *reset.Tally
	tally    *reset.Tally
	failures []failure
	all      []reset.Outcome
}

func (p *progress) snapshot() *batchView {
	p.mu.Lock()
	defer p.mu.Unlock()
	return &batchView{total: p.total, live: p.live.Clone(), tally: p.tally.Clone(), failures: slices.Clone(p.failures), all: slices.Clone(p.all)}
}

// summaryChunk keeps each thread message under the 3000 characters of a section block (the
// last one carries the Retry button) and readable on a phone.
const summaryChunk = 2900

// batchSummary is the thread reply for a batch: the result, counts per system, then every
// failure grouped by system and error, each person named. A long failure list goes on in
// further messages; where to find every person's outcome closes it.
func batchSummary(r reset.Request, v *batchView, final reset.Final, note string) []string {
	var head strings.Builder
	fmt.Fprintf(&head, "*Result: %s* for %d people", final, v.tally.People)
	if note != "" {
		fmt.Fprintf(&head, " (%s)", escape(note))
	}
	head.WriteString("\n")
	for _, n := range v.tally.Names() {
		icon := outcomeIcon(reset.Revoked)
		if v.tally.Count(n, reset.Failed) > 0 {
			icon = outcomeIcon(reset.Failed)
		} else if v.tally.Count(n, reset.Revoked) == 0 {
			icon = outcomeIcon(reset.Skipped)
		}
		fmt.Fprintf(&head, "%s *%s*: %s\n", icon, n, v.tally.Words(n))
	}
	lines := []string{strings.TrimSpace(head.String())}
	if len(v.failures) > 0 {
		lines = append(lines, fmt.Sprintf("*Failures (%d)*", len(v.failures)))
		lines = append(lines, failureLines(v.failures)...)
	}
	lines = append(lines, fmt.Sprintf("Every person's outcome, as a spreadsheet: `resetbot audit --request %s --csv > outcomes.csv`", r.ID))
	return chunk(lines, summaryChunk)
}

// failureLines groups failures by system and error text, so one broken system reads as one
// line listing whom it failed for, not hundreds of identical lines.
func failureLines(fs []failure) []string {
	type key struct{ provider, detail string }
	var order []key
	who := map[key][]string{}
	retry := map[key]bool{}
	for _, f := range fs {
		k := key{f.outcome.Provider, f.detail}
		if _, ok := who[k]; !ok {
			order = append(order, k)
		}
		who[k] = append(who[k], f.who)
		retry[k] = f.outcome.Retryable
	}
	var lines []string
	for _, k := range order {
		hint := "retrying will not help"
		if retry[k] {
			hint = "retrying may help"
		}
		people := who[k]
		slices.Sort(people)
		lines = append(lines, fmt.Sprintf(":x: *%s* failed for %d — %s _(%s)_:", k.provider, len(people), escape(truncate(orDash(k.detail), 300)), hint))
		lines = append(lines, nameLines(people, 1000)...)
	}
	return lines
}

// shortName is how a failure list names a person: their address, which is what a responder
// searches for next.
func shortName(t reset.Target) string {
	if t.Email != "" {
		return t.Email
	}
	return t.String()
}

// nameLines lists names comma separated, in lines of at most about size characters, so a
// long list is never cut by the summary's message limit.
func nameLines(names []string, size int) []string {
	var lines []string
	var cur strings.Builder
	for _, n := range names {
		n = escape(n)
		if cur.Len() > 0 && cur.Len()+2+len(n) > size {
			lines = append(lines, ">"+cur.String())
			cur.Reset()
		}
		if cur.Len() > 0 {
			cur.WriteString(", ")
		}
		cur.WriteString(n)
	}
	if cur.Len() > 0 {
		lines = append(lines, ">"+cur.String())
	}
	return lines
}

// chunk joins lines into messages of at most size characters, never splitting a line.
func chunk(lines []string, size int) []string {
	var out []string
	var cur strings.Builder
	for _, l := range lines {
		l = truncate(l, size)
		if cur.Len() > 0 && cur.Len()+1+len(l) > size {
			out = append(out, cur.String())
			cur.Reset()
		}
		if cur.Len() > 0 {
			cur.WriteString("\n")
		}
		cur.WriteString(l)
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out
}
