// Package pace keeps resetbot under each provider's rate limit. Every provider gets its own
// token bucket and its own bound on requests in flight, and the bucket listens to the provider:
// a 429 pauses that provider's whole queue for as long as it asked and lowers the rate, and a
// run of successes raises it again towards the configured rate. A provider that announces its
// window (Okta's X-Rate-Limit-Remaining and X-Rate-Limit-Reset) is also kept within it before
// any 429, which matters because other clients of the same org spend the same limit; queues
// that may spend one window (Okta's reads and sign-outs) follow it together (WithSharedWindow).
// A limit hit is then a short wait, never a failure, and one slow provider never holds the
// others back.
package pace

import (
	"context"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/resetbot/resetbot/internal/reset"
)

// Config is one provider's pace.
type Config struct {
	// Rate is the starting and highest rate, in requests per second.
	Rate float64
	// Burst is how many requests may start at once after a quiet spell; at least 1.
	Burst int
	// Concurrency bounds requests in flight; 0 means Burst.
	Concurrency int
	// MinRate is the lowest the rate falls after repeated 429s; 0 means Rate/10.
	MinRate float64
	// Backoff multiplies the rate after a 429; 0 means 0.5.
	Backoff float64
	// RecoverAfter is how many successes in a row raise the rate by a tenth of Rate; 0 means 20.
	RecoverAfter int
	// Pause is how long a 429 that named no wait stops the queue; 0 means one second.
	Pause time.Duration
	// Reserve is the most requests of an announced window left to the provider's other
	// clients (other integrations share an Okta org's limit); 0 means 2. A window whose limit
	// is known keeps back a hundredth of it, rounded down, and at most Reserve: a window of
	// 600 keeps 2, one of 100 to 199 keeps 1, and one under 100 keeps none, since a whole
	// request there would be more than its hundredth (one of a window of 20 is a twentieth,
	// 5 % of the pace).
	Reserve int
}

func (c Config) withDefaults() Config {
	if c.Rate <= 0 {
		c.Rate = 10
	}
	if c.Burst < 1 {
		c.Burst = 1
	}
	if c.Concurrency < 1 {
		c.Concurrency = c.Burst
	}
	if c.MinRate <= 0 || c.MinRate > c.Rate {
		c.MinRate = c.Rate / 10
	}
	if c.Backoff <= 0 || c.Backoff >= 1 {
		c.Backoff = 0.5
	}
	if c.RecoverAfter < 1 {
		c.RecoverAfter = 20
	}
	if c.Pause <= 0 {
		c.Pause = time.Second
	}
	if c.Reserve < 1 {
		c.Reserve = 2
	}
	return c
}

// Clock is the time the limiter reads and waits on; tests pass a fake one.
type Clock interface {
	Now() time.Time
	// Sleep waits d or until ctx ends, returning ctx's cause then.
	Sleep(ctx context.Context, d time.Duration) error
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }
func (realClock) Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.C:
		return nil
	}
}

// Limiter paces every provider separately. It implements reset.Limiter; build it with [New].
type Limiter struct {
	def   Config
	per   map[string]Config
	clock Clock

	// shared names, for each provider following windows together with others, its family
	// (the first provider's name); see WithSharedWindow. Any other provider is its own family.
	shared map[string]string

	mu        sync.Mutex
	providers map[string]*bucket
	// budgets are the windows each family has heard of, one per size announced.
	budgets map[string][]*budget
}

var _ reset.Limiter = (*Limiter)(nil)

// Option configures a Limiter.
type Option func(*Limiter)

// WithProvider gives one provider its own pace instead of the default.
func WithProvider(name string, c Config) Option {
	return func(l *Limiter) { l.per[name] = c.withDefaults() }
}

