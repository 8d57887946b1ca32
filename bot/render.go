package bot

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/resetbot/resetbot/internal/reset"
)

// Action ids of the card's buttons; the value of each is only the request id; everything else
// is read from the store when the click arrives.
const (
	actionApprove = "approve"
	actionCancel  = "cancel"
	blockActions  = "request_actions"
	// actionRetry is on the thread summary of a request that ended partial or failed.
	actionRetry = "retry"
	blockRetry  = "summary_actions"
)

// card is everything the request card shows.
type card struct {
	req      reset.Request
	outcomes map[string]reset.Outcome
	// names lists the systems in summary order.
	names []string
	// note is a line shown under the state, e.g. "resumed after interruption".
	note string
	// progress is a running or finished batch's counts so far.
	progress *batchView
}

// render returns the card's fallback text and blocks for its current state.
func (c card) render() (string, []slack.Block) {
	r := c.req
	title, fallback := c.headline()
	fields := []*slack.TextBlockObject{
		field("*Target*\n%s", targetLine(r.Target)),
		field("*Requested by*\n%s", actorLine(r.Requester)),
		field("*Okta status*\n%s", escape(orDash(r.Target.Status))),
		field("*Reason*\n%s", escape(orDash(r.Reason))),
	}
	if r.Batch() {
		fields[0] = field("*People*\n%s", peopleLine(r.Targets))
		fields[2] = field("*Okta status*\n%s", statusCounts(r.Targets))
	}
	blocks := []slack.Block{
		slack.NewHeaderBlock(slack.NewTextBlockObject(slack.PlainTextType, title, false, false)),
		slack.NewSectionBlock(nil, fields, nil),
	}
	switch r.State {
	case reset.Pending:
		if len(r.Approvals) > 0 {
			blocks = append(blocks, slack.NewSectionBlock(md("*Approved by* %s; waiting for one more responder's approval.", actorsLine(r.Approvals)), nil, nil))
		}
		blocks = append(blocks,
			slack.NewSectionBlock(md("*Plan*\n%s", c.planLines()), nil, nil),
			slack.NewContextBlock("", md("Expires %s. Approving signs %s out of every system marked above.", slackDate(r.ExpiresAt), escape(r.Target.String()))),
			slack.NewActionBlock(blockActions,
				slack.NewButtonBlockElement(actionApprove, r.ID, slack.NewTextBlockObject(slack.PlainTextType, "Approve", false, false)).
					WithStyle(slack.StylePrimary).
					WithConfirm(slack.NewConfirmationBlockObject(
						slack.NewTextBlockObject(slack.PlainTextType, confirmTitle(r), false, false),
						md("%s will be signed out of %s now.", escape(confirmWho(r)), confirmSystems(r.Plan)),
						slack.NewTextBlockObject(slack.PlainTextType, "Sign out", false, false),
						slack.NewTextBlockObject(slack.PlainTextType, "Not yet", false, false))),
				slack.NewButtonBlockElement(actionCancel, r.ID, slack.NewTextBlockObject(slack.PlainTextType, "Cancel", false, false)),
			))
	case reset.Cancelled:
		blocks = append(blocks, slack.NewSectionBlock(md(":no_entry_sign: Cancelled by %s. Nothing was reset.", actorLine(r.CancelledBy)), nil, nil))
	case reset.Expired:
		blocks = append(blocks, slack.NewSectionBlock(md(":hourglass: Expired %s without approval. Nothing was reset; ask again if it is still needed.", slackDate(r.ExpiresAt)), nil, nil))
	default: // running or finished
		progress := c.progressLines()
		if r.Batch() {
			progress = c.batchProgressLines()
		}
		blocks = append(blocks,
			slack.NewSectionBlock(md("*Approved by* %s", actorsLine(append(slices.Clone(r.Approvals), r.Approver))), nil, nil),
			slack.NewSectionBlock(md("*Progress*\n%s", progress), nil, nil))
	}
	for _, note := range []string{r.Note, c.note} {
		if note != "" {
			blocks = append(blocks, slack.NewContextBlock("", md("%s", escape(note))))
		}
	}
	blocks = append(blocks, slack.NewContextBlock("", md("Request `%s`", r.ID)))
	return fallback, blocks
}

func confirmTitle(r reset.Request) string {
	if r.Batch() {
		return fmt.Sprintf("Sign %d people out?", len(r.Targets))
	}
	return "Sign this person out?"
}

// confirmWho names who an Approve signs out, in the confirmation dialog.
func confirmWho(r reset.Request) string {
	if r.Batch() {
		return fmt.Sprintf("All %d people", len(r.Targets))
	}
	return r.Target.String()
}

