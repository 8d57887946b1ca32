package bot

import (
	"cmp"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/slack-go/slack"

	"github.com/resetbot/resetbot/internal/reset"
	"github.com/resetbot/resetbot/internal/store"
)

// TestCommandAck pins what the ack says and whether work follows; the ack itself calls nobody.
func TestCommandAck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		team       string
		enterprise string
		command    string
		text       string
		want       string
		work       bool
	}{
		{name: "no text is help", text: "", want: "Usage: `/reset-sessions <who>[, <who>…] [reason]`"},
		{name: "help names the command as typed", command: "/reset", text: "help", want: "Usage: `/reset <who>"},
		{name: "text that names nobody", text: "<!channel> now", want: "I can't read `&lt;!channel&gt;` as a person"},
		{name: "a workspace not served", team: "T0ELSEWHERE", text: "alice@example.com", want: "does not serve this workspace"},
		{name: "a workspace of the installing grid org", team: "T0SISTER", enterprise: "E0GRID", text: "alice@example.com", want: "looking the person up", work: true},
		{name: "a workspace allowed by configuration", team: "T0PARTNER", text: "alice@example.com", want: "looking the person up", work: true},
		{name: "one person", text: "alice@example.com phished", want: ":mag: Checking your permissions and looking the person up…", work: true},
		{name: "several people", text: "alice@example.com, bob@example.com phished", want: "looking everyone up…", work: true},
		{name: "a group", text: "group:Finance", want: "looking everyone up…", work: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, func(c *Config) {
				c.Workspace.EnterpriseID = "E0GRID"
				c.AllowedTeams = []string{"T0PARTNER"}
			})
			ack, work := h.bot.onCommand(slack.SlashCommand{TeamID: cmp.Or(tt.team, homeTeam), EnterpriseID: tt.enterprise,
				ChannelID: channel, UserID: "U0RITA", Command: cmp.Or(tt.command, "/reset-sessions"), Text: tt.text})
			if got := ack.(map[string]any); got["response_type"] != "ephemeral" || !strings.Contains(got["text"].(string), tt.want) {
				t.Errorf("ack = %v; want a private one saying %q", got, tt.want)
			}
			if (work != nil) != tt.work {
				t.Errorf("work after the ack: %t; want %t", work != nil, tt.work)
			}
			if n := len(h.sentAll()); n != 0 {
				t.Errorf("%d messages sent before the ack; the ack must come first", n)
			}
		})
	}
}

func TestTargetIsFoundHoweverNamed(t *testing.T) {
	t.Parallel()
	for _, named := range []string{
		"alice@example.com", "<mailto:alice@example.com|alice@example.com>", "<@U0ALICE|alice>", "<@U0ALICE>", "00uALICE",
	} {
		t.Run(named, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			card := h.card("U0RITA", named+" clicked a link")
			contains(t, "card", card.shown(), "*Target*\nAlice Example\nalice@example.com", "*Reason*\nclicked a link", "*Okta status*\nACTIVE", "*Requested by*\n<@U0RITA>")
			if r := h.request(h.requestID(card)); r.Target.OktaID != "00uALICE" || r.Requester.OktaLogin != "rita@example.com" {
				t.Errorf("stored request targets %+v, asked by %+v; want Alice, asked by Rita", r.Target, r.Requester)
			}
		})
	}
}

func TestRefusedRequestsPostNothing(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		user string
		text string
		down error // what Okta answers, when it does not
		// what and code are the refusal on record, want the private answer.
		what, code, want string
	}{
		{name: "a requester outside the groups", user: "U0OSCAR", text: "alice@example.com",
			what: "request", code: "not_requester", want: "not allowed to request session resets: you need to be in one of these Okta groups: Responders"},
		{name: "a requester suspended in okta", user: "U0SUE", text: "alice@example.com",
			what: "request", code: "inactive", want: "Your Okta account is SUSPENDED"},
		{name: "a slack connect stranger", user: "U0STRANGER", text: "alice@example.com",
			what: "request", code: "stranger", want: "through Slack Connect"},
		{name: "okta not answering", user: "U0RITA", text: "alice@example.com", down: errors.New("connection refused"),
			what: "request", code: "okta_error", want: "I could not reach Okta while I was checking your permissions; nothing was changed"},
		{name: "nobody in okta by that name", user: "U0RITA", text: "mallory@example.com",
			what: "target", code: "Nobody in Okta matches", want: "Nobody in Okta matches `mallory@example.com`. Nothing was posted"},
		{name: "a mention with no email in slack", user: "U0RITA", text: "<@U0NOEMAIL>",
			what: "target", code: "I could not find an email", want: "I could not find an email for <@U0NOEMAIL> in Slack"},
		{name: "a mention of a slack connect stranger showing a colleague's email", user: "U0RITA", text: "<@U0STRANGER>",
			what: "target", code: "I cannot vouch", want: "I cannot vouch for the email on <@U0STRANGER>'s Slack profile"},
		{name: "a protected person, refused by policy", user: "U0RITA", text: "victor@example.com",
			what: "request", code: "protected", want: "Victor Vip &lt;victor@example.com&gt; is protected (Okta group Executives)"},
		{name: "a protected person in a batch", user: "U0RITA", text: "alice@example.com, victor@example.com",
			what: "request", code: "protected", want: "is protected (Okta group Executives)"},
		{name: "a batch naming someone okta does not know", user: "U0RITA", text: "alice@example.com, mallory@example.com, group:Nobody",
			what: "targets", code: "not_found", want: "I could not find 2 of the 3 names in Okta: mallory@example.com, group:Nobody. Fix or remove them"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			h.dir.down = tt.down
			h.command(tt.user, tt.text)
			h.heard(tt.user, tt.want)
			h.nothingPosted()
			h.refusedOnRecord(tt.user, tt.what, tt.code)
			h.signedOutOnce()
		})
	}
}

