// Package slackfake is an in-process Slack: the Web API methods resetbot calls, the response_url
// endpoints that slash commands and interactions carry, and a Socket Mode WebSocket server. The
// real slack-go client connects to it, so what is under test is the bot's use of Slack, not a
// mock of slack-go.
//
// It behaves like Slack where the bot can get Slack wrong: it answers with Slack's own error
// words (not_in_channel, msg_too_long, invalid_blocks with Slack's response_metadata messages,
// message_not_found, ratelimited with HTTP 429 and Retry-After), takes each method only with the
// kinds of token Slack takes for it (not_allowed_token_type; a person's token without the
// method's scope gets missing_scope), acks nothing by itself, accepts any Origin, pings the
// client, ignores Socket Mode responses of 20 KB or more, and lets a test drop or refresh
// connections. It records everything the bot made Slack show — posts with every update in
// order, ephemeral messages, response_url replies, acks with their latency — so tests, the ack
// benchmark and `resetbot demo` can wait on it or print it as a conversation. Nothing in its API
// needs a testing.T.
//
// It also serves admin.users.session.reset, which resetbot calls with an Org Admin's user token
// (AdminToken) to sign people out of Slack itself: only in an Enterprise Grid org
// (WithEnterprise; feature_not_enabled elsewhere), only for an Org Admin's token (not_an_admin),
// only for someone who exists (user_not_found); SessionResets counts what it wiped.
package slackfake

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/resetbot/resetbot/internal/fake"
)

// Server is a running fake Slack. Start it with Start and stop it with Close. Its embedded
// fake.Script programs faults per Web API method name ("chat.postMessage",
// "apps.connections.open", …; "response_url" for the response endpoints) and records every
// call; RateLimit is the usual shorthand. All methods are safe for concurrent use.
type Server struct {
	fake.Script

	srv *httptest.Server
	cfg config
	api map[string]method
	log *slog.Logger

	// verificationToken is the deprecated per-app token Slack still puts in payloads; it is
	// not a credential the bot uses.
	verificationToken string

	// sendMu serialises deliveries so envelopes reach the client in the order they were sent,
	// including those queued while no connection was live.
	sendMu sync.Mutex

	mu       sync.Mutex
	closed   bool
	done     chan struct{}
	changed  chan struct{} // closed and replaced on every change; WaitFor and Events wait on it
	lastTS   int64
	serial   int
	users    map[string]User
	channels map[string]*Channel

	messages   []*Message
	byTS       map[string]*Message // channel + "/" + ts
	ephemerals []Ephemeral
	responses  []Response
	errors     []APIError
	stream     []Event // everything Events() delivers, in order

	userTokens map[string]issuedToken // user tokens (xoxp-) by token
	resets     []SessionReset         // admin.users.session.reset calls served

	tickets   map[string]bool // apps.connections.open tickets; true once used
	conns     []*conn         // live connections, in the order they connected
	rr        int             // round-robin cursor over conns
	dialled   int             // connections that received hello, ever
	pending   []*envelope     // waiting for a live connection
	envelopes map[string]*envelope
	order     []*envelope
	acks      []Ack
	ackByID   map[string]int // envelope id → index of its first ack in acks
	ignored   []IgnoredFrame
	pings     int
	pongs     []time.Time
	targets   map[string]*responseTarget
	timers    map[*time.Timer]bool
}

// Option configures a Server.
type Option func(*config)

type config struct {
	teamID, teamDomain, teamName string
	enterpriseID                 string
	botUserID, botID, botName    string
	appID                        string
	botToken, appToken           string
	adminToken                   string
	channels                     []Channel
	pingInterval                 time.Duration
	ackTimeout                   time.Duration
	logger                       *slog.Logger
}

// WithTeam sets the workspace the fake is (default T0FAKETEAM, "resetbot-test").
func WithTeam(id, domain string) Option {
	return func(c *config) { c.teamID, c.teamDomain = id, domain }
}

// WithEnterprise makes the fake a workspace of an Enterprise Grid org: auth.test reports the
// org's id, and users added with that EnterpriseID are members of the org.
func WithEnterprise(id string) Option {
	return func(c *config) { c.enterpriseID = id }
}

// WithBotUser sets the bot's user id and bot id (default U0RESETBOT, B0RESETBOT).
func WithBotUser(userID, botID string) Option {
	return func(c *config) { c.botUserID, c.botID = userID, botID }
}

// WithAppID sets the Slack app id sent in hello and payloads (default A0RESETBOT).
func WithAppID(id string) Option {
	return func(c *config) { c.appID = id }
}