// confirmSystems names the systems an approval signs people out of: every one in the plan but
// those not configured, e.g. "okta, google, zoom, microsoft and slack".
func confirmSystems(plan []reset.PlanEntry) string {
	var names []string
	for _, p := range plan {
		if p.Account != reset.NotConfigured {
			names = append(names, p.Provider)
		}
	}
	switch len(names) {
	case 0:
		return "every configured system"
	case 1:
		return names[0]
	default:
		return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
	}
}

func (c card) headline() (title, fallback string) {
	who := escape(c.req.Target.String())
	if c.req.Batch() {
		return c.batchHeadline(who)
	}
	switch c.req.State {
	case reset.Pending:
		return "Session reset requested", fmt.Sprintf("Session reset requested for %s: waiting for approval", who)
	case reset.Running:
		return "Session reset running", fmt.Sprintf("Signing %s out", who)
	case reset.Cancelled:
		return "Session reset cancelled", fmt.Sprintf("Session reset for %s cancelled", who)
	case reset.Expired:
		return "Session reset expired", fmt.Sprintf("Session reset for %s expired", who)
	default:
		return "Session reset " + string(c.req.State), fmt.Sprintf("Session reset for %s: %s", who, c.req.State)
	}
}

func (c card) batchHeadline(who string) (title, fallback string) {
	switch c.req.State {
	case reset.Pending:
		return "Session reset requested for " + who, fmt.Sprintf("Session reset requested for %s: waiting for approval", who)
	case reset.Running:
		return "Session reset running for " + who, fmt.Sprintf("Signing %s out", who)
	default:
		return fmt.Sprintf("Session reset %s for %s", c.req.State, who), fmt.Sprintf("Session reset for %s: %s", who, c.req.State)
	}
}

func (c card) planLines() string {
	var b strings.Builder
	if c.req.Batch() {
		for _, p := range c.req.Plan {
			fmt.Fprintf(&b, "%s *%s*: %s", planIcon(p.Account), p.Provider, accountCounts(p.Counts))
			if p.Detail != "" && p.Counts[reset.AccountFound] < len(c.req.Targets) {
				fmt.Fprintf(&b, " (%s)", escape(truncate(p.Detail, 150)))
			}
			b.WriteString("\n")
		}
		return strings.TrimSpace(b.String())
	}
	for _, p := range c.req.Plan {
		fmt.Fprintf(&b, "%s *%s*: %s%s", planIcon(p.Account), p.Provider, p.Account, escape(p.Names()))
		if p.Detail != "" && p.Account != reset.AccountFound {
			fmt.Fprintf(&b, " (%s)", escape(truncate(p.Detail, 150)))
		}
		b.WriteString("\n")
	}
	return strings.TrimSpace(b.String())
}

func (c card) progressLines() string {
	var b strings.Builder
	for _, name := range c.names {
		o, ok := c.outcomes[name]
		if !ok {
			fmt.Fprintf(&b, ":hourglass_flowing_sand: *%s*: working…\n", name)
			continue
		}
		fmt.Fprintf(&b, "%s *%s*: %s%s\n", outcomeIcon(o.Status), name, o.Status, escape(o.Names()))
	}
	return strings.TrimSpace(b.String())
}

// batchProgressLines is how far a batch has got: people done, then each system's counts.
func (c card) batchProgressLines() string {
	v := c.progress
	if v == nil {
		return fmt.Sprintf(":hourglass_flowing_sand: starting on %d people…", len(c.req.Targets))
	}
	var b strings.Builder
	icon := ":hourglass_flowing_sand:"
	if v.tally.People >= v.total {
		icon = ":checkered_flag:"
	}
	fmt.Fprintf(&b, "%s %d of %d people done\n", icon, v.tally.People, v.total)
	for _, n := range v.live.Names() {
		fmt.Fprintf(&b, "*%s*: %s\n", n, v.live.Words(n))
	}
	return strings.TrimSpace(b.String())
}

// peopleLine names the first few people of a batch and how many more there are.
func peopleLine(ts []reset.Target) string {
	const shown = 5
	var names []string
	for i, t := range ts {
		if i == shown {
			break
		}
		name := t.DisplayName
		if name == "" {
			name = t.String()
		}
		names = append(names, escape(name))
	}
	line := fmt.Sprintf("%d: %s", len(ts), strings.Join(names, ", "))
	if len(ts) > shown {
		line += fmt.Sprintf(" and %d more", len(ts)-shown)
	}
	return line
}

// statusCounts is a batch's Okta statuses: "38 ACTIVE, 2 SUSPENDED".
func statusCounts(ts []reset.Target) string {
	counts := map[string]int{}
	var order []string
	for _, t := range ts {
		s := orDash(t.Status)
		if counts[s] == 0 {
			order = append(order, s)
		}
		counts[s]++
	}
	parts := make([]string, len(order))
	for i, s := range order {
		parts[i] = fmt.Sprintf("%d %s", counts[s], escape(s))
	}
	return strings.Join(parts, ", ")
}

