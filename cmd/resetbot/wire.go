package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/resetbot/resetbot/internal/config"
	"github.com/resetbot/resetbot/internal/directory"
	"github.com/resetbot/resetbot/internal/oktaclient"
	"github.com/resetbot/resetbot/internal/pace"
	"github.com/resetbot/resetbot/internal/provider/edge"
	"github.com/resetbot/resetbot/internal/provider/google"
	"github.com/resetbot/resetbot/internal/provider/microsoft"
	"github.com/resetbot/resetbot/internal/provider/okta"
	"github.com/resetbot/resetbot/internal/provider/zoom"
	"github.com/resetbot/resetbot/internal/reset"
)

// system is one configured provider, or the reason it is skipped.
type system struct {
	name     string
	provider checkedProvider // nil when skipped
	skip     string
}

// checkedProvider is what the command line needs of a provider beyond the executor's contract.
type checkedProvider interface {
	reset.Provider
	Check(ctx context.Context) error
}

// wiring is configuration turned into clients.
type wiring struct {
	cfg       config.Config
	directory *directory.Directory
	systems   []system
	// limiter paces every provider call the executor makes and every directory call, so Okta
	// lookups and Okta resets share one queue under the org's one limit.
	limiter *pace.Limiter
}

// configure reads the configuration and checks what a command needs of it.
func (a *app) configure(need config.Need) (config.Config, error) {
	return config.LoadFor(a.env, need)
}

// wireFor is configure then wire, for the commands that talk to the systems. Its errors are
// all configuration errors: nothing has been asked of a system yet.
func (a *app) wireFor(ctx context.Context, need config.Need) (*wiring, error) {
	cfg, err := a.configure(need)
	if err != nil {
		return nil, err
	}
	return a.wire(ctx, cfg)
}

// wire builds the directory and every provider from cfg. It makes no network call.
func (a *app) wire(ctx context.Context, cfg config.Config) (*wiring, error) {
	httpClient := edge.Client(a.roots)
	w := &wiring{cfg: cfg, limiter: newLimiter(cfg.Pace)}

	oc := oktaclient.Config{
		OrgURL:       cfg.Okta.OrgURL,
		APIToken:     cfg.Okta.APIToken,
		ClientID:     cfg.Okta.ClientID,
		PrivateKeyID: cfg.Okta.PrivateKeyID,
		HTTPClient:   httpClient,
		// Both Okta clients below (the directory's and the provider's) report what every
		// answer says of its bucket's window to the limiter: sign-outs pace the "okta" queue,
		// reads the directory's.
		RateObserver: func(b oktaclient.Bucket, win oktaclient.Window) {
			switch b {
			case oktaclient.BucketSessions:
				w.limiter.ObserveWindow("okta", win.Limit, win.Remaining, win.Reset)
			case oktaclient.BucketDirectory:
				w.limiter.ObserveWindow(directory.Provider, win.Limit, win.Remaining, win.Reset)
			}
		},
	}
	if cfg.Okta.PrivateKeyFile != "" {
		pem, err := os.ReadFile(cfg.Okta.PrivateKeyFile)
		if err != nil {
			return nil, fmt.Errorf("OKTA_PRIVATE_KEY_FILE: %w", err)
		}
		oc.PrivateKeyPEM = pem
	}
	if cfg.Okta.Configured() {
		client, err := oktaclient.New(ctx, oc)
		if err != nil {
			return nil, err
		}
		w.directory = directory.New(client, directory.WithLimiter(w.limiter))
		p, err := okta.New(ctx, okta.Config(oc))
		if err != nil {
			return nil, err
		}
		w.add("okta", p, "")
	} else {
		w.add("okta", nil, "not configured: OKTA_ORG_URL is not set")
	}

	if cfg.Google.Configured() {
		key, err := os.ReadFile(cfg.Google.CredentialsFile)
		if err != nil {
			return nil, fmt.Errorf("GOOGLE_APPLICATION_CREDENTIALS: %w", err)
		}
		p, err := google.New(ctx, google.Config{CredentialsJSON: key, Subject: cfg.Google.Subject, APIURL: cfg.Google.APIURL, HTTPClient: httpClient})
		if err != nil {
			return nil, err
		}
		w.add("google", p, "")
	} else {
		w.add("google", nil, "not configured: GOOGLE_APPLICATION_CREDENTIALS is not set")
	}

	if cfg.Zoom.Configured() {
		p, err := zoom.New(ctx, zoom.Config{AccountID: cfg.Zoom.AccountID, ClientID: cfg.Zoom.ClientID, ClientSecret: cfg.Zoom.ClientSecret,
			APIURL: cfg.Zoom.APIURL, OAuthURL: cfg.Zoom.OAuthURL, HTTPClient: httpClient})
		if err != nil {
			return nil, fmt.Errorf("zoom: %w", err)
		}
		w.add("zoom", p, "")
	} else {
		w.add("zoom", nil, "not configured: ZOOM_ACCOUNT_ID is not set")
	}

	if cfg.Microsoft.Configured() {
		p, err := microsoft.New(ctx, microsoft.Config{TenantID: cfg.Microsoft.TenantID, ClientID: cfg.Microsoft.ClientID, ClientSecret: cfg.Microsoft.ClientSecret,
			AuthorityHost: cfg.Microsoft.AuthorityHost, GraphURL: cfg.Microsoft.GraphURL, HTTPClient: httpClient})
		if err != nil {
			return nil, fmt.Errorf("microsoft: %w", err)
		}
		w.add("microsoft", p, "")
	} else {
		w.add("microsoft", nil, "not configured: AZURE_TENANT_ID is not set")
	}
	return w, nil
}