// WithTokens sets the bot token (xoxb-…) and app-level token (xapp-…) the fake accepts.
// By default each Server makes up its own, so a client wired to another fake is refused.
func WithTokens(bot, app string) Option {
	return func(c *config) { c.botToken, c.appToken = bot, app }
}

// WithAdminToken sets the user token (xoxp-…) of the org's admin that AdminToken returns. By
// default each Server makes up its own.
func WithAdminToken(token string) Option {
	return func(c *config) { c.adminToken = token }
}

// WithChannel adds a public channel the bot is a member of.
func WithChannel(id, name string) Option {
	return func(c *config) { c.channels = append(c.channels, Channel{ID: id, Name: name, Member: true}) }
}

// WithPingInterval sets how often the fake sends WebSocket pings on each connection (default
// 5s). slack-go reconnects when it sees no ping for its own OptionPingInterval (30s default).
func WithPingInterval(d time.Duration) Option {
	return func(c *config) { c.pingInterval = d }
}

// WithAckTimeout sets how long Slack waits for an ack before it gives up on an envelope
// (default 3s, Slack's own limit): an envelope acked later is marked Late and an
// EventAckTimeout is emitted when the limit passes, which is what a user would see as
// "operation_timeout".
func WithAckTimeout(d time.Duration) Option {
	return func(c *config) { c.ackTimeout = d }
}

// WithLogger makes the fake log what it refuses (never tokens) at debug level.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) { c.logger = l }
}

// Start starts a fake Slack on a loopback plain-HTTP listener.
func Start(opts ...Option) *Server {
	cfg := config{
		teamID: "T0FAKETEAM", teamDomain: "resetbot-test", teamName: "Resetbot Test",
		botUserID: "U0RESETBOT", botID: "B0RESETBOT", botName: "resetbot",
		appID:        "A0RESETBOT",
		pingInterval: 5 * time.Second,
		ackTimeout:   3 * time.Second,
	}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.botToken == "" {
		cfg.botToken = "xoxb-" + randomDigits(12) + "-" + randomDigits(13) + "-" + randomHex(12)
	}
	if cfg.appToken == "" {
		cfg.appToken = "xapp-1-" + cfg.appID + "-" + randomDigits(13) + "-" + randomHex(32)
	}
	if cfg.adminToken == "" {
		cfg.adminToken = newUserToken()
	}
	if cfg.pingInterval <= 0 {
		cfg.pingInterval = 5 * time.Second
	}
	if cfg.ackTimeout <= 0 {
		cfg.ackTimeout = 3 * time.Second
	}
	logger := cfg.logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		cfg:               cfg,
		log:               logger,
		verificationToken: randomHex(12),
		done:              make(chan struct{}),
		changed:           make(chan struct{}),
		users:             map[string]User{},
		channels:          map[string]*Channel{},
		byTS:              map[string]*Message{},
		tickets:           map[string]bool{},
		envelopes:         map[string]*envelope{},
		ackByID:           map[string]int{},
		targets:           map[string]*responseTarget{},
		timers:            map[*time.Timer]bool{},
		userTokens:        map[string]issuedToken{},
	}
	s.users[cfg.botUserID] = User{ID: cfg.botUserID, TeamID: cfg.teamID, Name: cfg.botName, RealName: cfg.botName, IsBot: true}
	s.users[AdminUserID] = User{ID: AdminUserID, TeamID: cfg.teamID, Name: "org-admin", RealName: "Org Admin",
		Email: "org-admin@example.com", IsAdmin: true, IsOrgAdmin: true, EnterpriseID: cfg.enterpriseID}
	s.userTokens[cfg.adminToken] = issuedToken{user: AdminUserID, scopes: AdminScopes()}
	for _, c := range cfg.channels {
		s.AddChannel(c)
	}
	s.api = s.methods()
	mux := http.NewServeMux()
	mux.HandleFunc("/api/", s.serveAPI)
	mux.HandleFunc("/link/", s.serveSocket)
	mux.HandleFunc("/commands/", s.serveResponseURL)
	mux.HandleFunc("/actions/", s.serveResponseURL)
	s.srv = httptest.NewServer(mux)
	return s
}

// Close drops every connection and stops the server. Event streams deliver what is left and
// then close.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	close(s.done)
	conns := s.conns
	s.conns = nil
	for t := range s.timers {
		t.Stop()
	}
	s.timers = map[*time.Timer]bool{}
	s.notifyLocked()
	s.mu.Unlock()
	for _, c := range conns {
		c.close()
	}
	s.srv.CloseClientConnections()
	s.srv.Close()
}