// WithSharedWindow makes the providers named, queues of one system, follow what that system
// announces of its rate-limit windows together. It is for a system that counts requests in
// buckets of its own choosing: Okta counts its endpoints in separate buckets, but which
// endpoints share one is up to the org, and its limits are shared with every other
// integration of the org. Two queues that each followed the window their own answers announce
// would, when the system counts both in one bucket, each think they had the whole window and
// spend it twice.
//
// So the family tells its windows apart by their size (X-Rate-Limit-Limit): answers announcing
// the same size may come from one bucket, and are followed as one window, which a request of
// any queue that heard of it spends and an answer to any of them updates (the lower report
// wins, as for one queue); answers announcing different sizes certainly come from different
// buckets and are followed apart, so separate buckets keep their whole windows. A queue that
// has not heard of any window yet spends every window of its family, and every request of the
// family in flight is taken off what an answer says is left: until its answers say where it is
// counted, a queue is taken to be counted everywhere. Each queue keeps its own rate and bound
// on requests in flight.
func WithSharedWindow(providers ...string) Option {
	return func(l *Limiter) {
		if len(providers) == 0 {
			return
		}
		for _, p := range providers {
			l.shared[p] = providers[0]
		}
	}
}

// WithClock replaces the wall clock; tests use it to run without real waits.
func WithClock(c Clock) Option { return func(l *Limiter) { l.clock = c } }

// New paces every provider at def unless an option names its own pace.
func New(def Config, opts ...Option) *Limiter {
	l := &Limiter{def: def.withDefaults(), per: map[string]Config{}, shared: map[string]string{}, clock: realClock{},
		providers: map[string]*bucket{}, budgets: map[string][]*budget{}}
	for _, o := range opts {
		o(l)
	}
	return l
}

// bucket is one provider's state. Its fields are guarded by Limiter.mu; slots is the bound on
// requests in flight.
type bucket struct {
	cfg       Config
	rate      float64
	tokens    float64
	last      time.Time
	pausedTo  time.Time
	successes int
	family    string
	// budgets are the announced windows this queue spends: one per window size its answers
	// announced, shared with the queues of its family that heard of the same size.
	budgets []*budget
	slots   chan struct{}
	// inflight counts requests let through whose slot has not gone back (see Admit); slots
	// also holds those still waiting for a token, which the provider has not counted.
	inflight int
}

// budget is one announced window of a family's: its size, and what is left of it. Its fields
// are guarded by Limiter.mu.
type budget struct {
	limit  int // X-Rate-Limit-Limit; 0 when not announced
	window window
}

// window is what the provider last announced of its own rate-limit window: how many more
// requests this limiter may start before end, the reserve and the requests already in flight
// taken off. A zero end means no window is known, and the configured pace alone applies.
type window struct {
	left float64
	end  time.Time
}

// expire forgets a window that has ended: the provider's count has started again.
func (b *budget) expire(now time.Time) {
	if !b.window.end.IsZero() && !now.Before(b.window.end) {
		b.window = window{}
	}
}

// spends is the windows a request of b is taken off, the ended ones forgotten: those it has
// heard of, or, for a queue that has heard of none, every window of its family.
func (l *Limiter) spends(b *bucket, now time.Time) []*budget {
	buds := b.budgets
	if len(buds) == 0 {
		buds = l.budgets[b.family]
	}
	for _, bud := range buds {
		bud.expire(now)
	}
	return buds
}

// pace is the rate requests may start at now: the bucket's own rate, or less when an announced
// window it spends would otherwise run dry before it ends. It reports whether a window is what
// limits. Queues sharing a window each spread what is left of it: together they may start
// faster than the spread, never more than is left, since every start is taken off it.
func (b *bucket) pace(now time.Time, buds []*budget) (float64, bool) {
	rate, spread := b.rate, false
	for _, bud := range buds {
		w := bud.window
		if w.end.IsZero() {
			continue
		}
		if r := w.left / w.end.Sub(now).Seconds(); r < rate {
			rate, spread = r, true
		}
	}
	return rate, spread
}

// inflight is how many requests of b's family are in flight. The caller holds l.mu.
func (l *Limiter) inflight(family string) int {
	n := 0
	for _, q := range l.providers {
		if q.family == family {
			n += q.inflight
		}
	}
	return n
}

