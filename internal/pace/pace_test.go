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
