package pace_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/resetbot/resetbot/internal/pace"
	"github.com/resetbot/resetbot/internal/reset"
)

// clock is a fake clock: Sleep moves time forward at once and records the wait.
type clock struct {
	mu    sync.Mutex
	now   time.Time
	slept []time.Duration
}

func newClock() *clock { return &clock{now: time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.slept = append(c.slept, d)
	return nil
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func (c *clock) total() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	var t time.Duration
	for _, d := range c.slept {
		t += d
	}
	return t
}

var (
	boom    = errors.New("upstream")
	limited = func(wait time.Duration) error { return reset.RetryableError(429, wait, "rate_limited", boom) }
)

// step is one thing a test does to the limiter for provider "zoom".
type step struct {
	done    error         // report this result of a request (after a Wait)
	advance time.Duration // let time pass without requests
}

func TestLimiterPaces(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		cfg   pace.Config
		steps []step // each step first Waits, then reports done (advance-only steps do not Wait)
		// wantSlept is the total time the limiter made the requests wait.
		wantSlept time.Duration
		wantRate  float64
	}{
		{name: "a burst goes at once", cfg: pace.Config{Rate: 10, Burst: 3},
			steps: []step{{}, {}, {}}, wantSlept: 0, wantRate: 10},
		{name: "beyond the burst requests are spaced at the rate", cfg: pace.Config{Rate: 10, Burst: 1},
			steps: []step{{}, {}, {}, {}}, wantSlept: 300 * time.Millisecond, wantRate: 10},
		{name: "a quiet spell refills the bucket", cfg: pace.Config{Rate: 10, Burst: 2},
			steps: []step{{}, {}, {advance: time.Second}, {}, {}}, wantSlept: 0, wantRate: 10},
		{name: "a 429 pauses the queue as long as asked and halves the rate", cfg: pace.Config{Rate: 10, Burst: 1},
			steps: []step{{done: limited(3 * time.Second)}, {}}, wantSlept: 3 * time.Second, wantRate: 5},
		{name: "a 429 that names no wait pauses the default", cfg: pace.Config{Rate: 10, Burst: 1, Pause: 2 * time.Second},
			steps: []step{{done: limited(0)}, {}}, wantSlept: 2 * time.Second, wantRate: 5},
		{name: "the rate never falls below the floor", cfg: pace.Config{Rate: 10, Burst: 1, MinRate: 4},
			steps:     []step{{done: limited(time.Second)}, {done: limited(time.Second)}, {done: limited(time.Second)}},
			wantSlept: 2 * time.Second, wantRate: 4},
		{name: "successes creep the rate back up", cfg: pace.Config{Rate: 10, Burst: 1, RecoverAfter: 2},
			steps: []step{{done: limited(time.Second)}, {}, {}, {}, {}}, wantRate: 7,
			// 1s pause; the first request after it goes at once, the next at 5/s (200ms), which
			// makes two successes and 6/s, so the last two wait ~167ms each.
			wantSlept: time.Second + 200*time.Millisecond + 2*166666667},
		{name: "other errors are not a reason to slow down", cfg: pace.Config{Rate: 10, Burst: 1},
			steps:     []step{{done: reset.RetryableError(503, 0, "server_error", boom)}, {done: reset.PermanentError(403, boom)}},
			wantSlept: 100 * time.Millisecond, wantRate: 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newClock()
			l := pace.New(pace.Config{Rate: 1000, Burst: 1000}, pace.WithProvider("zoom", tt.cfg), pace.WithClock(c))
			ctx := context.Background()
			for i, s := range tt.steps {
				if s.advance > 0 {
					c.advance(s.advance)
					continue
				}
				if err := l.Wait(ctx, "zoom"); err != nil {
					t.Fatalf("step %d: Wait: %v", i, err)
				}
				l.Done("zoom", s.done)
			}
			if got := c.total(); (got - tt.wantSlept).Abs() > time.Millisecond {
				t.Errorf("requests waited %v in all, want %v (waits %v)", got, tt.wantSlept, c.slept)
			}
			if got := l.Rate("zoom"); got < tt.wantRate-0.01 || got > tt.wantRate+0.01 {
				t.Errorf("rate %.2f/s, want %.2f/s", got, tt.wantRate)
			}
		})
	}
}