// accountCounts is one system's plan for a batch: "38 accounts found, 2 no account".
func accountCounts(c map[reset.Account]int) string {
	var parts []string
	for _, a := range []reset.Account{reset.AccountFound, reset.AccountNone, reset.LookupFailed, reset.NotConfigured} {
		if n := c[a]; n > 0 {
			word := string(a)
			if a == reset.AccountFound {
				word = "accounts found"
				if n == 1 {
					word = "account found"
				}
			}
			parts = append(parts, fmt.Sprintf("%d %s", n, word))
		}
	}
	return strings.Join(parts, ", ")
}

// summary is the thread reply at the end: one line per system with its outcome word, the
// system's own detail and the time it took.
func summary(r reset.Request, outcomes []reset.Outcome, final reset.Final, note string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "*Result: %s* for %s", final, escape(r.Target.String()))
	if note != "" {
		fmt.Fprintf(&b, " (%s)", escape(note))
	}
	b.WriteString("\n")
	for _, o := range outcomes {
		fmt.Fprintf(&b, "%s *%s*: %s%s", outcomeIcon(o.Status), o.Provider, o.Status, escape(o.Names()))
		if o.Detail != "" {
			fmt.Fprintf(&b, " — %s", escape(truncate(o.Detail, 400)))
		}
		if o.Status == reset.Failed {
			if o.Retryable {
				b.WriteString(" _(retrying may help)_")
			} else {
				b.WriteString(" _(retrying will not help)_")
			}
		}
		if o.Attempts > 0 {
			fmt.Fprintf(&b, " · %s", reset.Took(o.Duration))
			if o.Attempts > 1 {
				fmt.Fprintf(&b, ", %d attempts", o.Attempts)
			}
		}
		b.WriteString("\n")
	}
	return strings.TrimSpace(b.String())
}

// retryBlocks shows a summary message with the Retry button under it.
func retryBlocks(r reset.Request, text string) []slack.Block {
	return []slack.Block{
		slack.NewSectionBlock(md("%s", text), nil, nil),
		slack.NewActionBlock(blockRetry,
			slack.NewButtonBlockElement(actionRetry, r.ID, slack.NewTextBlockObject(slack.PlainTextType, "Retry failed systems", false, false)).
				WithConfirm(slack.NewConfirmationBlockObject(
					slack.NewTextBlockObject(slack.PlainTextType, "Retry the failed systems?", false, false),
					md("Only the systems that failed are asked again, for the people they failed for."),
					slack.NewTextBlockObject(slack.PlainTextType, "Retry", false, false),
					slack.NewTextBlockObject(slack.PlainTextType, "Not yet", false, false)))),
	}
}

func md(format string, args ...any) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.MarkdownType, truncate(fmt.Sprintf(format, args...), 2900), false, false)
}

// field is a section field: Slack allows 2000 characters there, not 3000.
func field(format string, args ...any) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.MarkdownType, truncate(fmt.Sprintf(format, args...), 1900), false, false)
}

func targetLine(t reset.Target) string {
	if t.DisplayName != "" {
		return fmt.Sprintf("%s\n%s", escape(t.DisplayName), escape(orDash(t.Email)))
	}
	return escape(t.String())
}

// actorsLine names everyone who approved: "<@U1> and <@U2>".
func actorsLine(as []reset.Actor) string {
	lines := make([]string, len(as))
	for i, a := range as {
		lines[i] = actorLine(a)
	}
	return strings.Join(lines, " and ")
}

func actorLine(a reset.Actor) string {
	switch {
	case a.SlackID != "":
		return fmt.Sprintf("<@%s>", a.SlackID)
	default:
		return escape(orDash(a.String()))
	}
}

// slackDate renders a time in each reader's own time zone, with a UTC fallback.
func slackDate(t time.Time) string {
	return fmt.Sprintf("<!date^%d^{date_short_pretty} at {time}|%s>", t.Unix(), t.UTC().Format("2006-01-02 15:04 UTC"))
}

func planIcon(a reset.Account) string {
	switch a {
	case reset.AccountFound:
		return ":large_green_circle:"
	case reset.AccountNone:
		return ":white_circle:"
	case reset.LookupFailed:
		return ":warning:"
	default:
		return ":heavy_minus_sign:"
	}
}

func outcomeIcon(s reset.Status) string {
	switch s {
	case reset.Revoked:
		return ":white_check_mark:"
	case reset.NoAccount:
		return ":white_circle:"
	case reset.Failed:
		return ":x:"
	default:
		return ":heavy_minus_sign:"
	}
}

func orDash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "—"
	}
	return s
}

func truncate(s string, n int) string {
	if len([]rune(s)) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}
