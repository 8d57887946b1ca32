package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"

	"github.com/resetbot/resetbot/internal/reset"
	"github.com/resetbot/resetbot/internal/store"
)

// The unit tests drive the bot's own entry points (onCommand, onInteraction, Submit, sweep)
// against narrow in-memory fakes of Slack, Okta and the providers, with the real SQLite store
// and the real executor, and assert on what people would see: private answers, the card, the
// thread, who was signed out, the request in the store and the audit log.

const (
	homeTeam = "T0HOME"
	channel  = "C0SEC"
)

// The Okta groups of the test world; functions, so no test can change another's.
func responders() reset.Group {
	return reset.Group{ID: "00gRESP", Name: "Responders", Type: "OKTA_GROUP"}
}
func executives() reset.Group {
	return reset.Group{ID: "00gVIP", Name: "Executives", Type: "OKTA_GROUP"}
}
func finance() reset.Group { return reset.Group{ID: "00gFIN", Name: "Finance", Type: "OKTA_GROUP"} }

// person is one member of the test world, in Okta and, with a SlackID, in Slack.
type person struct {
	slackID string
	target  reset.Target
	groups  []reset.Group
}

// world is everyone the tests know: responders (Rita asks, Sam and Tess approve, Sue is
// suspended), Oscar who is no responder, the people signed out (Alice and Bob in Finance, Sid
// suspended, Victor protected).
func world() []person {
	p := func(slackID, name, status string, groups ...reset.Group) person {
		first := strings.ToLower(strings.Fields(name)[0])
		return person{slackID: slackID, groups: groups, target: reset.Target{
			OktaID: "00u" + strings.ToUpper(first), Login: first + "@example.com", Email: first + "@example.com",
			DisplayName: name, Status: status,
		}}
	}
	return []person{
		p("U0RITA", "Rita Requester", reset.Active, responders()),
		p("U0SAM", "Sam Approver", reset.Active, responders()),
		p("U0TESS", "Tess Third", reset.Active, responders()),
		p("U0SUE", "Sue Suspended", "SUSPENDED", responders()),
		p("U0OSCAR", "Oscar Outsider", reset.Active),
		p("U0ALICE", "Alice Example", reset.Active, finance()),
		p("", "Bob Example", reset.Active, finance()),
		p("", "Sid Suspended", "SUSPENDED"),
		p("", "Victor Vip", reset.Active, executives()),
	}
}

// slackUsers are the Slack accounts of the world, and accounts whose Slack identity is no
// proof of who they are, each claiming Sam's address.
func slackUsers(people []person) map[string]slack.User {
	users := map[string]slack.User{}
	for _, p := range people {
		if p.slackID != "" {
			users[p.slackID] = slackUser(p.slackID, homeTeam, p.target.Email)
		}
	}
	odd := func(id, team string, edit func(*slack.User)) {
		u := slackUser(id, team, "sam@example.com")
		edit(&u)
		users[id] = u
	}
	odd("U0FOREIGN", "T0OTHER", func(*slack.User) {})
	odd("U0STRANGER", homeTeam, func(u *slack.User) { u.IsStranger = true })
	odd("U0UNCONFIRMED", homeTeam, func(u *slack.User) { u.IsEmailConfirmed = false })
	odd("U0GUEST", homeTeam, func(u *slack.User) { u.IsRestricted = true })
	odd("U0BOT", homeTeam, func(u *slack.User) { u.IsBot = true })
	odd("U0GONE", homeTeam, func(u *slack.User) { u.Deleted = true })
	odd("U0NOEMAIL", homeTeam, func(u *slack.User) { u.Profile.Email = "" })
	odd("U0GHOST", homeTeam, func(u *slack.User) { u.Profile.Email = "ghost@example.com" })
	return users
}