func TestProvidersArePacedApart(t *testing.T) {
	t.Parallel()
	c := newClock()
	l := pace.New(pace.Config{Rate: 10, Burst: 1}, pace.WithClock(c))
	ctx := context.Background()
	if err := l.Wait(ctx, "zoom"); err != nil {
		t.Fatal(err)
	}
	l.Done("zoom", limited(30*time.Second))
	if err := l.Wait(ctx, "google"); err != nil {
		t.Fatal(err)
	}
	l.Done("google", nil)
	if got := c.total(); got != 0 {
		t.Errorf("google waited %v behind zoom's pause, want no wait", got)
	}
	if got := l.Rate("google"); got != 10 {
		t.Errorf("google's rate %.1f/s, want 10/s: zoom's 429 is not google's", got)
	}
}

func TestConcurrencyIsBounded(t *testing.T) {
	t.Parallel()
	l := pace.New(pace.Config{Rate: 1000, Burst: 10, Concurrency: 2}, pace.WithClock(newClock()))
	ctx := context.Background()
	for range 2 {
		if err := l.Wait(ctx, "okta"); err != nil {
			t.Fatal(err)
		}
	}
	full, cancel := context.WithCancel(ctx)
	cancel()
	if err := l.Wait(full, "okta"); !errors.Is(err, context.Canceled) {
		t.Fatalf("third request in flight: Wait = %v, want it held until ctx ended", err)
	}
	l.Done("okta", nil)
	if err := l.Wait(ctx, "okta"); err != nil {
		t.Fatalf("after one finished, Wait = %v, want a free slot", err)
	}
}

func TestWaitEndsWithContext(t *testing.T) {
	t.Parallel()
	c := newClock()
	l := pace.New(pace.Config{Rate: 10, Burst: 1, Concurrency: 1}, pace.WithClock(c))
	if err := l.Wait(context.Background(), "zoom"); err != nil {
		t.Fatal(err)
	}
	l.Done("zoom", limited(time.Minute))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := l.Wait(ctx, "zoom"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait during a pause with ctx ended = %v, want context.Canceled", err)
	}
	// The cancelled Wait gave its slot back: the next one gets through after the pause.
	if err := l.Wait(context.Background(), "zoom"); err != nil {
		t.Fatalf("Wait = %v, want through after the pause", err)
	}
	if got := c.total(); got != time.Minute {
		t.Errorf("waited %v, want the minute the provider asked for", got)
	}
}

func TestAnnouncedWindowKeepsThePace(t *testing.T) {
	t.Parallel()
	type observe struct {
		remaining int
		resetIn   time.Duration
	}
	tests := []struct {
		name     string
		inFlight int       // requests let through and not yet done when the windows are announced
		windows  []observe // announced in order, before the request that is timed
		// wantWait is how long the next request waits once the in-flight ones are done.
		wantWait time.Duration
	}{
		{name: "nothing left pauses the queue until the window resets",
			windows: []observe{{0, 7 * time.Second}}, wantWait: 7 * time.Second},
		{name: "what is left within the reserve is not spent",
			windows: []observe{{2, 4 * time.Second}}, wantWait: 4 * time.Second},
		{name: "requests in flight are counted against what is left",
			// 5 left: 2 kept in reserve, 2 for the others in flight, 1 to start at once.
			inFlight: 3, windows: []observe{{5, 5 * time.Second}}, wantWait: 5 * time.Second},
		{name: "an older answer with more left does not lift the pause",
			windows: []observe{{0, 5 * time.Second}, {50, 5 * time.Second}}, wantWait: 5 * time.Second},
		{name: "of two windows the tighter governs",
			windows: []observe{{500, time.Minute}, {0, 3 * time.Second}, {400, time.Minute}}, wantWait: 3 * time.Second},
		{name: "a window that has already ended is ignored",
			windows: []observe{{0, -time.Second}}, wantWait: 0},
		{name: "plenty left does not slow the configured pace",
			windows: []observe{{600, time.Minute}}, wantWait: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newClock()
			l := pace.New(pace.Config{Rate: 1000, Burst: 10, Concurrency: 10}, pace.WithClock(c))
			ctx := context.Background()
			for range tt.inFlight {
				if err := l.Wait(ctx, "okta"); err != nil {
					t.Fatal(err)
				}
			}
			start := c.Now()
			for _, w := range tt.windows {
				l.ObserveWindow("okta", 0, w.remaining, start.Add(w.resetIn))
			}
			for range tt.inFlight {
				l.Done("okta", nil)
			}
			if tt.inFlight > 0 {
				// The answer that announced the window was one of them: what it left is
				// remaining less the reserve (2) less the others in flight, here one request.
				if err := l.Wait(ctx, "okta"); err != nil {
					t.Fatal(err)
				}
				l.Done("okta", nil)
			}
			before := c.total()
			if err := l.Wait(ctx, "okta"); err != nil {
				t.Fatal(err)
			}
			l.Done("okta", nil)
			if got := c.total() - before; (got - tt.wantWait).Abs() > time.Millisecond {
				t.Errorf("the next request waited %v, want %v (waits %v)", got, tt.wantWait, c.slept)
			}
			if got := l.Rate("zoom"); got != 1000 {
				t.Errorf("zoom's rate %.1f/s, want 1000/s: okta's window is not zoom's", got)
			}
		})
	}
}

