package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
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

// runBot connects to Slack and serves until SIGINT/SIGTERM.
func (a *app) runBot(ctx context.Context, args []string) int {
	fs := a.flags("run", "run [--grace 30s] [--lease 30s] [--replica NAME]")
	grace := fs.Duration("grace", 30*time.Second, "on SIGTERM, how long running resets may take to finish before their leases are released")
	lease := fs.Duration("lease", 30*time.Second, "how long another replica waits before finishing a reset whose replica stopped renewing")
	replica := fs.String("replica", defaultReplica(), "this replica's name in leases and the audit log (must differ between replicas)")
	if code, ok := a.parse(fs, args); !ok {
		return code
	}
	if *lease < 3*time.Second {
		fmt.Fprintln(a.stderr, "resetbot run: --lease must be at least 3s: it is renewed every third of it")
		return exitUsage
	}
	cfg, err := a.configure(config.Need{Slack: true, Policy: true})
	if err != nil {
		fmt.Fprintf(a.stderr, "resetbot run: %v\n", err)
		return exitUsage
	}
	logger := slog.New(slog.NewJSONHandler(a.stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	svc, err := a.buildBot(ctx, cfg, logger, botOptions{replica: *replica, lease: *lease})
	if err != nil {
		fmt.Fprintf(a.stderr, "resetbot run: %v\n", err)
		return exitFor(err)
	}
	defer svc.close()
	var f *front
	if cfg.HTTPAddr != "" {
		if f, err = startFront(cfg, svc, logger); err != nil {
			fmt.Fprintf(a.stderr, "resetbot run: %v\n", err)
			return exitUsage
		}
	}
	logger.Info("resetbot starting", "version", version, "database", redactURL(cfg.DatabaseURL))
	if err := serve(ctx, svc.bot, f, *grace); err != nil {
		logger.Error("resetbot stopped", "error", err.Error())
		return exitRuntime
	}
	logger.Info("resetbot stopped")
	return exitOK
}

// botOptions are the knobs the demo and tests turn; production uses the zero value.
type botOptions struct {
	replica string
	sweep   time.Duration
	lease   time.Duration
	// progress is how often a running batch's card is updated; 0 is the bot's default.
	progress time.Duration
	retry    *reset.RetryPolicy
	now      func() time.Time
}

// service is a wired bot and what the HTTP front needs of the process around it.
type service struct {
	bot     *bot.Bot
	store   *store.Store
	metrics *metrics.Metrics
	// close closes what buildBot opened.
	close func()
}

// buildBot wires configuration into a ready Bot, with its metrics.
func (a *app) buildBot(ctx context.Context, cfg config.Config, logger *slog.Logger, opt botOptions) (*service, error) {
	w, err := a.wire(ctx, cfg)
	if err != nil {
		return nil, &configError{err}
	}
	policy, err := resolvePolicy(ctx, w.directory, cfg)
	if err != nil {
		return nil, err
	}
	if !policy.RequirePeerApproval {
		logger.Warn("RESETBOT_REQUIRE_PEER_APPROVAL=false: a responder may approve their own request (a request about a responder or a protected person still needs someone else)",
			"audit", "policy")
	}
	st, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("RESETBOT_DATABASE_URL: %w", err)
	}
	m := metrics.New()
	httpClient := edge.Client(a.roots)
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
	if opt.retry != nil {
		execOpts = append(execOpts, reset.WithRetry(*opt.retry))
	}
	b, err := bot.New(bot.Config{
		Slack:         api,
		Socket:        socket,
		Directory:     w.directory,
		Store:         st,
		Executor:      w.executor(logger, execOpts...),
		Policy:        policy,
		TTL:           cfg.RequestTTL,
		Workspace:     bot.Workspace{TeamID: home.TeamID, EnterpriseID: home.EnterpriseID},
		AllowedTeams:  cfg.AllowedTeams,
		Replica:       opt.replica,
		Lease:         opt.lease,
		Sweep:         opt.sweep,
		ProgressEvery: opt.progress,
		HTTPClient:    httpClient,
		Logger:        logger,
		Now:           opt.now,
		Hooks:         bot.Hooks{Acked: m.Acked, Connected: m.Connected, Finished: m.Finished},
	})
	if err != nil {
		_ = st.Close()
		return nil, err
	}
	w.warm(ctx, logger)
	return &service{bot: b, store: st, metrics: m, close: func() { _ = st.Close() }}, nil
}

// slogPrinter lets slack-go's Printf-style logger write through slog.
type slogPrinter struct{ l *slog.Logger }

func (p slogPrinter) Output(_ int, s string) error {
	p.l.Debug(s)
	return nil
}

// redactURL drops the password from a database URL before it is logged.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	return u.Redacted()
}

// defaultReplica names this process by host and pid, which differ between replicas.
func defaultReplica() string {
	host, err := os.Hostname()
	if err != nil {
		host = "resetbot"
	}
	return fmt.Sprintf("%s-%d", host, os.Getpid())
}