// URL is the server's base URL, e.g. "http://127.0.0.1:41234".
func (s *Server) URL() string { return s.srv.URL }

// APIURL is the Web API base for slack.OptionAPIURL, with the trailing slash slack-go needs.
func (s *Server) APIURL() string { return s.srv.URL + "/api/" }

// BotToken is the xoxb- token the fake accepts for Web API methods.
func (s *Server) BotToken() string { return s.cfg.botToken }

// AppToken is the xapp- token the fake accepts for apps.connections.open.
func (s *Server) AppToken() string { return s.cfg.appToken }

// AdminToken is the user token (xoxp-…) of the org's admin (AdminUserID), granted AdminScopes:
// in a fake started WithEnterprise it is an org-level token of an Org Admin, which
// admin.users.session.reset takes; without it, the workspace is on a plan without Enterprise
// Grid, and admin methods answer feature_not_enabled.
func (s *Server) AdminToken() string { return s.cfg.adminToken }

// AdminUserID is the org's admin whose token AdminToken is (email org-admin@example.com).
const AdminUserID = "W0ORGADMIN"

// AdminScopes are the scopes AdminToken is granted: admin.users:write for
// admin.users.session.reset, users:read and users:read.email to find people by email.
func AdminScopes() []string { return []string{"admin.users:write", "users:read", "users:read.email"} }

// UserToken issues a new user token (xoxp-…) for userID, granted scopes (AdminScopes when none
// are given). Whether admin methods take it depends on the user: only an Org Admin's
// (User.IsOrgAdmin) is not answered not_an_admin.
func (s *Server) UserToken(userID string, scopes ...string) string {
	if len(scopes) == 0 {
		scopes = AdminScopes()
	}
	token := newUserToken()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.userTokens[token] = issuedToken{user: userID, scopes: append([]string(nil), scopes...)}
	return token
}

// issuedToken is a user token the fake accepts: whose it is and what it was granted.
type issuedToken struct {
	user   string
	scopes []string
}

// SessionReset is one admin.users.session.reset the fake served.
type SessionReset struct {
	UserID string
	By     string // the admin whose token made the call
	// MobileOnly and WebOnly are the call's flags: with neither, every session was wiped.
	MobileOnly, WebOnly bool
	At                  time.Time
}

// SessionResets counts the resets of userID that wiped every session of theirs (neither
// mobile_only nor web_only).
func (s *Server) SessionResets(userID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.resets {
		if r.UserID == userID && !r.MobileOnly && !r.WebOnly {
			n++
		}
	}
	return n
}

// Resets returns every admin.users.session.reset served, oldest first.
func (s *Server) Resets() []SessionReset {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]SessionReset(nil), s.resets...)
}

// TeamID is the workspace id.
func (s *Server) TeamID() string { return s.cfg.teamID }

// BotUserID is the bot's own user id (messages it posts carry it).
func (s *Server) BotUserID() string { return s.cfg.botUserID }

// AppID is the Slack app id.
func (s *Server) AppID() string { return s.cfg.appID }

// RateLimit makes the next n calls of method answer HTTP 429 with Retry-After (whole seconds,
// rounded up) and {"ok":false,"error":"ratelimited"}, as Slack does.
func (s *Server) RateLimit(method string, n int, retryAfter time.Duration) {
	secs := int((retryAfter + time.Second - 1) / time.Second)
	s.FailTimes(method, n, fake.Fault{
		Status: http.StatusTooManyRequests,
		Header: http.Header{"Retry-After": {fmt.Sprint(secs)}},
	})
}

// User is a workspace member as users.info describes them.
type User struct {
	ID                string
	TeamID            string // default: the fake's team
	Name              string // the handle, e.g. "alice"
	RealName          string
	Email             string
	Deleted           bool
	IsBot             bool
	IsAdmin           bool
	IsRestricted      bool // multi-channel guest
	IsUltraRestricted bool // single-channel guest
	// IsStranger is a Slack Connect user of another organisation seen through a shared channel.
	IsStranger bool
	// EmailUnconfirmed is a user who never confirmed the email on their profile; users.info
	// then reports is_email_confirmed false.
	EmailUnconfirmed bool
	// EnterpriseID is the Enterprise Grid org the user belongs to, if any.
	EnterpriseID string
	// IsOrgAdmin is an Org Admin or Owner of the Grid org: admin methods take their token.
	IsOrgAdmin bool
}