// TestWindowIsSpreadUntilItResets announces 12 requests left for 5 s to a limiter configured
// far faster, and shows no more than 10 (12 less the reserve) start before the reset, that they
// are spread over the window rather than spent at once, and that the configured pace is back
// after it.
func TestWindowIsSpreadUntilItResets(t *testing.T) {
	t.Parallel()
	c := newClock()
	l := pace.New(pace.Config{Rate: 100, Burst: 5}, pace.WithClock(c))
	ctx := context.Background()
	resetAt := c.Now().Add(5 * time.Second)
	l.ObserveWindow("okta", 0, 12, resetAt)
	if got := l.Rate("okta"); got < 1.99 || got > 2.01 {
		t.Errorf("rate after the announcement %.2f/s, want 2/s (10 requests over 5 s)", got)
	}
	var starts []time.Time
	for c.Now().Before(resetAt) {
		if err := l.Wait(ctx, "okta"); err != nil {
			t.Fatal(err)
		}
		l.Done("okta", nil)
		starts = append(starts, c.Now())
	}
	inWindow := 0
	for _, at := range starts {
		if at.Before(resetAt) {
			inWindow++
		}
	}
	if inWindow > 10 || inWindow < 8 {
		t.Errorf("%d requests started within the window, want 8 to 10 of its 12 (2 kept in reserve); starts %v", inWindow, starts)
	}
	if inWindow > 1 && starts[inWindow-1].Sub(starts[0]) < 3*time.Second {
		t.Errorf("the window's requests all started within %v, want them spread over its 5 s (starts %v)",
			starts[inWindow-1].Sub(starts[0]), starts[:inWindow])
	}
	if got := l.Rate("okta"); got != 100 {
		t.Errorf("rate after the reset %.2f/s, want the configured 100/s", got)
	}
	before := c.total()
	for range 5 {
		if err := l.Wait(ctx, "okta"); err != nil {
			t.Fatal(err)
		}
		l.Done("okta", nil)
	}
	if got := c.total() - before; got > 50*time.Millisecond {
		t.Errorf("after the reset five requests waited %v, want them at the configured pace", got)
	}
}

// parkedClock stands still, and its Sleep waits for the context: a request waiting for a
// token stays waiting, holding its slot, until the test lets it go.
type parkedClock struct {
	now    time.Time
	parked chan struct{}
}

func (c *parkedClock) Now() time.Time { return c.now }

func (c *parkedClock) Sleep(ctx context.Context, _ time.Duration) error {
	c.parked <- struct{}{}
	<-ctx.Done()
	return ctx.Err()
}

// TestQueuedRequestsDoNotShrinkAnAnnouncedWindow: requests still waiting for a token have not
// reached the provider, so only those in flight are taken off what its window has left.
func TestQueuedRequestsDoNotShrinkAnAnnouncedWindow(t *testing.T) {
	t.Parallel()
	c := &parkedClock{now: time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC), parked: make(chan struct{})}
	l := pace.New(pace.Config{Rate: 100, Burst: 2, Concurrency: 10}, pace.WithClock(c))
	for range 2 { // two requests in flight
		if err := l.Wait(context.Background(), "okta"); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 5 { // five queued behind them, out of tokens
		wg.Go(func() { _ = l.Wait(ctx, "okta") })
		<-c.parked
	}
	// 22 left until 5 s from now: the reserve (1 of a window of 100) and the one other request
	// in flight come off, so 20 requests over 5 s. Counting the queued ones too would give 3/s.
	l.ObserveWindow("okta", 100, 22, c.now.Add(5*time.Second))
	if got := l.Rate("okta"); got < 3.99 || got > 4.01 {
		t.Errorf("rate %.2f/s, want 4/s: queued requests are not in flight", got)
	}
	cancel()
	wg.Wait()
	l.Done("okta", nil)
	l.Done("okta", nil)
}

