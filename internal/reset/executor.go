package reset

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"time"
)

// Provider is one system a person can be signed out of. Implementations classify their
// errors with [Error] (see [NoAccountError], [RetryableError], [HTTPError]) so the executor
// can tell "no account" from "try again" from "give up". Both methods must honour ctx and be
// safe to call concurrently for different targets.
type Provider interface {
	// Name is the system's short name as users see it: okta, google, zoom, microsoft.
	Name() string
	// Lookup reports whether the target has an account: nil when found, an error matching
	// ErrNoAccount when not, any other error when the system could not be asked.
	Lookup(ctx context.Context, t Target) error
	// Revoke ends every session of the target. Revoking twice is harmless.
	Revoke(ctx context.Context, t Target) error
}

// RetryPolicy bounds how hard the executor tries one provider.
type RetryPolicy struct {
	// MaxAttempts counts the first try; 1 disables retries.
	MaxAttempts int
	// BaseDelay is the first backoff; each retry doubles it, with jitter, up to MaxDelay.
	BaseDelay time.Duration
	MaxDelay  time.Duration
}

// DefaultRetry suits interactive resets: a responder waits at most a few seconds per system.
var DefaultRetry = RetryPolicy{MaxAttempts: 5, BaseDelay: 250 * time.Millisecond, MaxDelay: 10 * time.Second}

// Executor signs one target out of several systems at once. A zero Executor is not usable:
// build it with [NewExecutor].
type Executor struct {
	providers []Provider
	skipped   map[string]string
	order     []string
	deadline  time.Duration
	retry     RetryPolicy
	log       *slog.Logger
	sleep     func(ctx context.Context, d time.Duration) error
	now       func() time.Time
	observer  Observer
	limiter   Limiter
}

// Limiter paces the requests of a batch per provider (package pace implements it). Admit is
// called before every attempt, lookup or revoke, under the attempt's context; when it lets
// the attempt through, the done it returns is called exactly once with the attempt's error.
// A limiter that bounds attempts in flight frees the attempt's place at done or when ctx
// ends, whichever is first, so an attempt that outlives its deadline holds no one up.
type Limiter interface {
	Admit(ctx context.Context, provider string) (done func(error), err error)
}

// Observer hears about every attempt and retry; metrics hang off it. It must not block.
type Observer interface {
	Retried(provider, reason string)
}

// Option configures an Executor.
type Option func(*Executor)

// WithDeadline bounds each provider's whole work (all attempts) so a hanging system ends as
// failed without holding the others back. Default 30s.
func WithDeadline(d time.Duration) Option { return func(e *Executor) { e.deadline = d } }

// WithRetry replaces DefaultRetry.
func WithRetry(p RetryPolicy) Option { return func(e *Executor) { e.retry = p } }

// WithLogger sets where decisions are logged; the default discards them.
func WithLogger(l *slog.Logger) Option { return func(e *Executor) { e.log = l } }

// WithSkipped names systems that are not configured, with the reason shown to users, so a
// missing system is reported as skipped instead of silently dropped.
func WithSkipped(name, reason string) Option {
	return func(e *Executor) {
		e.skipped[name] = reason
		e.order = append(e.order, name)
	}
}

// WithObserver reports retries to o.
func WithObserver(o Observer) Option { return func(e *Executor) { e.observer = o } }

// WithLimiter sends every provider attempt through l. A rate-limit answer (429) is then the
// limiter's to honour: the executor retries it once l lets it through, without spending one
// of RetryPolicy.MaxAttempts, for as long as the deadline allows the wait the provider asked
// for. Without a limiter a 429 is retried like any other retryable error.
func WithLimiter(l Limiter) Option { return func(e *Executor) { e.limiter = l } }

// WithSleep replaces the wait between attempts; tests use it to run without real delays.
func WithSleep(sleep func(ctx context.Context, d time.Duration) error) Option {
	return func(e *Executor) { e.sleep = sleep }
}

// NewExecutor runs the given providers; their order is the order summaries list them in.
func NewExecutor(providers []Provider, opts ...Option) *Executor {
	e := &Executor{
		providers: providers,
		skipped:   map[string]string{},
		deadline:  30 * time.Second,
		retry:     DefaultRetry,
		log:       slog.New(slog.DiscardHandler),
		sleep:     sleepCtx,
		now:       time.Now,
	}
	for _, p := range providers {
		e.order = append(e.order, p.Name())
	}
	for _, o := range opts {
		o(e)
	}
	if e.retry.MaxAttempts < 1 {
		e.retry.MaxAttempts = 1
	}
	return e
}

