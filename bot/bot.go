// Package bot is resetbot's Slack side: it acks every Socket Mode envelope at once, turns
// `/reset-sessions` and button clicks into requests in the store, renders the card and the
// thread summary, and hands the actual sign-out to the reset executor. It knows no provider
// HTTP: those sit behind [Executor].
package bot

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"

	"github.com/resetbot/resetbot/internal/lifecycle"
	"github.com/resetbot/resetbot/internal/reset"
)

// Slack is the Web API the bot calls; *slack.Client satisfies it.
type Slack interface {
	PostMessageContext(ctx context.Context, channelID string, options ...slack.MsgOption) (string, string, error)
	UpdateMessageContext(ctx context.Context, channelID, timestamp string, options ...slack.MsgOption) (string, string, string, error)
	PostEphemeralContext(ctx context.Context, channelID, userID string, options ...slack.MsgOption) (string, error)
	GetUserInfoContext(ctx context.Context, user string, options ...slack.GetUserInfoOption) (*slack.User, error)
}

// Directory finds people and their groups in Okta, live on every call: a responder removed
// from a group or suspended must lose their say at once. Every Target it returns carries the
// person's current Okta status.
type Directory interface {
	Find(ctx context.Context, who string) (reset.Target, error)
	FindByEmail(ctx context.Context, email string) (reset.Target, error)
	// FindMany finds many people at once, each name as Find takes it, with one Okta request
	// per page of names: found by name as given; missing, by name, why not (an error matching
	// errNotFound, or directory.ErrAmbiguous); err when Okta could not be asked.
	FindMany(ctx context.Context, names []string) (found map[string]reset.Target, missing map[string]error, err error)
	// Groups lists the groups a person is in, by id, with names and types.
	Groups(ctx context.Context, oktaUserID string) ([]reset.Group, error)
	// GroupMembers lists everyone in the Okta group with this id or exact name, stopping once
	// past limit people (no limit when limit <= 0); an unknown group matches errNotFound.
	GroupMembers(ctx context.Context, group string, limit int) ([]reset.Target, error)
}

// Executor finds where people have accounts and signs them out; *reset.Executor satisfies it.
type Executor interface {
	lifecycle.Executor
	Plan(ctx context.Context, t reset.Target) []reset.PlanEntry
}

// Store keeps requests and the audit log; *store.Store satisfies it. Beyond what a run needs
// (the lifecycle's part), the bot creates requests, records where their cards are, and
// decides pending ones: AddApproval, Cancel and ExpireDue are compare-and-swaps, so exactly
// one caller, on any replica, wins.
type Store interface {
	lifecycle.Store
	Create(ctx context.Context, r reset.Request) error
	Get(ctx context.Context, id string) (reset.Request, error)
	SetMessage(ctx context.Context, id, channel, ts string) error
	// AddApproval records one approval of a pending request that needs more, if its approvals
	// are still prior: ErrConflict otherwise, with the request as it now stands.
	AddApproval(ctx context.Context, id string, prior []reset.Actor, approver reset.Actor, now time.Time) (reset.Request, error)
	Cancel(ctx context.Context, id string, by reset.Actor, now time.Time) (reset.Request, error)
	// Withdraw cancels a pending request whose card never reached Slack and frees its event
	// source, so the event can make its request again.
	Withdraw(ctx context.Context, id string, by reset.Actor, now time.Time) (reset.Request, error)
	ExpireDue(ctx context.Context, now time.Time) ([]reset.Request, error)
	ReleaseLeases(ctx context.Context, owner string) error
}