// admitted waits until l admits one request to provider and returns its done.
func admitted(ctx context.Context, t *testing.T, l *pace.Limiter, provider string) func(error) {
	t.Helper()
	done, err := l.Admit(ctx, provider)
	if err != nil {
		t.Fatalf("Admit(%s) = %v, want a request let through", provider, err)
	}
	return done
}

// TestAnEndedContextGivesItsSlotBack: a request whose context ends without an answer (a hung
// call, or an SDK that ignores ctx) gives its slot back then, so it cannot stop later requests;
// its done, when it comes at last, gives back nothing more.
func TestAnEndedContextGivesItsSlotBack(t *testing.T) {
	t.Parallel()
	c := newClock()
	l := pace.New(pace.Config{Rate: 1000, Burst: 10, Concurrency: 2}, pace.WithClock(c))
	var hung []func(error)
	for range 2 {
		ctx, cancel := context.WithCancel(context.Background())
		hung = append(hung, admitted(ctx, t, l, "okta"))
		cancel() // the call's deadline passed; it has not answered
	}
	// Nothing but the ended contexts can free a slot here; the timeout only keeps a failing
	// test from hanging.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	live := []func(error){admitted(ctx, t, l, "okta"), admitted(ctx, t, l, "okta")}
	for _, done := range hung {
		done(nil) // the hung calls answer at last
	}
	// A slot freed twice would let this one through at once.
	short, cancelShort := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancelShort()
	if _, err := l.Admit(short, "okta"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a fifth request while two live ones hold both slots: Admit = %v, want it held until ctx ended", err)
	}
	// In flight are the two live requests: 23 left less the reserve (2) and the other one
	// in flight is 20 over 5 s.
	l.ObserveWindow("okta", 0, 23, c.Now().Add(5*time.Second))
	if got := l.Rate("okta"); got < 3.99 || got > 4.01 {
		t.Errorf("rate %.2f/s, want 4/s: exactly the two live requests are in flight", got)
	}
	for _, done := range live {
		done(nil)
	}
}

// TestALateAnswerStillCounts: a 429 that arrives after its request's context ended still
// pauses the queue, since the provider said it.
func TestALateAnswerStillCounts(t *testing.T) {
	t.Parallel()
	c := newClock()
	l := pace.New(pace.Config{Rate: 10, Burst: 1, Concurrency: 1}, pace.WithClock(c))
	ctx, cancel := context.WithCancel(context.Background())
	done := admitted(ctx, t, l, "zoom")
	cancel()
	done(limited(time.Minute))
	admitted(context.Background(), t, l, "zoom")(nil)
	if got := c.total(); got != time.Minute {
		t.Errorf("the next request waited %v, want the minute the late 429 asked for", got)
	}
}

// TestTheReserveIsAHundredthOfTheWindow: what an announced window keeps back for the org's
// other clients is a hundredth of its limit, rounded down, at most Config.Reserve (2).
func TestTheReserveIsAHundredthOfTheWindow(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name             string
		limit, remaining int
		resetIn          time.Duration
		want             float64 // requests a second: what is left over the window
	}{
		{"a window of 20 keeps none", 20, 20, 10 * time.Second, 2},
		{"a window of 99 keeps none", 99, 99, 10 * time.Second, 9.9},
		{"a window of 100 keeps one", 100, 100, 10 * time.Second, 9.9},
		{"a window of 600 keeps two, not six", 600, 600, 100 * time.Second, 5.98},
		{"a window of unknown size keeps Reserve", 0, 100, 10 * time.Second, 9.8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newClock()
			l := pace.New(pace.Config{Rate: 1000}, pace.WithClock(c))
			l.ObserveWindow("okta", tt.limit, tt.remaining, c.Now().Add(tt.resetIn))
			if got := l.Rate("okta"); got < tt.want-0.001 || got > tt.want+0.001 {
				t.Errorf("rate %.3f/s, want %.3f/s", got, tt.want)
			}
		})
	}
}