func slackUser(id, team, email string) slack.User {
	return slack.User{ID: id, TeamID: team, Name: strings.ToLower(strings.TrimPrefix(id, "U0")), IsEmailConfirmed: true,
		Profile: slack.UserProfile{Email: email}}
}

// sent is one message the bot sent to Slack, as Slack would have received it.
type sent struct {
	kind     string // "post", "update" or "ephemeral"
	channel  string
	ts       string // the message's own ts (posts and updates)
	threadTS string
	user     string // who an ephemeral message is for
	text     string
	blocks   string // the blocks as JSON
}

// shown is everything a reader of the message sees: its text, or every text of its blocks.
func (m sent) shown() string {
	if m.blocks == "" {
		return m.text
	}
	return blockTexts(m.blocks)
}

// fakeSlack is the Web API the bot calls, in memory.
type fakeSlack struct {
	mu      sync.Mutex
	users   map[string]slack.User
	msgs    []sent
	serial  int
	postErr error
}

func (f *fakeSlack) record(kind, channel, ts, user string, options []slack.MsgOption) error {
	v, err := wire(channel, options)
	if err != nil {
		return err
	}
	f.msgs = append(f.msgs, sent{kind: kind, channel: channel, ts: ts, threadTS: v.Get("thread_ts"), user: user,
		text: v.Get("text"), blocks: v.Get("blocks")})
	return nil
}

// wire is the form slack-go sends to chat.postMessage for options, built by slack-go itself
// and caught before it leaves the process (slack.UnsafeApplyMsgOptions leaves out blocks).
func wire(channel string, options []slack.MsgOption) (url.Values, error) {
	var form url.Values
	catch := doer(func(r *http.Request) (*http.Response, error) {
		if err := r.ParseForm(); err != nil {
			return nil, err
		}
		form = r.PostForm
		return &http.Response{StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}},
			Body: io.NopCloser(strings.NewReader(`{"ok":true,"channel":"C0","ts":"1.0"}`))}, nil
	})
	api := slack.New("xoxb-test", slack.OptionAPIURL("https://slack.test/api/"), slack.OptionHTTPClient(catch))
	if _, _, err := api.PostMessage(channel, options...); err != nil {
		return nil, err
	}
	return form, nil
}

// doer is an HTTP client that never leaves the process.
type doer func(*http.Request) (*http.Response, error)

func (d doer) Do(r *http.Request) (*http.Response, error) { return d(r) }

func (f *fakeSlack) PostMessageContext(_ context.Context, channel string, options ...slack.MsgOption) (string, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.postErr != nil {
		return "", "", f.postErr
	}
	f.serial++
	ts := fmt.Sprintf("1700000000.%06d", f.serial)
	return channel, ts, f.record("post", channel, ts, "", options)
}

func (f *fakeSlack) UpdateMessageContext(_ context.Context, channel, ts string, options ...slack.MsgOption) (string, string, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return channel, ts, "", f.record("update", channel, ts, "", options)
}

func (f *fakeSlack) PostEphemeralContext(_ context.Context, channel, user string, options ...slack.MsgOption) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return "", f.record("ephemeral", channel, "", user, options)
}

func (f *fakeSlack) GetUserInfoContext(_ context.Context, user string, _ ...slack.GetUserInfoOption) (*slack.User, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	u, ok := f.users[user]
	if !ok {
		return nil, errors.New("user_not_found")
	}
	return &u, nil
}

// sentWhere returns the messages that match keep, in the order they were sent.
func (f *fakeSlack) sentWhere(keep func(sent) bool) []sent {
	f.mu.Lock()
	defer f.mu.Unlock()
	var got []sent
	for _, m := range f.msgs {
		if keep(m) {
			got = append(got, m)
		}
	}
	return got
}

// fakeDirectory is Okta as the bot asks it; down, when set, is every answer. asked records
// every name looked up on its own (Find, FindByEmail), many every list given to FindMany.
type fakeDirectory struct {
	mu     sync.Mutex
	people []person
	down   error
	asked  []string
	many   [][]string
}