// newLimiter paces each provider at its configured rate, with no burst: a token bucket lets
// burst + rate requests through in a second, so any burst above one would let a rate set just
// under a provider's per-second limit break it (a 429, a pause and a lowered rate) every time
// a batch starts on a rested bucket.
func newLimiter(p config.Pace) *pace.Limiter {
	paceOf := func(rate float64) pace.Config {
		return pace.Config{Rate: rate, Burst: 1, Concurrency: p.Concurrency}
	}
	opts := make([]pace.Option, 0, len(p.Rates)+1)
	for name, rate := range p.Rates {
		opts = append(opts, pace.WithProvider(name, paceOf(rate)))
	}
	// Okta's reads have their own buckets, at the rate configured for Okta.
	opts = append(opts, pace.WithProvider(directory.Provider, paceOf(p.Rates["okta"])))
	return pace.New(paceOf(p.Rates["okta"]), opts...)
}

// paceLine says how fast each configured system is asked: "requests/s at most: okta 10, …".
func (w *wiring) paceLine() string {
	var parts []string
	for _, s := range w.systems {
		if s.provider != nil {
			parts = append(parts, fmt.Sprintf("%s %g", s.name, w.cfg.Pace.Rates[s.name]))
		}
	}
	return "requests/s at most: " + strings.Join(parts, ", ")
}

func (w *wiring) add(name string, p checkedProvider, skip string) {
	w.systems = append(w.systems, system{name: name, provider: p, skip: skip})
}

// executor runs the configured systems; unconfigured ones are reported as skipped. Every
// attempt is paced by the wiring's limiter unless opts bring their own (`reset --file`).
func (w *wiring) executor(log *slog.Logger, opts ...reset.Option) *reset.Executor {
	var providers []reset.Provider
	for _, s := range w.systems {
		if s.provider != nil {
			providers = append(providers, s.provider)
		}
	}
	opts = append([]reset.Option{reset.WithLogger(log), reset.WithDeadline(45 * time.Second), reset.WithLimiter(w.limiter)}, opts...)
	for _, s := range w.systems {
		if s.provider == nil {
			opts = append(opts, reset.WithSkipped(s.name, s.skip))
		}
	}
	return reset.NewExecutor(providers, opts...)
}

// warm fetches every provider's access token ahead of the first reset, so a responder never
// waits on a token fetch; failures are only logged here, `check` reports them properly.
func (w *wiring) warm(ctx context.Context, log *slog.Logger) {
	for _, s := range w.systems {
		if s.provider == nil {
			continue
		}
		go func() {
			if err := s.provider.Check(ctx); err != nil {
				log.Warn("credentials check failed", "provider", s.name, "error", err.Error())
			}
		}()
	}
}