// Config is everything a Bot needs; internal/app builds it from the configuration.
type Config struct {
	Slack     Slack
	Socket    *socketmode.Client
	Directory Directory
	Store     Store
	Executor  Executor
	Policy    reset.Policy
	// TTL is how long a card can be approved.
	TTL time.Duration
	// Workspace installed the app: its members, and its Grid org's, are the people who act.
	Workspace Workspace
	// AllowedTeams are further workspaces whose members the bot answers.
	AllowedTeams []string
	// Replica names this process in leases; it must differ between replicas.
	Replica string
	// Lease is how long a running request is promised to this replica between renewals.
	Lease time.Duration
	// Sweep is how often expired cards and lapsed leases are looked for.
	Sweep time.Duration
	// Workers bounds how many envelopes are worked on at once after their ack.
	Workers int
	// StepTimeout bounds every Okta and Slack call made for a command or a click; default
	// 10s. PlanTimeout bounds asking every system where a person has accounts; default 20s.
	StepTimeout time.Duration
	PlanTimeout time.Duration
	// BatchWorkers bounds how many people of a batch are under way at once; the executor's
	// limiter paces each system beneath that.
	BatchWorkers int
	// ProgressEvery is how often a running batch's card shows its progress.
	ProgressEvery time.Duration
	// HTTPClient posts to response_url.
	HTTPClient *http.Client
	Logger     *slog.Logger
	Now        func() time.Time
	// Hooks lets the process observe the bot (metrics); any field may be nil.
	Hooks Hooks
}

// Hooks are called synchronously; they must be quick.
type Hooks struct {
	Acked     func(kind string, d time.Duration)
	Connected func()
	Finished  func(final reset.Final, outcomes []reset.Outcome)
}

// Bot serves one Slack app connection. Several Bots (replicas) may share one store.
type Bot struct {
	cfg    Config
	runner *lifecycle.Runner
	log    *slog.Logger
	now    func() time.Time
	slots  chan struct{}
	// asides bounds the private answers given outside the worker pool.
	asides chan struct{}
	wg     sync.WaitGroup
	// stopping is closed when Run's context ends: new work is refused, running resets go on.
	stopping chan struct{}
	// connected is true between a hello and the next disconnect.
	mu        sync.Mutex
	connected bool
	// work is Run's context for resets: it outlives shutdown by the grace period.
	work context.Context
}

// New checks cfg and fills defaults.
func New(cfg Config) (*Bot, error) {
	if cfg.Slack == nil || cfg.Socket == nil || cfg.Directory == nil || cfg.Store == nil || cfg.Executor == nil {
		return nil, errors.New("bot: Slack, Socket, Directory, Store and Executor are required")
	}
	if cfg.Workspace.TeamID == "" {
		return nil, errors.New("bot: the installing workspace's team id is required (auth.test reports it)")
	}
	if cfg.TTL <= 0 {
		cfg.TTL = 15 * time.Minute
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 30 * time.Second
	}
	if cfg.Sweep <= 0 {
		cfg.Sweep = 5 * time.Second
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 64
	}
	if cfg.BatchWorkers <= 0 {
		cfg.BatchWorkers = 16
	}
	if cfg.StepTimeout <= 0 {
		cfg.StepTimeout = 10 * time.Second
	}
	if cfg.PlanTimeout <= 0 {
		cfg.PlanTimeout = 20 * time.Second
	}
	cfg.Slack = timedSlack{Slack: cfg.Slack, d: cfg.StepTimeout}
	cfg.Directory = timedDirectory{Directory: cfg.Directory, d: cfg.StepTimeout}
	if cfg.ProgressEvery <= 0 {
		cfg.ProgressEvery = 3 * time.Second
	}
	if cfg.Replica == "" {
		cfg.Replica = "replica-" + newID()[:8]
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	runner := lifecycle.New(lifecycle.Config{
		Store: cfg.Store, Executor: cfg.Executor, Find: cfg.Directory.Find, Replica: cfg.Replica, Lease: cfg.Lease,
		Workers: cfg.BatchWorkers, Logger: cfg.Logger, Now: cfg.Now, Finished: cfg.Hooks.Finished,
	})
	return &Bot{cfg: cfg, runner: runner, log: cfg.Logger, now: cfg.Now, slots: make(chan struct{}, cfg.Workers), asides: make(chan struct{}, 16), stopping: make(chan struct{})}, nil
}

// workContext is the context resets run under: Run's, or ctx's when Run has not started.
func (b *Bot) workContext(ctx context.Context) context.Context {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.work != nil {
		return b.work
	}
	return context.WithoutCancel(ctx)
}

// Replica is the name this bot holds leases under.
func (b *Bot) Replica() string { return b.cfg.Replica }

// Connected reports whether the Socket Mode connection is up, for readiness probes.
func (b *Bot) Connected() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.connected
}