func (d *fakeDirectory) Find(_ context.Context, who string) (reset.Target, error) {
	d.ask(who)
	return d.first(finds(who), who)
}

// finds is how Find matches a person: Okta id, login or email.
func finds(who string) func(reset.Target) bool {
	return func(t reset.Target) bool {
		return t.OktaID == who || strings.EqualFold(t.Login, who) || strings.EqualFold(t.Email, who)
	}
}

func (d *fakeDirectory) FindByEmail(_ context.Context, email string) (reset.Target, error) {
	d.ask(email)
	return d.first(func(t reset.Target) bool { return strings.EqualFold(t.Email, email) }, email)
}

func (d *fakeDirectory) FindMany(_ context.Context, names []string) (map[string]reset.Target, map[string]error, error) {
	d.mu.Lock()
	d.many = append(d.many, slices.Clone(names))
	d.mu.Unlock()
	found, missing := map[string]reset.Target{}, map[string]error{}
	for _, n := range names {
		t, err := d.first(finds(n), n)
		switch {
		case err == nil:
			found[n] = t
		case errors.Is(err, errNotFound):
			missing[n] = err
		default:
			return nil, nil, err
		}
	}
	return found, missing, nil
}

func (d *fakeDirectory) ask(who string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.asked = append(d.asked, who)
}

func (d *fakeDirectory) first(match func(reset.Target) bool, who string) (reset.Target, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.down != nil {
		return reset.Target{}, d.down
	}
	for _, p := range d.people {
		if match(p.target) {
			return p.target, nil
		}
	}
	return reset.Target{}, fmt.Errorf("find %q: %w", who, errNotFound)
}

func (d *fakeDirectory) Groups(_ context.Context, oktaUserID string) ([]reset.Group, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.down != nil {
		return nil, d.down
	}
	for _, p := range d.people {
		if p.target.OktaID == oktaUserID {
			return slices.Clone(p.groups), nil
		}
	}
	return nil, fmt.Errorf("groups of %s: %w", oktaUserID, errNotFound)
}

func (d *fakeDirectory) GroupMembers(_ context.Context, group string, limit int) ([]reset.Target, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.down != nil {
		return nil, d.down
	}
	var members []reset.Target
	known := false
	for _, p := range d.people {
		for _, g := range p.groups {
			if g.ID == group || g.Name == group {
				known = true
				members = append(members, p.target)
			}
		}
	}
	for _, g := range []reset.Group{responders(), executives(), finance()} {
		known = known || g.ID == group || g.Name == group
	}
	if !known {
		return nil, fmt.Errorf("members of %s: %w", group, errNotFound)
	}
	if limit > 0 && len(members) > limit {
		members = members[:limit+1]
	}
	return members, nil
}

// fakeProvider is one system; answers maps an email to what Revoke says (a NotFound answer
// is also what Lookup says). It records every Revoke.
type fakeProvider struct {
	name    string
	mu      sync.Mutex
	answers map[string]error
	revokes []string
}

func (p *fakeProvider) Name() string { return p.name }

func (p *fakeProvider) Lookup(_ context.Context, t reset.Target) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.answers[t.Email]; errors.Is(err, reset.ErrNoAccount) {
		return err
	}
	return nil
}

func (p *fakeProvider) Revoke(_ context.Context, t reset.Target) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.revokes = append(p.revokes, t.Email)
	return p.answers[t.Email]
}

// testClock is a clock the test moves.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// harness is one bot in its own world of fakes.
type harness struct {
	t         *testing.T
	ctx       context.Context
	bot       *Bot
	slack     *fakeSlack
	dir       *fakeDirectory
	store     *store.Store
	clock     *testClock
	providers []*fakeProvider
}

const ttl = 15 * time.Minute

