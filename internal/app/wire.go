// Package app turns resetbot's configuration into working parts: the directory and the
// providers behind one limiter, the bot with its store and metrics, and the HTTP front (probes,
// metrics, the Okta hook). The command line, the demo and the end-to-end tests all build
// resetbot here, so they run what a deployment runs.
package app

import (
	"context"
	"crypto/x509"
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
	slacksessions "github.com/resetbot/resetbot/internal/provider/slack"
	"github.com/resetbot/resetbot/internal/provider/zoom"
	"github.com/resetbot/resetbot/internal/reset"
)

// System is one configured provider, or the reason it is skipped.
type System struct {
	Name     string
	Provider CheckedProvider // nil when skipped
	Skip     string
}

// CheckedProvider is what the command line needs of a provider beyond the executor's contract.
type CheckedProvider interface {
	reset.Provider
	Check(ctx context.Context) error
}

// Wiring is configuration turned into clients.
type Wiring struct {
	Config    config.Config
	Directory *directory.Directory
	Systems   []System
	// Limiter paces every provider call the executor makes and every directory call, so Okta
	// lookups and Okta resets share one queue under the org's one limit.
	Limiter *pace.Limiter
}

// WireFor reads the configuration a command needs, then wires it. Its errors are all
// configuration errors (ConfigError): nothing has been asked of a system yet.
func WireFor(ctx context.Context, env config.Getenv, roots *x509.CertPool, need config.Need) (*Wiring, error) {
	cfg, err := config.LoadFor(env, need)
	if err != nil {
		return nil, &ConfigError{err}
	}
	return Wire(ctx, cfg, roots)
}

// Wire builds the directory and every provider from cfg, trusting roots besides the system's
// (nil: the system's only). It makes no network call, so every error is a ConfigError.
func Wire(ctx context.Context, cfg config.Config, roots *x509.CertPool) (*Wiring, error) {
	httpClient := edge.Client(roots)
	w := &Wiring{Config: cfg, Limiter: NewLimiter(cfg.Pace)}

	oc := oktaclient.Config{
		OrgURL:       cfg.Okta.OrgURL,
		APIToken:     cfg.Okta.APIToken,
		ClientID:     cfg.Okta.ClientID,
		PrivateKeyID: cfg.Okta.PrivateKeyID,
		HTTPClient:   httpClient,
		// The Okta clients below (the directory's and the provider's) report what every
		// answer says of its bucket's window to the limiter: sign-outs pace the "okta" queue,
		// reads the directory's. The user schema, which only `check` reads, is counted in a
		// bucket of its own and paces nothing.
		RateObserver: func(b oktaclient.Bucket, win oktaclient.Window) {
			switch b {
			case oktaclient.BucketSessions:
				w.Limiter.ObserveWindow("okta", win.Limit, win.Remaining, win.Reset)
			case oktaclient.BucketDirectory:
				w.Limiter.ObserveWindow(directory.Provider, win.Limit, win.Remaining, win.Reset)
			}
		},
	}
	if cfg.Okta.PrivateKeyFile != "" {
		pem, err := os.ReadFile(cfg.Okta.PrivateKeyFile)
		if err != nil {
			return nil, &ConfigError{fmt.Errorf("OKTA_PRIVATE_KEY_FILE: %w", err)}
		}
		oc.PrivateKeyPEM = pem
	}
	if cfg.Okta.Configured() {
		client, err := oktaclient.New(ctx, oc)
		if err != nil {
			return nil, &ConfigError{err}
		}
		dirOpts := []directory.Option{directory.WithLimiter(w.Limiter), directory.WithIDAttributes(cfg.IDAttributes)}
		if oc.ServiceApp() {
			// `check` reads the user schema with a token of its own: asking for
			// okta.schemas.read with the directory's would make Okta refuse every token of an
			// app not granted it, and resetbot itself does not need it.
			sc := oc
			sc.Scopes = []string{oktaclient.ScopeSchemasRead}
			schemas, err := oktaclient.New(ctx, sc)
			if err != nil {
				return nil, &ConfigError{err}
			}
			dirOpts = append(dirOpts, directory.WithSchemaClient(schemas))
		}
		w.Directory = directory.New(client, dirOpts...)
		p, err := okta.New(ctx, okta.Config(oc))
		if err != nil {
			return nil, &ConfigError{err}
		}
		w.add("okta", p, "")
	} else {
		w.add("okta", nil, "not configured: OKTA_ORG_URL is not set")
	}

	if cfg.Google.Configured() {
		key, err := os.ReadFile(cfg.Google.CredentialsFile)
		if err != nil {
			return nil, &ConfigError{fmt.Errorf("GOOGLE_APPLICATION_CREDENTIALS: %w", err)}
		}
		p, err := google.New(ctx, google.Config{CredentialsJSON: key, Subject: cfg.Google.Subject, APIURL: cfg.Google.APIURL, HTTPClient: httpClient})
		if err != nil {
			return nil, &ConfigError{err}
		}
		w.add("google", p, "")
	} else {
		w.add("google", nil, "not configured: GOOGLE_APPLICATION_CREDENTIALS is not set")
	}

	if cfg.Zoom.Configured() {
		p, err := zoom.New(ctx, zoom.Config{AccountID: cfg.Zoom.AccountID, ClientID: cfg.Zoom.ClientID, ClientSecret: cfg.Zoom.ClientSecret,
			APIURL: cfg.Zoom.APIURL, OAuthURL: cfg.Zoom.OAuthURL, HTTPClient: httpClient})
		if err != nil {
			return nil, &ConfigError{fmt.Errorf("zoom: %w", err)}
		}
		w.add("zoom", p, "")
	} else {
		w.add("zoom", nil, "not configured: ZOOM_ACCOUNT_ID is not set")
	}

	if cfg.Microsoft.Configured() {
		p, err := microsoft.New(ctx, microsoft.Config{TenantID: cfg.Microsoft.TenantID, ClientID: cfg.Microsoft.ClientID, ClientSecret: cfg.Microsoft.ClientSecret,
			AuthorityHost: cfg.Microsoft.AuthorityHost, GraphURL: cfg.Microsoft.GraphURL, HTTPClient: httpClient})
		if err != nil {
			return nil, &ConfigError{fmt.Errorf("microsoft: %w", err)}
		}
		w.add("microsoft", p, "")
	} else {
		w.add("microsoft", nil, "not configured: AZURE_TENANT_ID is not set")
	}

	if cfg.Slack.SessionsConfigured() {
		p, err := slacksessions.New(ctx, slacksessions.Config{AdminToken: cfg.Slack.AdminToken, APIURL: cfg.Slack.APIURL, HTTPClient: httpClient})
		if err != nil {
			return nil, &ConfigError{err}
		}
		w.add("slack", p, "")
	} else {
		w.add("slack", nil, "not configured: SLACK_ADMIN_TOKEN is not set")
	}
	return w, nil
}

