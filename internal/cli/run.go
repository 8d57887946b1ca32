package cli

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/resetbot/resetbot/internal/app"
	"github.com/resetbot/resetbot/internal/config"
	"github.com/resetbot/resetbot/internal/store"
)

// runBot connects to Slack and serves until SIGINT/SIGTERM.
func (a *invocation) runBot(ctx context.Context, args []string) int {
	fs := a.flags("run", "run [--grace 30s] [--lease 30s] [--replica NAME] [--event-timeout 30s]")
	grace := fs.Duration("grace", 30*time.Second, "on SIGTERM, how long running resets may take to finish before their leases are released")
	lease := fs.Duration("lease", 30*time.Second, "how long another replica waits before finishing a reset whose replica stopped renewing")
	replica := fs.String("replica", app.DefaultReplica(), "this replica's name in leases and the audit log (must differ between replicas)")
	eventTimeout := fs.Duration("event-timeout", 30*time.Second, "how long one Okta event may take to become a card or a reset; an event whose replica died\n"+
		"is taken by another after twice that")
	if code, ok := a.parse(fs, args); !ok {
		return code
	}
	if *eventTimeout < time.Second {
		fmt.Fprintln(a.stderr, "resetbot run: --event-timeout must be at least 1s")
		return exitUsage
	}
	if *lease < 3*time.Second {
		fmt.Fprintln(a.stderr, "resetbot run: --lease must be at least 3s: it is renewed every third of it")
		return exitUsage
	}
	cfg, err := config.LoadFor(a.env.Getenv, config.Need{Slack: true, Policy: true})
	if err != nil {
		fmt.Fprintf(a.stderr, "resetbot run: %v\n", err)
		return exitUsage
	}
	// RESETBOT_LOG_LEVEL=debug adds slack-go's own lines; info (the default) has every decision.
	logger := slog.New(slog.NewJSONHandler(a.stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	svc, err := app.BuildBot(ctx, cfg, logger, app.BotOptions{Replica: *replica, Lease: *lease, EventTimeout: *eventTimeout, Roots: a.env.Roots})
	if err != nil {
		fmt.Fprintf(a.stderr, "resetbot run: %v\n", err)
		return exitFor(err)
	}
	defer svc.Close()
	var f *app.Front
	if cfg.HTTPAddr != "" {
		if f, err = app.StartFront(cfg, svc, logger); err != nil {
			fmt.Fprintf(a.stderr, "resetbot run: %v\n", err)
			return exitFor(err) // a port already taken is not the configuration's fault
		}
	}
	logger.Info("resetbot starting", "version", a.env.Version, "database", store.Describe(cfg.DatabaseURL))
	if err := app.Serve(ctx, svc.Bot, f, *grace); err != nil {
		logger.Error("resetbot stopped", "error", err.Error())
		return exitRuntime
	}
	logger.Info("resetbot stopped")
	return exitOK
}