// newHarness builds a bot whose policy lets Responders request and approve, with peer
// approval and Executives protected (refused unless edit says otherwise).
func newHarness(t *testing.T, edit ...func(*Config)) *harness {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "resetbot.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	people := world()
	h := &harness{
		t: t, ctx: ctx, store: db,
		slack: &fakeSlack{users: slackUsers(people)},
		dir:   &fakeDirectory{people: people},
		clock: &testClock{now: time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)},
	}
	var providers []reset.Provider
	for _, name := range []string{"okta", "google", "zoom", "microsoft"} {
		p := &fakeProvider{name: name, answers: map[string]error{}}
		h.providers = append(h.providers, p)
		providers = append(providers, p)
	}
	cfg := Config{
		Slack:     h.slack,
		Socket:    socketmode.New(slack.New("xoxb-test", slack.OptionAppLevelToken("xapp-test"))),
		Directory: h.dir,
		Store:     db,
		Executor:  reset.NewExecutor(providers, reset.WithRetry(reset.RetryPolicy{MaxAttempts: 1})),
		Policy: reset.Policy{
			Requesters:          []reset.Group{responders()},
			Protected:           []reset.Group{executives()},
			RequirePeerApproval: true,
		},
		TTL:       ttl,
		Workspace: Workspace{TeamID: homeTeam},
		Replica:   "replica-test",
		Lease:     time.Minute,
		Now:       h.clock.Now,
	}
	for _, e := range edit {
		e(&cfg)
	}
	h.bot, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// provider is the system with this name.
func (h *harness) provider(name string) *fakeProvider {
	h.t.Helper()
	for _, p := range h.providers {
		if p.name == name {
			return p
		}
	}
	h.t.Fatalf("no provider %s", name)
	return nil
}

// command is user typing /reset-sessions text in the channel: it returns what the ack shows
// them, and runs the work that follows the ack.
func (h *harness) command(user, text string) string {
	h.t.Helper()
	ack, work := h.bot.onCommand(slack.SlashCommand{TeamID: homeTeam, ChannelID: channel, UserID: user,
		Command: "/reset-sessions", Text: text})
	if work != nil {
		work(h.ctx)
	}
	payload, _ := ack.(map[string]any)
	if payload["response_type"] != "ephemeral" {
		h.t.Errorf("ack %v is not private", ack)
	}
	text, _ = payload["text"].(string)
	return text
}

// card is user asking for text; it returns the card posted for it.
func (h *harness) card(user, text string) sent {
	h.t.Helper()
	before := len(h.cards())
	h.command(user, text)
	cards := h.cards()
	if len(cards) != before+1 {
		h.t.Fatalf("%q posted %d cards; want one. Private answers: %q", text, len(cards)-before, h.private(user))
	}
	return cards[len(cards)-1]
}

// cards are the messages posted in the channel outside any thread.
func (h *harness) cards() []sent {
	return h.slack.sentWhere(func(m sent) bool { return m.kind == "post" && m.threadTS == "" })
}

// requestID is the request a card's Approve button names.
func (h *harness) requestID(card sent) string {
	h.t.Helper()
	for _, b := range buttons(card.blocks) {
		if b.actionID == actionApprove {
			return b.value
		}
	}
	h.t.Fatalf("card has no Approve button: %s", card.blocks)
	return ""
}

// click is user clicking a card's button, as Slack sends it; edit changes the payload.
func (h *harness) click(user, action string, card sent, edit ...func(*slack.InteractionCallback)) {
	h.t.Helper()
	u := h.slack.users[user]
	cb := slack.InteractionCallback{
		Type:      slack.InteractionTypeBlockActions,
		Team:      slack.Team{ID: homeTeam},
		User:      slack.User{ID: user, TeamID: u.TeamID, Name: u.Name},
		Channel:   slack.Channel{GroupConversation: slack.GroupConversation{Conversation: slack.Conversation{ID: card.channel}}},
		Container: slack.Container{Type: "message", MessageTs: card.ts, ChannelID: card.channel},
		ActionCallback: slack.ActionCallbacks{BlockActions: []*slack.BlockAction{{
			ActionID: action, BlockID: blockActions, Value: h.requestID(card), Type: "button",
		}}},
	}
	for _, e := range edit {
		e(&cb)
	}
	work := h.bot.onInteraction(cb)
	if work == nil {
		h.t.Fatalf("a click on %s was ignored", action)
	}
	work(h.ctx)
}