// Run serves until ctx ends, then stops taking work, lets running resets finish for up to
// grace, and releases the leases of any it could not finish so another replica takes them.
func (b *Bot) Run(ctx context.Context, grace time.Duration) error {
	// Work outlives ctx by up to grace: a reset half-done at SIGTERM is worse than a late exit.
	workCtx, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	b.mu.Lock()
	b.work = workCtx
	b.mu.Unlock()

	socketCtx, stopSocket := context.WithCancel(ctx)
	defer stopSocket()
	socketDone := make(chan error, 1)
	go func() { socketDone <- b.cfg.Socket.RunContext(socketCtx) }()

	// The sweeper does store and Slack I/O, so it runs beside the event loop, never in it:
	// acks must not wait behind it.
	sweepCtx, stopSweep := context.WithCancel(workCtx)
	defer stopSweep()
	go func() {
		t := time.NewTicker(b.cfg.Sweep)
		defer t.Stop()
		for {
			b.sweep(sweepCtx)
			select {
			case <-sweepCtx.Done():
				return
			case <-b.stopping:
				return
			case <-t.C:
			}
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return b.shutdown(workCtx, cancelWork, grace, socketDone)
		case err := <-socketDone:
			b.setConnected(false)
			if ctx.Err() != nil {
				return b.shutdown(workCtx, cancelWork, grace, nil)
			}
			return fmt.Errorf("slack socket mode: %w", err)
		case evt, ok := <-b.cfg.Socket.Events:
			if !ok {
				return b.shutdown(workCtx, cancelWork, grace, socketDone)
			}
			b.dispatch(workCtx, evt)
		}
	}
}

func (b *Bot) shutdown(workCtx context.Context, cancelWork context.CancelFunc, grace time.Duration, socketDone <-chan error) error {
	close(b.stopping)
	b.setConnected(false)
	done := make(chan struct{})
	go func() { b.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(grace):
		b.log.Warn("shutdown grace ran out; releasing leases of unfinished resets", "audit", "shutdown", "grace", grace)
		cancelWork()
		<-done
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(workCtx), 5*time.Second)
	defer cancel()
	if err := b.cfg.Store.ReleaseLeases(ctx, b.cfg.Replica); err != nil {
		b.log.Error("release leases", "error", err.Error())
	}
	if socketDone != nil {
		select {
		case <-socketDone:
		case <-time.After(2 * time.Second):
		}
	}
	return nil
}

// setConnected records the connection state; Hooks.Connected hears each new connection once,
// though slack-go reports every connection twice (connected, then Slack's hello).
func (b *Bot) setConnected(v bool) {
	b.mu.Lock()
	was := b.connected
	b.connected = v
	b.mu.Unlock()
	if v && !was && b.cfg.Hooks.Connected != nil {
		b.cfg.Hooks.Connected()
	}
}