func (l *Limiter) bucket(provider string) *bucket {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.providers[provider]
	if !ok {
		cfg, ok := l.per[provider]
		if !ok {
			cfg = l.def
		}
		family, ok := l.shared[provider]
		if !ok {
			family = provider
		}
		b = &bucket{cfg: cfg, rate: cfg.Rate, tokens: float64(cfg.Burst), last: l.clock.Now(),
			family: family, slots: make(chan struct{}, cfg.Concurrency)}
		l.providers[provider] = b
	}
	return b
}

// Admit blocks until provider may be sent one more request: a slot in flight is free, no 429
// pause is running and the bucket holds a token. It returns ctx's cause when ctx ends first.
//
// Otherwise it returns done, which the caller calls once with the request's error when the
// request ends (see Done for what the error does). The request's slot goes back at done or
// when ctx ends, whichever comes first: a request whose SDK ignores ctx, or that hangs, must
// not keep its provider's slot past the deadline it was admitted under, or Concurrency such
// requests would stop every later one. A done that comes after ctx ended frees nothing more,
// but its error still counts (a late 429 still pauses the queue).
func (l *Limiter) Admit(ctx context.Context, provider string) (done func(error), err error) {
	b := l.bucket(provider)
	if err := l.acquire(ctx, b); err != nil {
		return nil, err
	}
	var (
		released atomic.Bool
		reported sync.Once
	)
	release := func() {
		if released.CompareAndSwap(false, true) {
			l.free(b)
		}
	}
	stop := context.AfterFunc(ctx, release)
	return func(err error) {
		stop()
		reported.Do(func() { l.report(b, err) })
		release()
	}, nil
}

// Wait is Admit for a caller that reports with Done instead of keeping a done: the slot it
// takes is held until Done, however long that is, so a request that may hang goes through
// Admit. Every nil return must be followed by exactly one Done for the same provider.
func (l *Limiter) Wait(ctx context.Context, provider string) error {
	return l.acquire(ctx, l.bucket(provider))
}

// Done reports how a request Wait let through ended, and gives its slot back. A rate-limit
// answer pauses the provider's queue until the wait it asked for (or Config.Pause) and lowers
// the rate, once per pause however many requests in flight hit it; anything else counts
// towards raising the rate again, since only a 429 says the pace was too high.
func (l *Limiter) Done(provider string, err error) {
	b := l.bucket(provider)
	l.report(b, err)
	l.free(b)
}

// acquire takes a slot in flight for one request, then waits for a token (see Admit).
func (l *Limiter) acquire(ctx context.Context, b *bucket) error {
	select {
	case b.slots <- struct{}{}:
	case <-ctx.Done():
		return context.Cause(ctx)
	}
	for {
		d := l.take(b)
		if d <= 0 {
			return nil
		}
		if err := l.clock.Sleep(ctx, d); err != nil {
			<-b.slots
			return err
		}
	}
}

// free gives back the slot of a request let through: it is no longer in flight. The answer
// is taken in (report) before, so a request waiting for the slot sees the pause a 429 starts.
func (l *Limiter) free(b *bucket) {
	l.mu.Lock()
	b.inflight = max(b.inflight-1, 0)
	l.mu.Unlock()
	<-b.slots
}

// take spends a token when one is there and returns 0, or returns how long to wait before
// asking again (the rest of a pause or of a spent window, or until the next token).
func (l *Limiter) take(b *bucket) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock.Now()
	if now.Before(b.pausedTo) {
		return b.pausedTo.Sub(now)
	}
	buds := l.spends(b, now)
	for _, bud := range buds {
		if !bud.window.end.IsZero() && bud.window.left < 1 {
			return bud.window.end.Sub(now)
		}
	}
	rate, spread := b.pace(now, buds)
	burst := float64(b.cfg.Burst)
	if spread {
		// A burst is what the bucket saved while idle; under a window it is at most a second's
		// worth of the spread pace, so the window's requests stay spread over it.
		burst = min(burst, max(1, rate))
	}
	if el := now.Sub(b.last); el > 0 {
		b.tokens = b.tokens + el.Seconds()*rate
	}
	b.tokens = min(burst, b.tokens)
	b.last = now
	if b.tokens >= 1-1e-9 { // a token computed from a rounded wait may fall short by a hair
		b.tokens = max(b.tokens-1, 0)
		for _, bud := range buds {
			if !bud.window.end.IsZero() {
				bud.window.left--
			}
		}
		b.inflight++
		return 0
	}
	d := time.Duration(math.Ceil((1 - b.tokens) / rate * float64(time.Second)))
	for _, bud := range buds {
		if !bud.window.end.IsZero() {
			d = min(d, bud.window.end.Sub(now)) // when a window ends the configured pace is back
		}
	}
	return d
}