// TestQueuesSharingAWindowSpendItOnce: Okta's reads and sign-outs, paced in two queues, may be
// counted in one bucket. Following windows together, they start no more between them than a
// window of one size has left, whichever queue heard of it; windows of different sizes are
// different buckets, each kept whole; and queues that share nothing each follow their own.
func TestQueuesSharingAWindowSpendItOnce(t *testing.T) {
	t.Parallel()
	type observe struct {
		queue            string
		limit, remaining int
	}
	tests := []struct {
		name      string
		shared    bool
		windows   []observe // announced in order, each until one second from now
		wantRates map[string]float64
		queues    []string // spending, in turn, until the windows reset
		want      int      // requests started before then
	}{
		{name: "one size is one window between them", shared: true,
			windows:   []observe{{"okta", 20, 12}, {"okta-directory", 20, 10}},
			wantRates: map[string]float64{"okta": 10, "okta-directory": 10},
			queues:    []string{"okta", "okta-directory"}, want: 10},
		{name: "a queue that heard of no window spends its family's", shared: true,
			windows:   []observe{{"okta-directory", 20, 10}},
			wantRates: map[string]float64{"okta": 10, "okta-directory": 10},
			queues:    []string{"okta", "okta-directory"}, want: 10},
		{name: "different sizes are different buckets, each kept whole", shared: true,
			windows:   []observe{{"okta", 20, 12}, {"okta-directory", 40, 30}},
			wantRates: map[string]float64{"okta": 12, "okta-directory": 30},
			queues:    []string{"okta"}, want: 12},
		{name: "queues that share nothing follow their own", shared: false,
			windows:   []observe{{"okta", 20, 12}, {"okta-directory", 20, 10}},
			wantRates: map[string]float64{"okta": 12, "okta-directory": 10},
			queues:    []string{"okta"}, want: 12},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newClock()
			opts := []pace.Option{pace.WithClock(c)}
			if tt.shared {
				opts = append(opts, pace.WithSharedWindow("okta", "okta-directory"))
			}
			l := pace.New(pace.Config{Rate: 1000, Burst: 1, Concurrency: 10}, opts...)
			resetAt := c.Now().Add(time.Second)
			for _, w := range tt.windows {
				l.ObserveWindow(w.queue, w.limit, w.remaining, resetAt)
			}
			for queue, rate := range tt.wantRates {
				if got := l.Rate(queue); got < rate-0.001 || got > rate+0.001 {
					t.Errorf("%s's rate %.2f/s, want %.0f/s", queue, got, rate)
				}
			}
			started := 0
			for i := 0; c.Now().Before(resetAt); i++ {
				queue := tt.queues[i%len(tt.queues)]
				if err := l.Wait(context.Background(), queue); err != nil {
					t.Fatal(err)
				}
				if c.Now().Before(resetAt) {
					started++
				}
				l.Done(queue, nil)
			}
			// Spread over the window, the last may fall on the reset itself.
			if started > tt.want || started < tt.want-1 {
				t.Errorf("%d requests started before the reset, want %d (or one less)", started, tt.want)
			}
		})
	}
}

// TestAWindowCountsTheFamilysRequestsInFlight: what every queue of the family has in flight
// comes off what an answer to any of them says is left.
func TestAWindowCountsTheFamilysRequestsInFlight(t *testing.T) {
	t.Parallel()
	c := newClock()
	l := pace.New(pace.Config{Rate: 1000, Burst: 10, Concurrency: 10}, pace.WithClock(c), pace.WithSharedWindow("okta", "okta-directory"))
	for _, queue := range []string{"okta", "okta-directory", "okta-directory"} {
		if err := l.Wait(context.Background(), queue); err != nil {
			t.Fatal(err)
		}
	}
	// 23 left until 5 s from now: the reserve (1 of a window of 100) and the two others in
	// flight come off, so 20 over 5 s, for both queues.
	l.ObserveWindow("okta", 100, 23, c.Now().Add(5*time.Second))
	for _, queue := range []string{"okta", "okta-directory"} {
		if got := l.Rate(queue); got < 3.99 || got > 4.01 {
			t.Errorf("%s's rate %.2f/s, want 4/s", queue, got)
		}
	}
	if got := l.Rate("zoom"); got != 1000 {
		t.Errorf("zoom's rate %.2f/s, want its own 1000/s", got)
	}
	l.Done("okta", nil)
	l.Done("okta-directory", nil)
	l.Done("okta-directory", nil)
}