// dispatch acks the envelope first, whatever it is, then hands the slow work to a worker.
// Nothing before the ack may do I/O beyond the ack itself.
func (b *Bot) dispatch(ctx context.Context, evt socketmode.Event) {
	switch evt.Type {
	case socketmode.EventTypeHello, socketmode.EventTypeConnected:
		b.setConnected(true)
		return
	case socketmode.EventTypeConnecting, socketmode.EventTypeConnectionError, socketmode.EventTypeDisconnect:
		b.setConnected(false)
		return
	case socketmode.EventTypeErrorBadMessage:
		// An envelope the SDK could not parse (unknown type, hostile payload) still has to be
		// acked, or Slack redelivers it and shows the user an error.
		if bad, ok := evt.Data.(*socketmode.ErrorBadMessage); ok {
			b.ackRaw(bad.Message)
		}
		return
	}
	if evt.Request == nil || evt.Request.EnvelopeID == "" {
		return
	}
	received := b.now()
	var payload any
	var work func(context.Context)
	var click slack.InteractionCallback
	switch evt.Type {
	case socketmode.EventTypeSlashCommand:
		cmd, _ := evt.Data.(slack.SlashCommand)
		payload, work = b.onCommand(cmd)
	case socketmode.EventTypeInteractive:
		click, _ = evt.Data.(slack.InteractionCallback)
		work = b.onInteraction(click)
	}
	refused := ""
	select {
	case <-b.stopping:
		if work != nil {
			refused, work = "resetbot is restarting; nothing was done. Try again in a minute.", nil
		}
	default:
	}
	if work != nil {
		select {
		case b.slots <- struct{}{}:
		default:
			refused, work = "resetbot is busy right now; nothing was done. Try again in a moment.", nil
			b.log.Warn("worker pool full; envelope refused", "audit", "refused", "reason", "busy")
		}
	}
	if refused != "" && evt.Type == socketmode.EventTypeSlashCommand {
		payload = private(refused)
	}
	if err := b.cfg.Socket.Ack(*evt.Request, payload); err != nil {
		b.log.Error("ack failed", "envelope", evt.Request.EnvelopeID, "error", err.Error())
	}
	if b.cfg.Hooks.Acked != nil {
		b.cfg.Hooks.Acked(string(evt.Type), b.now().Sub(received))
	}
	if refused != "" && evt.Type == socketmode.EventTypeInteractive {
		// Slack shows nothing for a click's ack: the clicker hears it privately instead.
		b.answerAside(ctx, click, refused)
	}
	if work == nil {
		return
	}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		defer func() { <-b.slots }()
		defer func() {
			if r := recover(); r != nil {
				b.log.Error("request handler panicked", "panic", fmt.Sprint(r))
			}
		}()
		work(ctx)
	}()
}

// answerAside tells a clicker, privately and outside the worker pool (which is full or
// stopping), why their click did nothing. A few answers at a time: beyond that, a flood of
// clicks is dropped rather than let grow without bound.
func (b *Bot) answerAside(ctx context.Context, cb slack.InteractionCallback, text string) {
	select {
	case b.asides <- struct{}{}:
	default:
		return
	}
	go func() {
		defer func() { <-b.asides }()
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), b.cfg.StepTimeout)
		defer cancel()
		b.replier(cb.ResponseURL, cb.Channel.ID, cb.User.ID)(ctx, text)
	}()
}

// ackRaw acks an envelope known only by its raw JSON.
func (b *Bot) ackRaw(raw json.RawMessage) {
	var env struct {
		EnvelopeID string `json:"envelope_id"`
		Type       string `json:"type"`
	}
	if json.Unmarshal(raw, &env) != nil || env.EnvelopeID == "" {
		return
	}
	if err := b.cfg.Socket.Ack(socketmode.Request{EnvelopeID: env.EnvelopeID}); err != nil {
		b.log.Error("ack failed", "envelope", env.EnvelopeID, "error", err.Error())
	}
	if b.cfg.Hooks.Acked != nil {
		b.cfg.Hooks.Acked(env.Type, 0)
	}
	b.log.Info("acked an envelope it does not handle", "type", env.Type)
}

// newID is an unguessable request id: a button carries only this, so guessing one must not
// be a way to approve someone else's request.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func newTicker(d time.Duration) *time.Ticker {
	if d <= 0 {
		d = time.Second
	}
	return time.NewTicker(d)
}
