package app

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"

	"github.com/resetbot/resetbot/bot"
	"github.com/resetbot/resetbot/internal/config"
	"github.com/resetbot/resetbot/internal/metrics"
	"github.com/resetbot/resetbot/internal/provider/edge"
	"github.com/resetbot/resetbot/internal/reset"
	"github.com/resetbot/resetbot/internal/store"
)

// BotOptions are the knobs `run`'s flags, the demo and tests turn; production uses the zero
// value but for Replica and Lease.
type BotOptions struct {
	Replica string
	Sweep   time.Duration
	Lease   time.Duration
	// Progress is how often a running batch's card is updated; 0 is the bot's default.
	Progress time.Duration
	Retry    *reset.RetryPolicy
	Now      func() time.Time
	// Roots, when set, is trusted besides the system's roots: the demo and tests use it for
	// the local fakes' certificate.
	Roots *x509.CertPool
	// EventPoll and EventBackoff pace the Okta event inbox's worker; 0 is its default (1 s
	// and 2 s). Tests shorten them.
	EventPoll, EventBackoff time.Duration
	// StepTimeout bounds each Okta and Slack call made for a command or a click, and Workers
	// how many envelopes are worked on at once; 0 is the bot's default (10 s, 64). Tests
	// shorten them.
	StepTimeout time.Duration
	Workers     int
	// EventTimeout bounds the work on one Okta event; an event whose worker died is taken by
	// another after twice that. 0 is the worker's default (30 s).
	EventTimeout time.Duration
}

// Service is a wired bot and what the HTTP front needs of the process around it.
type Service struct {
	Bot     *bot.Bot
	Store   *store.Store
	Metrics *metrics.Metrics
	// Close closes what BuildBot opened.
	Close func()
	opt   BotOptions
}

// BuildBot wires configuration into a ready Bot, with its metrics: the Okta groups of the
// policy are resolved and Slack is asked which workspace installed the app, so a bad group
// name (a ConfigError) or an unreachable Okta or Slack stops startup here.
func BuildBot(ctx context.Context, cfg config.Config, logger *slog.Logger, opt BotOptions) (*Service, error) {
	w, err := Wire(ctx, cfg, opt.Roots)
	if err != nil {
		return nil, &ConfigError{err}
	}
	policy, err := ResolvePolicy(ctx, w.Directory, cfg)
	if err != nil {
		return nil, err
	}
	if !policy.RequirePeerApproval {
		logger.Warn("RESETBOT_REQUIRE_PEER_APPROVAL=false: a responder may approve their own request (a request about a responder or a protected person still needs someone else)",
			"audit", "policy")
	}
	st, err := OpenStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	m := metrics.New()
	httpClient := edge.Client(opt.Roots)
	api := slack.New(cfg.Slack.BotToken,
		slack.OptionAppLevelToken(cfg.Slack.AppToken),
		slack.OptionAPIURL(cfg.Slack.APIURL),
		slack.OptionHTTPClient(httpClient),
		// 429 only: Slack did not act on a rate-limited call, so repeating it cannot post a
		// card twice; a dropped connection might have, so those are not retried.
		slack.OptionRetryConfig(slack.RetryConfig{MaxRetries: 3}),
		slack.OptionLog(slogPrinter{logger.With("component", "slack")}),
	)
	home, err := api.AuthTestContext(ctx)
	if err != nil {
		_ = st.Close()
		return nil, fmt.Errorf("ask Slack which workspace installed the app (auth.test): %w", err)
	}
	socket := socketmode.New(api, socketmode.OptionLog(slogPrinter{logger.With("component", "socketmode")}))
	execOpts := []reset.Option{reset.WithObserver(m)}
	if opt.Retry != nil {
		execOpts = append(execOpts, reset.WithRetry(*opt.Retry))
	}
	b, err := bot.New(bot.Config{
		Slack:         api,
		Socket:        socket,
		Directory:     w.Directory,
		Store:         st,
		Executor:      w.Executor(logger, execOpts...),
		Policy:        policy,
		TTL:           cfg.RequestTTL,
		Workspace:     bot.Workspace{TeamID: home.TeamID, EnterpriseID: home.EnterpriseID},
		AllowedTeams:  cfg.AllowedTeams,
		Replica:       opt.Replica,
		Lease:         opt.Lease,
		Sweep:         opt.Sweep,
		ProgressEvery: opt.Progress,
		StepTimeout:   opt.StepTimeout,
		Workers:       opt.Workers,
		HTTPClient:    httpClient,
		Logger:        logger,
		Now:           opt.Now,
		Hooks:         bot.Hooks{Acked: m.Acked, Connected: m.Connected, Finished: m.Finished},
	})
	if err != nil {
		_ = st.Close()
		return nil, err
	}
	w.Warm(ctx, logger)
	return &Service{Bot: b, Store: st, Metrics: m, Close: func() { _ = st.Close() }, opt: opt}, nil
}

// OpenStore opens the database cfg names: a URL that is wrong is a ConfigError, a database
// that does not answer is not.
func OpenStore(ctx context.Context, cfg config.Config) (*store.Store, error) {
	st, err := store.Open(ctx, cfg.DatabaseURL)
	if errors.Is(err, store.ErrBadURL) {
		return nil, &ConfigError{fmt.Errorf("RESETBOT_DATABASE_URL: %w", err)}
	}
	if err != nil {
		return nil, fmt.Errorf("RESETBOT_DATABASE_URL: %w", err)
	}
	return st, nil
}

// slogPrinter lets slack-go's Printf-style logger write through slog.
type slogPrinter struct{ l *slog.Logger }

func (p slogPrinter) Output(_ int, s string) error {
	p.l.Debug(s)
	return nil
}

// DefaultReplica names this process by host and pid, which differ between replicas.
func DefaultReplica() string {
	host, err := os.Hostname()
	if err != nil {
		host = "resetbot"
	}
	return fmt.Sprintf("%s-%d", host, os.Getpid())
}