// private are the texts answered privately to user.
func (h *harness) private(user string) []string {
	var texts []string
	for _, m := range h.slack.sentWhere(func(m sent) bool { return m.kind == "ephemeral" && m.user == user }) {
		texts = append(texts, m.text)
	}
	return texts
}

// heard checks that user was answered privately exactly once, with words containing want.
func (h *harness) heard(user, want string) {
	h.t.Helper()
	got := h.private(user)
	if len(got) != 1 || !strings.Contains(got[0], want) {
		h.t.Errorf("private answers to %s = %q; want one saying %q", user, got, want)
	}
}

// thread is the replies under a card.
func (h *harness) thread(card sent) []sent {
	return h.slack.sentWhere(func(m sent) bool { return m.kind == "post" && m.threadTS == card.ts && m.channel == card.channel })
}

// summaryOf is the one reply in a card's thread: the summary.
func (h *harness) summaryOf(card sent) string {
	h.t.Helper()
	thread := h.thread(card)
	if len(thread) != 1 {
		h.t.Fatalf("%d thread replies; want one summary", len(thread))
	}
	return thread[0].text
}

// sentAll is everything the bot sent to Slack.
func (h *harness) sentAll() []sent { return h.slack.sentWhere(func(sent) bool { return true }) }

// stored are the requests in the store, newest first.
func (h *harness) stored() []reset.Request {
	h.t.Helper()
	got, err := h.store.Recent(h.ctx, 10)
	if err != nil {
		h.t.Fatal(err)
	}
	return got
}

// nothingPosted checks that a refused step posted nothing and stored no request.
func (h *harness) nothingPosted() {
	h.t.Helper()
	if n := len(h.cards()); n != 0 {
		h.t.Errorf("%d cards posted; want none", n)
	}
	if got := h.stored(); len(got) != 0 {
		h.t.Errorf("stored requests %+v; want none", got)
	}
}

// updates are the card's updates, oldest first.
func (h *harness) updates(card sent) []sent {
	return h.slack.sentWhere(func(m sent) bool { return m.kind == "update" && m.ts == card.ts && m.channel == card.channel })
}

// now is how the card reads: its last update, or as posted.
func (h *harness) now(card sent) sent {
	if u := h.updates(card); len(u) > 0 {
		return u[len(u)-1]
	}
	return card
}

// request is the request as stored.
func (h *harness) request(id string) reset.Request {
	h.t.Helper()
	r, err := h.store.Get(h.ctx, id)
	if err != nil {
		h.t.Fatal(err)
	}
	return r
}

// events are the audit log of one request; "" is every event.
func (h *harness) events(id string) []store.Event {
	h.t.Helper()
	events, err := h.store.Audit(h.ctx, store.Filter{RequestID: id})
	if err != nil {
		h.t.Fatal(err)
	}
	return events
}

// revoked lists, per system, whom it was asked to sign out.
func (h *harness) revoked() map[string][]string {
	got := map[string][]string{}
	for _, p := range h.providers {
		p.mu.Lock()
		got[p.name] = slices.Clone(p.revokes)
		p.mu.Unlock()
	}
	return got
}

// signedOutOnce checks that every system was asked to sign out exactly these people, once each.
func (h *harness) signedOutOnce(emails ...string) {
	h.t.Helper()
	for name, got := range h.revoked() {
		slices.Sort(got)
		if want := slices.Sorted(slices.Values(emails)); !slices.Equal(got, want) {
			h.t.Errorf("%s was asked to sign out %q; want exactly %q", name, got, want)
		}
	}
}