// Names lists every system the executor knows of, configured or skipped, in summary order.
func (e *Executor) Names() []string { return append([]string(nil), e.order...) }

// Selection restricts a run to some systems; the others end as skipped with reason
// "deselected". A nil Selection runs every configured system.
type Selection map[string]bool

// Run signs t out of every selected system at once and sends each outcome on the returned
// channel as soon as it is known; the channel closes when every system has an outcome. Every
// known system yields exactly one outcome, skipped ones included. Cancelling ctx stops
// retries: systems not yet finished end as failed, retryable.
func (e *Executor) Run(ctx context.Context, t Target, sel Selection) <-chan Outcome {
	out := make(chan Outcome, len(e.order))
	var wg sync.WaitGroup
	for _, name := range e.order {
		if reason, ok := e.skipped[name]; ok {
			out <- Outcome{Provider: name, Status: Skipped, Detail: reason}
		}
	}
	for _, p := range e.providers {
		if sel != nil && !sel[p.Name()] {
			out <- Outcome{Provider: p.Name(), Status: Skipped, Detail: "deselected"}
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			out <- e.revoke(ctx, p, t)
		}()
	}
	go func() {
		wg.Wait()
		close(out)
	}()
	return out
}

// RunAll is Run for callers that only want the end: outcomes in summary order.
func (e *Executor) RunAll(ctx context.Context, t Target, sel Selection) []Outcome {
	got := map[string]Outcome{}
	for o := range e.Run(ctx, t, sel) {
		got[o.Provider] = o
	}
	return e.ordered(got)
}

func (e *Executor) ordered(got map[string]Outcome) []Outcome {
	res := make([]Outcome, 0, len(got))
	for _, name := range e.order {
		if o, ok := got[name]; ok {
			res = append(res, o)
		}
	}
	return res
}

// revoke runs one provider to its outcome under its own deadline.
func (e *Executor) revoke(ctx context.Context, p Provider, t Target) Outcome {
	start := e.now()
	ctx, cancel := context.WithTimeout(ctx, e.deadline)
	defer cancel()
	attempts, used, tried, err := e.underEachName(ctx, p, t, p.Revoke)
	o := Outcome{Provider: p.Name(), Attempts: attempts, Duration: e.now().Sub(start)}
	kind, _, _ := Classify(err)
	switch {
	case err == nil:
		o.Status, o.As, o.Tried = Revoked, aside(t, used), tried
	case kind == NotFound:
		o.Status, o.Tried = NoAccount, tried
	default:
		o.Status = Failed
		o.Detail = err.Error()
		o.Retryable = kind == Retryable
	}
	e.logger(ctx).Info("provider outcome", "audit", "outcome", "provider", o.Provider, "target", t.Login,
		"status", string(o.Status), "attempts", o.Attempts, "duration", o.Duration, "detail", o.Detail)
	return o
}

// ByOktaID is implemented by providers that find a person by their Okta id (the Okta provider
// itself): the names a person goes by elsewhere mean nothing to them.
type ByOktaID interface {
	ByOktaID() bool
}

// underEachName calls do (a lookup or a revoke, with its retries) for t under each of the names
// p may know them by, in order, until one is not "no account". It returns the attempts made,
// the name that answered (or the account the system said it belongs to), and the names that
// found nothing: all of them when none found the person and more than one was asked.
func (e *Executor) underEachName(ctx context.Context, p Provider, t Target, do func(context.Context, Target) error) (attempts int, used string, missed []string, err error) {
	names := t.NamesFor(p.Name())
	if b, ok := p.(ByOktaID); (ok && b.ByOktaID()) || len(names) == 0 {
		n, err := e.attempt(ctx, p.Name(), func(ctx context.Context) error { return do(ctx, t) })
		return n, "", nil, err
	}
	for i, name := range names {
		slot := new(string)
		var n int
		n, err = e.attempt(ctx, p.Name(), func(ctx context.Context) error {
			return do(context.WithValue(ctx, foundKey{}, slot), t.As(name))
		})
		attempts += n
		if i > 0 && refusedName(err) {
			// The first name was asked with the same credentials and found nobody: a later name
			// refused outright is one outside the system's domains (Google answers 403 for a
			// personal secondEmail), which is nobody there either.
			missed = append(missed, name)
			err = NoAccountError(fmt.Errorf("%s refused the name %s: %w", p.Name(), name, err))
			continue
		}
		if kind, _, _ := Classify(err); kind != NotFound || ctx.Err() != nil {
			if err != nil || aside(t, cmp.Or(*slot, name)) == "" {
				missed = nil // a failure, or found as the person is known in Okta: nothing to say
			}
			return attempts, cmp.Or(*slot, name), missed, err
		}
		missed = append(missed, name)
	}
	if len(missed) < 2 {
		missed = nil // one name asked: the login says it all
	}
	return attempts, "", missed, err
}