// ObserveWindow takes in what the provider said of its rate-limit window in an answer: only
// remaining more requests are allowed until resetAt (Okta's X-Rate-Limit-Remaining and
// X-Rate-Limit-Reset, which every Okta answer carries). Until resetAt the provider's requests
// are spread so that the window lasts, never faster than the configured pace, keeping
// a reserve (Config.Reserve) for the provider's other clients; when nothing is left beyond it, its
// queue pauses until resetAt. From resetAt the configured pace applies again.
//
// Requests in flight other than the one answered may not have been counted yet, so they are
// taken off too. Answers arrive out of order, so of two reports on the same window the lower
// count wins; a provider counting several windows at once (Okta keeps one per endpoint) is
// held to the tighter one, and to every window of a different size it announces. Queues
// following windows together (WithSharedWindow) are one provider here for windows of the same
// size, and the requests of all of them in flight come off what is left. A window that has
// already ended says nothing and is ignored. It is cheap and never blocks: transports call it
// on every answer.
// limit is the window's size (X-Rate-Limit-Limit), 0 when not known.
func (l *Limiter) ObserveWindow(provider string, limit, remaining int, resetAt time.Time) {
	b := l.bucket(provider)
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock.Now()
	if !resetAt.After(now) {
		return
	}
	var bud *budget
	for _, known := range l.budgets[b.family] {
		if known.limit == limit {
			bud = known
		}
	}
	if bud == nil {
		bud = &budget{limit: limit}
		l.budgets[b.family] = append(l.budgets[b.family], bud)
	}
	if !slices.Contains(b.budgets, bud) {
		b.budgets = append(b.budgets, bud)
	}
	bud.expire(now)
	// The answer's own request is done or about to be; the others in flight may not have been
	// counted in the remaining it gives yet.
	others := max(l.inflight(b.family)-1, 0)
	reserve := b.cfg.Reserve
	if limit > 0 {
		reserve = min(reserve, limit/100)
	}
	left := float64(max(remaining-reserve-others, 0))
	switch w := bud.window; {
	case w.end.IsZero():
	case w.end.Equal(resetAt):
		left = min(left, w.left)
	case w.left/w.end.Sub(now).Seconds() <= left/resetAt.Sub(now).Seconds():
		return // the window already known allows less
	}
	bud.window = window{left: left, end: resetAt}
}

// report takes in how a request ended, as Done describes.
func (l *Limiter) report(b *bucket, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, wait, reason := reset.Classify(err)
	if err == nil || reason != "rate_limited" {
		b.successes++
		if b.successes >= b.cfg.RecoverAfter && b.rate < b.cfg.Rate {
			b.rate = min(b.cfg.Rate, b.rate+b.cfg.Rate/10)
			b.successes = 0
		}
		return
	}
	b.successes = 0
	if wait <= 0 {
		wait = b.cfg.Pause
	}
	now := l.clock.Now()
	if !now.Before(b.pausedTo) {
		b.rate = max(b.cfg.MinRate, b.rate*b.cfg.Backoff)
	}
	if until := now.Add(wait); until.After(b.pausedTo) {
		b.pausedTo = until
	}
	// When the pause ends the provider takes one request at once (its window has reset), then
	// the lowered rate applies.
	b.tokens = 1
	b.last = b.pausedTo
}

// Rate is provider's current pace in requests per second, for progress and benchmarks: the
// configured rate as lowered by 429s, or less while an announced window asks for less (0 when
// that window is spent).
func (l *Limiter) Rate(provider string) float64 {
	b := l.bucket(provider)
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock.Now()
	rate, _ := b.pace(now, l.spends(b, now))
	return rate
}