// unchanged checks that a refused step changed nothing: nobody signed out, the request still
// pending, no summary in its thread and its card as it was.
func (h *harness) unchanged(card sent) {
	h.t.Helper()
	h.signedOutOnce()
	if r := h.request(h.requestID(card)); r.State != reset.Pending || len(r.Approvals) != 0 {
		h.t.Errorf("request is %s with approvals %+v; want pending with none", r.State, r.Approvals)
	}
	if n := len(h.thread(card)); n != 0 {
		h.t.Errorf("%d thread replies; want none", n)
	}
	if n := len(h.updates(card)); n != 0 {
		h.t.Errorf("card updated %d times; want untouched", n)
	}
}

// refusedOnRecord checks the audit log holds one refusal of what (request, approve, cancel,
// target) by actor, with the code given, and returns it.
func (h *harness) refusedOnRecord(actor, what, code string) store.Event {
	h.t.Helper()
	var found []store.Event
	for _, e := range h.events("") {
		if e.Kind == store.KindRefused && strings.HasPrefix(e.Detail, what+": "+code) {
			found = append(found, e)
		}
	}
	if len(found) != 1 || found[0].Actor.SlackID != actor {
		h.t.Fatalf("refusals %q by %s on record: %+v; want one. Audit: %s", what+": "+code, actor, found, kinds(h.events("")))
	}
	return found[0]
}

// kinds lists the kinds of events, in order.
func kinds(events []store.Event) string {
	k := make([]string, len(events))
	for i, e := range events {
		k[i] = e.Kind
	}
	return strings.Join(k, ",")
}

// contains checks that got has every one of want, saying what got is.
func contains(t *testing.T, what, got string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, got)
		}
	}
}

// lacks checks that got has none of unwanted.
func lacks(t *testing.T, what, got string, unwanted ...string) {
	t.Helper()
	for _, u := range unwanted {
		if strings.Contains(got, u) {
			t.Errorf("%s has %q:\n%s", what, u, got)
		}
	}
}

// blockTexts is every text of some blocks, as JSON, one a line: what a reader sees.
func blockTexts(blocks string) string {
	var v any
	if json.Unmarshal([]byte(blocks), &v) != nil {
		return "(blocks that are not JSON: " + blocks + ")"
	}
	var texts []string
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if s, ok := v["text"].(string); ok {
				texts = append(texts, s)
			}
			for _, k := range slices.Sorted(maps.Keys(v)) {
				walk(v[k])
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(v)
	return strings.Join(texts, "\n")
}

// button is one button of a card, as Slack would deliver its click.
type button struct{ blockID, actionID, value, text string }

func buttons(blocks string) []button {
	var bs []struct {
		Type     string `json:"type"`
		BlockID  string `json:"block_id"`
		Elements []json.RawMessage
	}
	if json.Unmarshal([]byte(blocks), &bs) != nil {
		return nil
	}
	var got []button
	for _, b := range bs {
		if b.Type != "actions" {
			continue
		}
		for _, raw := range b.Elements {
			var e struct {
				Type     string                `json:"type"`
				ActionID string                `json:"action_id"`
				Value    string                `json:"value"`
				Text     struct{ Text string } `json:"text"`
			}
			if json.Unmarshal(raw, &e) == nil && e.Type == "button" {
				got = append(got, button{blockID: b.BlockID, actionID: e.ActionID, value: e.Value, text: e.Text.Text})
			}
		}
	}
	return got
}

// renderJSON renders a card as Slack would receive it: its fallback text and blocks as JSON.
func renderJSON(t *testing.T, c card) (string, string) {
	t.Helper()
	fallback, blocks := c.render()
	raw, err := json.Marshal(blocks)
	if err != nil {
		t.Fatal(err)
	}
	return fallback, string(raw)
}