// refusedName reports a permanent 400 or 403: the system would not take the name asked.
func refusedName(err error) bool {
	var pe *Error
	return errors.As(err, &pe) && pe.Kind == Permanent && (pe.Status == 400 || pe.Status == 403)
}

type foundKey struct{}

// FoundAs lets a provider say which account answered when its system knows the person by
// another name than the one asked (Graph finds a UPN by a proxy address, Google an alias's
// primary address): the plan and summary then name the account that was signed out.
func FoundAs(ctx context.Context, name string) {
	if slot, ok := ctx.Value(foundKey{}).(*string); ok && name != "" {
		*slot = name
	}
}

// aside is the name a person was found under when it is not one they are known by in Okta.
func aside(t Target, used string) string {
	if used == "" || strings.EqualFold(used, t.Login) || strings.EqualFold(used, t.Email) {
		return ""
	}
	return used
}

// attempt calls fn until it succeeds, fails for good, runs out of attempts or ctx ends. It
// returns how many attempts were made and the last error. With a limiter, rate-limited
// attempts are counted in the result but not against MaxAttempts.
func (e *Executor) attempt(ctx context.Context, provider string, fn func(context.Context) error) (int, error) {
	var err error
	spent := 0
	for n := 1; ; n++ {
		if e.limiter != nil {
			done, werr := e.limiter.Admit(ctx, provider)
			if werr != nil {
				if err == nil {
					return n - 1, fmt.Errorf("%s: waiting for the rate limit: %w", provider, werr)
				}
				return n - 1, fmt.Errorf("%w (gave up: %v)", err, werr)
			}
			err = fn(ctx)
			done(err)
		} else {
			err = fn(ctx)
		}
		if err == nil {
			return n, nil
		}
		kind, wait, reason := Classify(err)
		if kind != Retryable {
			return n, err
		}
		if ctx.Err() != nil {
			return n, fmt.Errorf("%w (gave up: %v)", err, context.Cause(ctx))
		}
		paced := e.limiter != nil && reason == "rate_limited"
		if !paced {
			spent++
			if spent >= e.retry.MaxAttempts {
				return n, fmt.Errorf("%w (gave up after %d attempts)", err, n)
			}
			wait = max(wait, e.backoff(spent))
		}
		if dl, ok := ctx.Deadline(); ok && e.now().Add(wait).After(dl) {
			return n, fmt.Errorf("%w (asked to wait %s, past the deadline)", err, wait.Round(time.Millisecond))
		}
		if e.observer != nil {
			e.observer.Retried(provider, reason)
		}
		e.logger(ctx).Info("retrying provider", "audit", "retry", "provider", provider, "attempt", n,
			"reason", reason, "wait", wait, "error", err.Error())
		if paced {
			continue // the limiter holds the next attempt until the provider's wait is over
		}
		if serr := e.sleep(ctx, wait); serr != nil {
			return n, fmt.Errorf("%w (gave up: %v)", err, serr)
		}
	}
}

// loggerKey carries a request's own logger in a context.
type loggerKey struct{}

// WithRequestLogger makes the executor log the work done under ctx with log, which names the
// request (its id), so every line about one reset can be found by that id.
func WithRequestLogger(ctx context.Context, log *slog.Logger) context.Context {
	return context.WithValue(ctx, loggerKey{}, log)
}

// logger is ctx's request logger, or the executor's own.
func (e *Executor) logger(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(loggerKey{}).(*slog.Logger); ok && l != nil {
		return l
	}
	return e.log
}

// backoff is capped exponential backoff with full jitter over its upper half, so replicas that
// failed together do not retry together.
func (e *Executor) backoff(n int) time.Duration {
	d := e.retry.BaseDelay << (n - 1)
	if d <= 0 || d > e.retry.MaxDelay {
		d = e.retry.MaxDelay
	}
	half := d / 2
	if half <= 0 {
		return d
	}
	return half + rand.N(half)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.C:
		return nil
	}
}