// AddUser adds or replaces a workspace member.
func (s *Server) AddUser(u User) {
	if u.TeamID == "" {
		u.TeamID = s.cfg.teamID
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[u.ID] = u
}

// Channel is a conversation. Member says whether the bot is in it: Slack refuses to post
// where the bot is not (not_in_channel), and hides private channels it is not in
// (channel_not_found).
type Channel struct {
	ID        string
	Name      string
	IsPrivate bool
	IsIM      bool
	Archived  bool
	Member    bool
}

// AddChannel adds or replaces a channel.
func (s *Server) AddChannel(c Channel) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.channels[c.ID] = &c
}

// SetMember adds the bot to a channel or removes it, as /invite or /kick would.
func (s *Server) SetMember(channelID string, member bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.channels[channelID]; ok {
		c.Member = member
	}
}

// Message is a channel message the bot posted, in its current state. History holds every
// state in order — the post first, then each update — so a test can follow a card's life.
type Message struct {
	Channel  string
	TS       string
	ThreadTS string // the thread's parent when this is a reply; "" otherwise
	User     string // the bot's user id
	Text     string
	Blocks   json.RawMessage // nil when the message has none
	Deleted  bool            // removed through a response_url delete_original
	History  []Revision
}

// Revision is one state of a message.
type Revision struct {
	Text   string
	Blocks json.RawMessage
	At     time.Time
	// Via is how it got there: "chat.postMessage", "chat.update" or "response_url".
	Via string
}

// Ephemeral is a message only one user sees. Slack keeps no copy: it cannot be updated
// through chat.update nor be a thread's parent.
type Ephemeral struct {
	Channel  string
	User     string
	TS       string
	ThreadTS string
	Text     string
	Blocks   json.RawMessage
	At       time.Time
}

// Response is a reply to a slash command or an interaction: either posted to its
// response_url or carried in the ack of a slash command (Via "ack").
type Response struct {
	URL        string
	EnvelopeID string // the envelope that carried the response_url
	Kind       string // "command" or "action"
	Channel    string
	User       string // who invoked the command or clicked
	MessageTS  string // for actions: the message that was clicked
	Text       string
	Blocks     json.RawMessage
	// ResponseType is "ephemeral" (Slack's default) or "in_channel".
	ResponseType    string
	ReplaceOriginal bool
	DeleteOriginal  bool
	At              time.Time
	Via             string // "response_url" or "ack"
}

// APIError is a call the fake refused, with Slack's error word and messages.
type APIError struct {
	Method   string
	Error    string
	Messages []string
	At       time.Time
}

// Ack is a Socket Mode response the client sent.
type Ack struct {
	EnvelopeID string
	Payload    json.RawMessage // nil when the client sent none
	At         time.Time
	SentAt     time.Time     // when the envelope was written; zero for an unknown envelope
	Latency    time.Duration // At - SentAt
	Conn       int           // the connection it came on (1 for the first)
	Known      bool          // the envelope was sent by this fake
	Duplicate  bool          // the envelope had already been acked
	Late       bool          // later than the ack timeout: Slack had given up
}

// IgnoredFrame is a frame from the client that Slack would drop.
type IgnoredFrame struct {
	At     time.Time
	Size   int
	Reason string
}

// Envelope is a Socket Mode message the fake sent (or queued: SentAt is zero until a
// connection takes it).
type Envelope struct {
	ID       string
	Type     string
	Payload  json.RawMessage
	QueuedAt time.Time
	SentAt   time.Time
	Conn     int
	Acked    bool
	TimedOut bool
}

// Snapshot is a consistent copy of what the fake has seen.
type Snapshot struct {
	Messages    []Message
	Ephemerals  []Ephemeral
	Responses   []Response
	Errors      []APIError
	Envelopes   []Envelope
	Acks        []Ack
	Ignored     []IgnoredFrame
	Connections int // connections that received hello, ever
	Live        int // connections open now
	Pings       int
	Pongs       int
}

// Message returns the message with ts in channel.
func (sn Snapshot) Message(channel, ts string) (Message, bool) {
	for _, m := range sn.Messages {
		if m.Channel == channel && m.TS == ts {
			return m, true
		}
	}
	return Message{}, false
}

// Thread returns the replies to the message ts in channel, oldest first.
func (sn Snapshot) Thread(channel, ts string) []Message {
	var out []Message
	for _, m := range sn.Messages {
		if m.Channel == channel && m.ThreadTS == ts {
			out = append(out, m)
		}
	}
	return out
}

// Snapshot returns a copy of everything recorded so far.
func (s *Server) Snapshot() Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.snapshotLocked()
}

