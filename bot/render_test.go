package bot

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	slackfake "github.com/resetbot/resetbot/internal/fake/slack"
	"github.com/resetbot/resetbot/internal/reset"
)

// TestCardsFitSlackLimits posts every state of a worst-case card through slack-go to the fake
// Slack, which refuses what Slack would (text lengths, block counts, duplicate ids).
func TestCardsFitSlackLimits(t *testing.T) {
	t.Parallel()
	fs := slackfake.Start(slackfake.WithChannel("C1", "security"))
	defer fs.Close()
	api := slack.New(fs.BotToken(), slack.OptionAPIURL(fs.APIURL()))
	ctx := context.Background()

	long := strings.Repeat("<&>", 700)
	names := []string{"okta", "google", "zoom", "microsoft"}
	req := reset.Request{
		ID:        strings.Repeat("f", 32),
		Target:    reset.Target{OktaID: "00u1", Login: "a@example.com", Email: "a@example.com", DisplayName: long, Status: "SUSPENDED"},
		Reason:    strings.Repeat("ü<", 250),
		Requester: reset.Actor{SlackID: "U1"},
		Approver:  reset.Actor{SlackID: "U2"},
		ExpiresAt: time.Now().Add(time.Hour),
	}
	for _, n := range names {
		req.Plan = append(req.Plan, reset.PlanEntry{Provider: n, Account: reset.LookupFailed, Detail: long})
	}
	outcomes := map[string]reset.Outcome{}
	for _, n := range names {
		outcomes[n] = reset.Outcome{Provider: n, Status: reset.Failed, Detail: long, Attempts: 5, Duration: time.Second}
	}
	_, ts, err := api.PostMessageContext(ctx, "C1", slack.MsgOptionText("x", false))
	if err != nil {
		t.Fatal(err)
	}
	for _, state := range []reset.State{reset.Pending, reset.Running, reset.StatePartial, reset.Cancelled, reset.Expired} {
		req.State = state
		fallback, blocks := card{req: req, outcomes: outcomes, names: names, note: long}.render()
		if _, _, _, err := api.UpdateMessageContext(ctx, "C1", ts, slack.MsgOptionText(fallback, false), slack.MsgOptionBlocks(blocks...)); err != nil {
			t.Errorf("%s card refused by Slack: %v", state, err)
		}
	}
	var all []reset.Outcome
	for _, n := range names {
		all = append(all, outcomes[n])
	}
	text := summary(req, all, reset.AllFail, long)
	if _, _, err := api.PostMessageContext(ctx, "C1", slack.MsgOptionTS(ts), slack.MsgOptionText(text, false)); err != nil {
		t.Errorf("summary refused by Slack: %v", err)
	}
	for _, m := range fs.Messages() {
		if strings.Contains(m.Text, "<&>") || strings.Contains(string(m.Blocks), `<&>`) || strings.Contains(string(m.Blocks), `\u003c\u0026\u003e`) {
			t.Errorf("user text reached Slack unescaped")
		}
	}
}

// systems are the four systems, in summary order.
func systems() []string { return []string{"okta", "google", "zoom", "microsoft"} }

// waiting is a request for Alice as a card first shows it: every kind of plan line.
func waiting() reset.Request {
	return reset.Request{
		ID:        "req1",
		Target:    reset.Target{OktaID: "00uALICE", Login: "alice@example.com", Email: "alice@example.com", DisplayName: "Alice Example", Status: reset.Active},
		Reason:    "phished",
		Requester: reset.Actor{SlackID: "U0RITA"},
		State:     reset.Pending,
		ExpiresAt: time.Date(2025, 3, 14, 9, 41, 53, 0, time.UTC),
		Plan: []reset.PlanEntry{
			{Provider: "okta", Account: reset.AccountFound},
			{Provider: "google", Account: reset.LookupFailed, Detail: "timeout <x>"},
			{Provider: "zoom", Account: reset.AccountNone},
			{Provider: "microsoft", Account: reset.NotConfigured, Detail: "no credentials"},
		},
	}
}

