package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/resetbot/resetbot/bot"
	"github.com/resetbot/resetbot/internal/config"
	"github.com/resetbot/resetbot/internal/hook"
)

// Front is resetbot's HTTP side on RESETBOT_HTTP_ADDR: liveness and readiness probes, the
// Prometheus scrape and, when configured, the Okta event hook.
type Front struct {
	srv  *http.Server
	ln   net.Listener
	hook *hook.Handler // nil when no Okta event starts anything
	// worker works on the events the hook stored; nil with the hook.
	worker *hook.Worker
	served chan error
	log    *slog.Logger
}

// How long the front waits on the way out for requests in progress (a delivery being stored).
const frontShutdown = 15 * time.Second

// StartFront listens on cfg.HTTPAddr and serves until shutdown. Listening happens here, before
// the bot starts, so a taken port stops startup with an error naming the variable.
func StartFront(cfg config.Config, svc *Service, logger *slog.Logger) (*Front, error) {
	handler, hk, err := frontHandler(cfg, svc, logger)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return nil, fmt.Errorf("RESETBOT_HTTP_ADDR: %w", err)
	}
	f := &Front{
		srv: &http.Server{
			Handler: handler,
			// Okta and Prometheus send small requests quickly; slow clients are cut off.
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       15 * time.Second,
			WriteTimeout:      30 * time.Second,
			IdleTimeout:       2 * time.Minute,
			MaxHeaderBytes:    64 << 10,
			ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		},
		ln: ln, hook: hk, served: make(chan error, 1), log: logger,
	}
	if hk != nil {
		f.worker = hook.NewWorker(hook.WorkerConfig{
			Store: svc.Store, Submitter: svc.Bot, Observer: svc.Metrics, Logger: logger.With("component", "okta-hook"),
			Replica: svc.Bot.Replica(), RetryFor: cfg.OktaHook.RetryFor, Poll: svc.opt.EventPoll, Backoff: svc.opt.EventBackoff,
			EventTimeout: svc.opt.EventTimeout,
		})
	}
	go func() { f.served <- f.srv.Serve(ln) }()
	logger.Info("http listening", "addr", ln.Addr().String(), "okta_hook", hk != nil)
	return f, nil
}

// URL is where the front listens, e.g. http://127.0.0.1:43117.
func (f *Front) URL() string { return "http://" + f.ln.Addr().String() }

// shutdown stops taking deliveries and requests. What the hook accepted is in the inbox.
func (f *Front) shutdown() {
	if f.hook != nil {
		f.hook.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), frontShutdown)
	defer cancel()
	if err := f.srv.Shutdown(ctx); err != nil {
		f.log.Warn("http shutdown", "error", err.Error())
	}
}

// frontHandler routes the front's paths. It is separate from the listener so tests can serve
// it with httptest as well.
func frontHandler(cfg config.Config, svc *Service, logger *slog.Logger) (http.Handler, *hook.Handler, error) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.Handle("GET /readyz", readiness{store: svc.Store, slack: svc.Bot, log: logger})
	mux.Handle("GET /metrics", svc.Metrics.Handler())
	var hk *hook.Handler
	if h := cfg.OktaHook; h.Enabled() {
		var err error
		hk, err = hook.New(hook.Config{
			Secret:  h.Secret,
			Header:  h.Header,
			Channel: cfg.AlertChannel,
			Policies: map[string]hook.Policy{
				hook.Suspend:            hook.Policy(h.Suspend),
				hook.SuspiciousActivity: hook.Policy(h.SuspiciousActivity),
				hook.PasswordReset:      hook.Policy(h.AdminPasswordReset),
			},
			Inbox:    svc.Store,
			Observer: svc.Metrics,
			Logger:   logger.With("component", "okta-hook"),
		})
		if err != nil {
			return nil, nil, err
		}
		mux.Handle("/hooks/okta", hk)
	}
	return mux, hk, nil
}

// pinger is the store as readiness sees it; *store.Store satisfies it.
type pinger interface {
	Ping(ctx context.Context) error
}

// connection is the bot as readiness sees it; *bot.Bot satisfies it.
type connection interface {
	Connected() bool
}

// readiness answers 200 only when resetbot can do its job: the store answers and the Slack
// socket is up. The reasons it gives are short on purpose — the hook's listener may be public —
// and the details go to the log.
type readiness struct {
	store pinger
	slack connection
	log   *slog.Logger
}

func (rd readiness) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	var problems []string
	if err := rd.store.Ping(ctx); err != nil {
		problems = append(problems, "store unreachable")
		rd.log.Warn("not ready: store unreachable", "error", err.Error())
	}
	if !rd.slack.Connected() {
		problems = append(problems, "slack socket mode not connected")
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if len(problems) > 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, "not ready: %s\n", strings.Join(problems, "; "))
		return
	}
	fmt.Fprintln(w, "ready")
}

// Serve runs the bot, and the front when there is one, until ctx ends or either fails. On the
// way out the front closes first — Okta gets no new deliveries, and those already answered
// still reach a bot that takes them — and then the bot stops as it always does.
func Serve(ctx context.Context, b *bot.Bot, f *Front, grace time.Duration) error {
	if f == nil {
		return b.Run(ctx, grace)
	}
	botCtx, stopBot := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBot()
	botDone := make(chan error, 1)
	go func() { botDone <- b.Run(botCtx, grace) }()
	if f.worker != nil {
		// The inbox is worked on while the bot takes work; an event the worker holds at the
		// end stays in the inbox for whoever is alive.
		worked := make(chan struct{})
		go func() { defer close(worked); f.worker.Run(botCtx) }()
		defer func() { stopBot(); <-worked }()
	}
	select {
	case <-ctx.Done():
		f.shutdown()
		stopBot()
		return <-botDone
	case err := <-botDone:
		f.shutdown()
		return err
	case err := <-f.served:
		// The listener failed under us: without it neither probes nor Okta reach resetbot, so
		// stop and let the supervisor restart the process.
		stopBot()
		if berr := <-botDone; berr != nil {
			err = errors.Join(err, berr)
		}
		f.shutdown()
		return fmt.Errorf("http listener on RESETBOT_HTTP_ADDR stopped: %w", err)
	}
}