func (s *Server) snapshotLocked() Snapshot {
	sn := Snapshot{
		Ephemerals:  append([]Ephemeral(nil), s.ephemerals...),
		Responses:   append([]Response(nil), s.responses...),
		Errors:      append([]APIError(nil), s.errors...),
		Acks:        append([]Ack(nil), s.acks...),
		Ignored:     append([]IgnoredFrame(nil), s.ignored...),
		Connections: s.dialled,
		Live:        len(s.conns),
		Pings:       s.pings,
		Pongs:       len(s.pongs),
	}
	for _, m := range s.messages {
		c := *m
		c.History = append([]Revision(nil), m.History...)
		sn.Messages = append(sn.Messages, c)
	}
	for _, e := range s.order {
		sn.Envelopes = append(sn.Envelopes, e.record())
	}
	return sn
}

// Messages returns the channel messages the bot posted, oldest first, each with its history.
func (s *Server) Messages() []Message { return s.Snapshot().Messages }

// Ephemerals returns the ephemeral messages the bot posted, oldest first.
func (s *Server) Ephemerals() []Ephemeral { return s.Snapshot().Ephemerals }

// Responses returns the replies to commands and interactions, oldest first.
func (s *Server) Responses() []Response { return s.Snapshot().Responses }

// Errors returns the calls the fake refused, oldest first.
func (s *Server) Errors() []APIError { return s.Snapshot().Errors }

// Acks returns the acks received, oldest first.
func (s *Server) Acks() []Ack { return s.Snapshot().Acks }

// Connections is how many Socket Mode connections have been established so far (each got a
// hello); a reconnect adds one.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dialled
}

// Live is how many Socket Mode connections are open now.
func (s *Server) Live() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// WaitFor waits until cond holds for the fake's state, re-checking after every change. It
// returns the context's error, with what cond last saw summarised, when ctx ends first.
func (s *Server) WaitFor(ctx context.Context, cond func(Snapshot) bool) error {
	for {
		s.mu.Lock()
		sn := s.snapshotLocked()
		ch := s.changed
		s.mu.Unlock()
		if cond(sn) {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("wait for slack fake (%d messages, %d ephemerals, %d responses, %d acks, %d live connections): %w",
				len(sn.Messages), len(sn.Ephemerals), len(sn.Responses), len(sn.Acks), sn.Live, ctx.Err())
		}
	}
}

// WaitAck waits for the first ack of envelopeID.
func (s *Server) WaitAck(ctx context.Context, envelopeID string) (Ack, error) {
	for {
		s.mu.Lock()
		i, ok := s.ackByID[envelopeID]
		var a Ack
		if ok {
			a = s.acks[i]
		}
		ch := s.changed
		s.mu.Unlock()
		if ok {
			return a, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return Ack{}, fmt.Errorf("wait for the ack of envelope %s: %w", envelopeID, ctx.Err())
		}
	}
}

// WaitConnected waits until at least n connections have been established in total and one
// is open: after Disconnect, WaitConnected(ctx, Connections()+1) waits for the reconnect.
func (s *Server) WaitConnected(ctx context.Context, n int) error {
	for {
		s.mu.Lock()
		ok := s.dialled >= n && len(s.conns) > 0
		got := s.dialled
		ch := s.changed
		s.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("wait for socket mode connection %d (have %d): %w", n, got, ctx.Err())
		}
	}
}

// notifyLocked wakes everything waiting for a change.
func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *Server) refuseLocked(method, word string, messages []string) {
	s.errors = append(s.errors, APIError{Method: method, Error: word, Messages: messages, At: time.Now()})
	s.notifyLocked()
	s.log.Debug("slack fake refused a call", "method", method, "error", word, "messages", messages)
}

// nextTSLocked returns a message timestamp in Slack's "seconds.micros" form, strictly
// increasing so each message has its own.
func (s *Server) nextTSLocked() string {
	now := time.Now().UnixMicro()
	if now <= s.lastTS {
		now = s.lastTS + 1
	}
	s.lastTS = now
	return fmt.Sprintf("%d.%06d", now/1_000_000, now%1_000_000)
}

func (s *Server) nextSerialLocked() int {
	s.serial++
	return s.serial
}

// newUserToken makes up a user token in Slack's xoxp- shape.
func newUserToken() string {
	return "xoxp-" + randomDigits(12) + "-" + randomDigits(12) + "-" + randomDigits(13) + "-" + randomHex(32)
}

func randomHex(n int) string {
	b := make([]byte, (n+1)/2)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)[:n]
}

func randomDigits(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	var sb strings.Builder
	for _, c := range b {
		sb.WriteByte('0' + c%10)
	}
	return sb.String()
}

// newEnvelopeID returns a random UUID, the form Slack's envelope ids have.
func newEnvelopeID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