// waitingBatch is a request for seven people, one suspended, one without okta.
func waitingBatch() reset.Request {
	r := waiting()
	r.Target = reset.Target{DisplayName: "7 people"}
	r.Targets = nil
	for i := range 7 {
		status := reset.Active
		if i == 6 {
			status = "SUSPENDED"
		}
		r.Targets = append(r.Targets, reset.Target{OktaID: fmt.Sprintf("00u%d", i), Email: fmt.Sprintf("p%d@example.com", i), DisplayName: fmt.Sprintf("P%d", i), Status: status})
	}
	r.Plan = []reset.PlanEntry{
		{Provider: "okta", Account: reset.AccountFound, Counts: map[reset.Account]int{reset.AccountFound: 6, reset.AccountNone: 1}},
		{Provider: "google", Account: reset.LookupFailed, Detail: "timeout", Counts: map[reset.Account]int{reset.LookupFailed: 7}},
	}
	return r
}

// doneWith is a batch's progress once its first n people were signed out of every system.
func doneWith(r reset.Request, n int) *batchView {
	p := newProgress(systems(), len(r.Targets))
	for _, t := range r.Targets[:n] {
		var all []reset.Outcome
		for _, s := range systems() {
			o := reset.Outcome{Provider: s, Status: reset.Revoked, Attempts: 1}
			p.heard(o)
			all = append(all, o)
		}
		p.add(t, all)
	}
	return p.snapshot()
}