func TestCardSlackRefusesWithdrawsTheRequest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		slackSays string
		want      string
	}{
		{slackSays: "not_in_channel", want: "Invite me with `/invite @resetbot`"},
		{slackSays: "channel_not_found", want: "Invite me with `/invite @resetbot`"},
		{slackSays: "is_archived", want: "This channel is archived"},
		{slackSays: "invalid_blocks <&>", want: "Slack refused the request card (invalid_blocks &lt;&amp;&gt;); nothing was started."},
	}
	for _, tt := range tests {
		t.Run(tt.slackSays, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			h.slack.postErr = errors.New(tt.slackSays)
			h.command("U0RITA", "alice@example.com")
			h.heard("U0RITA", tt.want)
			got := h.stored()
			if len(got) != 1 || got[0].State != reset.Cancelled || got[0].CancelledBy.Name != "resetbot" {
				t.Fatalf("stored requests %+v; want one, cancelled by resetbot", got)
			}
			events := h.events(got[0].ID)
			if kinds(events) != "requested,cancelled" || events[1].Detail != "card could not be posted: "+tt.slackSays {
				t.Errorf("audit = %s %+v; want the request and its withdrawal, saying why", kinds(events), events)
			}
		})
	}
}

func TestBatchCoversEveryoneNamedOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.provider("zoom").answers["bob@example.com"] = reset.PermanentError(403, errors.New("zoom refused bob@example.com"))
	if ack := h.command("U0RITA", "group:Finance, alice@example.com, group:FINANCE phishing wave"); !strings.Contains(ack, "looking everyone up") {
		t.Errorf("ack = %q", ack)
	}
	h.heard("U0RITA", "Found 2 people; checking where they have accounts…")
	cards := h.cards()
	if len(cards) != 1 {
		t.Fatalf("%d cards; want one for the batch", len(cards))
	}
	card := cards[0]
	contains(t, "card", card.shown(), "Session reset requested for 2 people", "*People*\n2: Alice Example, Bob Example",
		"*Okta status*\n2 ACTIVE", "*okta*: 2 accounts found", "Sign 2 people out?", "All 2 people will be signed out")
	id := h.requestID(card)
	if e := h.events(id); len(e) != 1 || e[0].Detail != "named: group:Finance, alice@example.com" {
		t.Errorf("audit = %+v; want the request naming what was typed, repeats once", e)
	}

	// The group is listed; the address named beside it is found in one list, not on its own.
	h.dir.mu.Lock()
	if len(h.dir.many) != 1 || !slices.Equal(h.dir.many[0], []string{"alice@example.com"}) || slices.Contains(h.dir.asked, "alice@example.com") {
		t.Errorf("FindMany got %q, and names were looked up one by one: %q; want alice@example.com in one list", h.dir.many, h.dir.asked)
	}
	h.dir.mu.Unlock()

	h.click("U0SAM", actionApprove, card)
	h.signedOutOnce("alice@example.com", "bob@example.com")
	contains(t, "summary", h.summaryOf(card), "*Result: partial* for 2 people", "*okta*: 2 revoked", "*zoom*: 1 revoked, 1 failed",
		"*Failures (1)*", ":x: *zoom* failed for 1 — zoom refused … _(retrying will not help)_:\n>bob@example.com",
		"resetbot audit --request "+id+" --csv")
	contains(t, "final card", h.now(card).shown(), ":checkered_flag: 2 of 2 people done", "*zoom*: 1 revoked, 1 failed")
	if r := h.request(id); r.State != reset.StatePartial {
		t.Errorf("request is %s; want partial", r.State)
	}
	if got := h.events(id); got[len(got)-1].Kind != store.KindFinished || !strings.HasPrefix(got[len(got)-1].Detail, "partial: okta 2 revoked") {
		t.Errorf("audit ends with %+v; want the batch finished with its counts", got[len(got)-1])
	}
}