// NewLimiter paces each provider at its configured rate, with no burst: a token bucket lets
// burst + rate requests through in a second, so any burst above one would let a rate set just
// under a provider's per-second limit break it (a 429, a pause and a lowered rate) every time
// a batch starts on a rested bucket.
func NewLimiter(p config.Pace) *pace.Limiter {
	paceOf := func(rate float64) pace.Config {
		return pace.Config{Rate: rate, Burst: 1, Concurrency: p.Concurrency}
	}
	opts := make([]pace.Option, 0, len(p.Rates)+1)
	for name, rate := range p.Rates {
		opts = append(opts, pace.WithProvider(name, paceOf(rate)))
	}
	// Okta's reads have their own queue, at the rate configured for Okta, and follow Okta's
	// windows together with its sign-outs: an org may count both in one bucket.
	opts = append(opts, pace.WithProvider(directory.Provider, paceOf(p.Rates["okta"])),
		pace.WithSharedWindow("okta", directory.Provider))
	return pace.New(paceOf(p.Rates["okta"]), opts...)
}

// PaceLine says how fast each configured system is asked: "requests/s at most: okta 10, …".
func (w *Wiring) PaceLine() string {
	var parts []string
	for _, s := range w.Systems {
		if s.Provider != nil {
			parts = append(parts, fmt.Sprintf("%s %g", s.Name, w.Config.Pace.Rates[s.Name]))
		}
	}
	return "requests/s at most: " + strings.Join(parts, ", ")
}

func (w *Wiring) add(name string, p CheckedProvider, skip string) {
	w.Systems = append(w.Systems, System{Name: name, Provider: p, Skip: skip})
}

// Executor runs the configured systems; unconfigured ones are reported as skipped. Every
// attempt is paced by the wiring's limiter unless opts bring their own (`reset --file`).
func (w *Wiring) Executor(log *slog.Logger, opts ...reset.Option) *reset.Executor {
	var providers []reset.Provider
	for _, s := range w.Systems {
		if s.Provider != nil {
			providers = append(providers, s.Provider)
		}
	}
	opts = append([]reset.Option{reset.WithLogger(log), reset.WithDeadline(45 * time.Second), reset.WithLimiter(w.Limiter)}, opts...)
	for _, s := range w.Systems {
		if s.Provider == nil {
			opts = append(opts, reset.WithSkipped(s.Name, s.Skip))
		}
	}
	return reset.NewExecutor(providers, opts...)
}

// Warm fetches every provider's access token ahead of the first reset, so a responder never
// waits on a token fetch; failures are only logged here, `check` reports them properly.
func (w *Wiring) Warm(ctx context.Context, log *slog.Logger) {
	for _, s := range w.Systems {
		if s.Provider == nil {
			continue
		}
		go func() {
			if err := s.Provider.Check(ctx); err != nil {
				log.Warn("credentials check failed", "provider", s.Name, "error", err.Error())
			}
		}()
	}
}