func TestCardInEachState(t *testing.T) {
	t.Parallel()
	approved := func(r reset.Request, s reset.State) reset.Request {
		r.State, r.Approvals, r.Approver = s, []reset.Actor{{SlackID: "U0SAM"}}, reset.Actor{SlackID: "U0TESS"}
		return r
	}
	cancelled := func(by reset.Actor) reset.Request {
		r := waiting()
		r.State, r.CancelledBy = reset.Cancelled, by
		return r
	}
	expired, halfApproved, noted := waiting(), waiting(), waiting()
	expired.State = reset.Expired
	halfApproved.Approvals = []reset.Actor{{SlackID: "U0SAM"}}
	noted.Note = "Not reset at once: <!here>"
	some := map[string]reset.Outcome{"okta": {Provider: "okta", Status: reset.Revoked}, "zoom": {Provider: "zoom", Status: reset.NoAccount}}
	all := map[string]reset.Outcome{
		"okta": {Provider: "okta", Status: reset.Revoked}, "google": {Provider: "google", Status: reset.Failed},
		"zoom": {Provider: "zoom", Status: reset.NoAccount}, "microsoft": {Provider: "microsoft", Status: reset.Skipped},
	}
	tests := []struct {
		name     string
		card     card
		fallback string
		want     []string
		unwanted []string
		buttons  bool
	}{
		{name: "waiting shows the plan, the expiry and both buttons", card: card{req: waiting()}, buttons: true,
			fallback: "Session reset requested for Alice Example &lt;alice@example.com&gt;: waiting for approval",
			want: []string{"Session reset requested", "*Target*\nAlice Example\nalice@example.com", "*Requested by*\n<@U0RITA>", "*Okta status*\nACTIVE", "*Reason*\nphished",
				"*Plan*\n:large_green_circle: *okta*: account found\n:warning: *google*: lookup failed (timeout &lt;x&gt;)\n:white_circle: *zoom*: no account\n:heavy_minus_sign: *microsoft*: not configured (no credentials)",
				"Expires <!date^1741945313^{date_short_pretty} at {time}|2025-03-14 09:41 UTC>. Approving signs Alice Example &lt;alice@example.com&gt; out",
				"Sign this person out?", "Alice Example &lt;alice@example.com&gt; will be signed out of okta, google and zoom now.", "Request `req1`"},
			unwanted: []string{"Approved by", "out of microsoft"}},
		{name: "waiting with one of two approvals names the first approver", card: card{req: halfApproved}, buttons: true,
			want: []string{"*Approved by* <@U0SAM>; waiting for one more responder's approval.", "*Plan*"}},
		{name: "running shows every approver and each system as it answers", card: card{req: approved(waiting(), reset.Running), names: systems(), outcomes: some},
			fallback: "Signing Alice Example &lt;alice@example.com&gt; out",
			want: []string{"Session reset running", "*Approved by* <@U0SAM> and <@U0TESS>",
				"*Progress*\n:white_check_mark: *okta*: revoked\n:hourglass_flowing_sand: *google*: working…\n:white_circle: *zoom*: no account\n:hourglass_flowing_sand: *microsoft*: working…"},
			unwanted: []string{"*Plan*", "Expires"}},
		{name: "finished shows each system's outcome word", card: card{req: approved(waiting(), reset.StatePartial), names: systems(), outcomes: all},
			fallback: "Session reset for Alice Example &lt;alice@example.com&gt;: partial",
			want:     []string{"Session reset partial", ":white_check_mark: *okta*: revoked\n:x: *google*: failed\n:white_circle: *zoom*: no account\n:heavy_minus_sign: *microsoft*: skipped"}},
		{name: "cancelled names who cancelled", card: card{req: cancelled(reset.Actor{SlackID: "U0RITA", OktaLogin: "rita@example.com"})},
			fallback: "Session reset for Alice Example &lt;alice@example.com&gt; cancelled",
			want:     []string{"Session reset cancelled", ":no_entry_sign: Cancelled by <@U0RITA>. Nothing was reset."}, unwanted: []string{"*Plan*"}},
		{name: "cancelled by resetbot itself", card: card{req: cancelled(reset.Actor{Name: "resetbot"})},
			want: []string{"Cancelled by resetbot. Nothing was reset."}},
		{name: "expired says when and that nothing happened", card: card{req: expired},
			fallback: "Session reset for Alice Example &lt;alice@example.com&gt; expired",
			want: []string{"Session reset expired",
				":hourglass: Expired <!date^1741945313^{date_short_pretty} at {time}|2025-03-14 09:41 UTC> without approval. Nothing was reset; ask again if it is still needed."},
			unwanted: []string{"*Plan*"}},
		{name: "notes show under the state, escaped", card: card{req: noted, note: "resumed after interruption"}, buttons: true,
			want: []string{"Not reset at once: &lt;!here&gt;", "resumed after interruption"}},
		{name: "a waiting batch counts people, statuses and accounts", card: card{req: waitingBatch()}, buttons: true,
			fallback: "Session reset requested for 7 people: waiting for approval",
			want: []string{"Session reset requested for 7 people", "*People*\n7: P0, P1, P2, P3, P4 and 2 more", "*Okta status*\n6 ACTIVE, 1 SUSPENDED",
				":large_green_circle: *okta*: 6 accounts found, 1 no account\n:warning: *google*: 7 lookup failed (timeout)",
				"Sign 7 people out?", "All 7 people will be signed out"}},
		{name: "a batch starting", card: card{req: approved(waitingBatch(), reset.Running), names: systems()},
			want: []string{"Session reset running for 7 people", "*Progress*\n:hourglass_flowing_sand: starting on 7 people…"}},
		{name: "a batch part way", card: card{req: approved(waitingBatch(), reset.Running), names: systems(), progress: doneWith(waitingBatch(), 3)},
			want: []string{"*Progress*\n:hourglass_flowing_sand: 3 of 7 people done\n*okta*: 3 revoked\n*google*: 3 revoked\n*zoom*: 3 revoked\n*microsoft*: 3 revoked"}},
		{name: "a batch finished", card: card{req: approved(waitingBatch(), reset.StateDone), names: systems(), progress: doneWith(waitingBatch(), 7)},
			fallback: "Session reset for 7 people: done",
			want:     []string{"Session reset done for 7 people", "*Approved by* <@U0SAM> and <@U0TESS>", ":checkered_flag: 7 of 7 people done\n*okta*: 7 revoked"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fallback, blocks := renderJSON(t, tt.card)
			if tt.fallback != "" && fallback != tt.fallback {
				t.Errorf("fallback text = %q; want %q", fallback, tt.fallback)
			}
			shown := blockTexts(blocks)
			contains(t, "card", shown, tt.want...)
			lacks(t, "card", shown, tt.unwanted...)
			got := buttons(blocks)
			want := []button{{blockActions, actionApprove, "req1", "Approve"}, {blockActions, actionCancel, "req1", "Cancel"}}
			if !tt.buttons {
				want = nil
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("buttons = %+v; want %+v", got, want)
			}
		})
	}
}

func TestCardEscapesWhatPeopleTyped(t *testing.T) {
	t.Parallel()
	hostile := waiting()
	hostile.Target.DisplayName = "<!channel> Mallory & co"
	hostile.Target.Status = "<b>"
	hostile.Reason = "<script>alert(1)</script> ask <@U0BOSS>"
	hostile.Plan[1].Detail = "<!here>"
	hostile.Requester = reset.Actor{Name: "<!everyone>"}
	hostile.Note = "<https://evil.example|click>"
	for _, state := range []reset.State{reset.Pending, reset.Running, reset.StateFailed, reset.Cancelled, reset.Expired} {
		t.Run(string(state), func(t *testing.T) {
			t.Parallel()
			r := hostile
			r.State = state
			fallback, blocks := renderJSON(t, card{req: r, names: systems()})
			shown := fallback + "\n" + blockTexts(blocks)
			contains(t, "card", shown, "&lt;!channel&gt; Mallory &amp; co", "&lt;script&gt;alert(1)&lt;/script&gt; ask &lt;@U0BOSS&gt;", "&lt;b&gt;")
			lacks(t, "card", shown, "<!channel>", "<script>", "<@U0BOSS>", "<!here>", "<!everyone>", "<https://evil", "<b>")
		})
	}
}

func TestSummaryLinePerOutcome(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		outcome reset.Outcome
		want    string
	}{
		{name: "revoked at the first attempt", outcome: reset.Outcome{Provider: "okta", Status: reset.Revoked, Attempts: 1, Duration: 120 * time.Millisecond},
			want: ":white_check_mark: *okta*: revoked · 120ms"},
		{name: "revoked after retries", outcome: reset.Outcome{Provider: "okta", Status: reset.Revoked, Attempts: 3, Duration: 1500 * time.Millisecond},
			want: ":white_check_mark: *okta*: revoked · 1.5s, 3 attempts"},
		{name: "no account", outcome: reset.Outcome{Provider: "zoom", Status: reset.NoAccount, Attempts: 1, Duration: 300 * time.Microsecond},
			want: ":white_circle: *zoom*: no account · <1ms"},
		{name: "failed where retrying may help", outcome: reset.Outcome{Provider: "google", Status: reset.Failed, Detail: "503 service unavailable", Retryable: true, Attempts: 5, Duration: 10 * time.Second},
			want: ":x: *google*: failed — 503 service unavailable _(retrying may help)_ · 10s, 5 attempts"},
		{name: "failed where retrying will not help, in the system's escaped words", outcome: reset.Outcome{Provider: "microsoft", Status: reset.Failed, Detail: "403 <Forbidden> & denied", Attempts: 1, Duration: 80 * time.Millisecond},
			want: ":x: *microsoft*: failed — 403 &lt;Forbidden&gt; &amp; denied _(retrying will not help)_ · 80ms"},
		{name: "skipped, saying why", outcome: reset.Outcome{Provider: "microsoft", Status: reset.Skipped, Detail: "not configured"},
			want: ":heavy_minus_sign: *microsoft*: skipped — not configured"},
		{name: "a long error cut at 400 characters", outcome: reset.Outcome{Provider: "zoom", Status: reset.Failed, Detail: strings.Repeat("é", 1000)},
			want: ":x: *zoom*: failed — " + strings.Repeat("é", 399) + "… _(retrying will not help)_"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			final := reset.Summarize([]reset.Outcome{tt.outcome})
			got := summary(waiting(), []reset.Outcome{tt.outcome}, final, "")
			want := fmt.Sprintf("*Result: %s* for Alice Example &lt;alice@example.com&gt;\n%s", final, tt.want)
			if got != want {
				t.Errorf("summary =\n%s\nwant\n%s", got, want)
			}
		})
	}
}

func TestSummaryNamesWhyItRan(t *testing.T) {
	t.Parallel()
	got := summary(waiting(), nil, reset.Done, "resumed after <interruption>")
	if want := "*Result: done* for Alice Example &lt;alice@example.com&gt; (resumed after &lt;interruption&gt;)"; got != want {
		t.Errorf("summary = %q; want %q", got, want)
	}
}

func TestBatchSummaryGroupsFailuresBySystemAndError(t *testing.T) {
	t.Parallel()
	p := newProgress([]string{"okta", "zoom"}, 3)
	person := func(name string) reset.Target {
		return reset.Target{OktaID: "00u" + name, Login: name + "@example.com", Email: name + "@example.com"}
	}
	limited := func(t reset.Target) reset.Outcome {
		return reset.Outcome{Provider: "zoom", Status: reset.Failed, Retryable: true, Detail: "rate limited asking for " + t.Email}
	}
	revoked := reset.Outcome{Provider: "okta", Status: reset.Revoked}
	b, a, c := person("b"), person("a"), person("c")
	p.add(b, []reset.Outcome{revoked, limited(b)})
	p.add(a, []reset.Outcome{revoked, limited(a)})
	p.add(c, []reset.Outcome{{Provider: "okta", Status: reset.Failed, Detail: "403 forbidden"}, {Provider: "zoom", Status: reset.NoAccount}})
	got := batchSummary(waitingBatch(), p.snapshot(), reset.Partial, "")
	want := strings.Join([]string{
		"*Result: partial* for 3 people",
		":x: *okta*: 2 revoked, 1 failed",
		":x: *zoom*: 1 no account, 2 failed",
		"*Failures (3)*",
		":x: *zoom* failed for 2 — rate limited asking for … _(retrying may help)_:",
		">a@example.com, b@example.com",
		":x: *okta* failed for 1 — 403 forbidden _(retrying will not help)_:",
		">c@example.com",
		"Every person's outcome, as a spreadsheet: `resetbot audit --request req1 --csv > outcomes.csv`",
	}, "\n")
	if len(got) != 1 || got[0] != want {
		t.Errorf("batch summary =\n%s\nwant\n%s", strings.Join(got, "\n----\n"), want)
	}
}

func TestBatchSummaryOfManyFailuresComesInChunks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// detail is the error for person i.
		detail func(i int) string
	}{
		{name: "one error for everyone", detail: func(int) string { return "503 service unavailable" }},
		{name: "an error each", detail: func(i int) string { return fmt.Sprintf("error number %d from a system that says a great deal", i) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			const people = 600
			p := newProgress([]string{"zoom"}, people)
			for i := range people {
				who := reset.Target{OktaID: fmt.Sprintf("00u%04d", i), Email: fmt.Sprintf("person-%04d@a-rather-long-example-domain.com", i)}
				p.add(who, []reset.Outcome{{Provider: "zoom", Status: reset.Failed, Detail: tt.detail(i)}})
			}
			msgs := batchSummary(waitingBatch(), p.snapshot(), reset.AllFail, "")
			if len(msgs) < 2 {
				t.Fatalf("%d messages; want the list spread over several", len(msgs))
			}
			named := map[string]int{}
			for i, m := range msgs {
				if n := len([]rune(m)); n > summaryChunk {
					t.Errorf("message %d is %d characters; want at most %d", i, n, summaryChunk)
				}
				for _, line := range strings.Split(m, "\n") {
					if strings.HasPrefix(line, ">") {
						for _, name := range strings.Split(line[1:], ", ") {
							named[name]++
						}
					}
				}
			}
			contains(t, "first message", msgs[0], "*Result: failed* for 600 people\n:x: *zoom*: 600 failed\n*Failures (600)*")
			contains(t, "last message", msgs[len(msgs)-1], "resetbot audit --request req1 --csv")
			if len(named) != people {
				t.Errorf("%d people named in the failure lists; want all %d", len(named), people)
			}
			for name, n := range named {
				if n != 1 {
					t.Errorf("%s named %d times; want once", name, n)
				}
			}
		})
	}
}
