package reset_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/resetbot/resetbot/internal/reset"
)

// recordingLimiter lets every attempt through and records what the executor told it.
type recordingLimiter struct {
	mu    sync.Mutex
	waits int
	done  []error
	fail  error // when set, Admit refuses with it
}

func (l *recordingLimiter) Admit(ctx context.Context, _ string) (func(error), error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fail != nil {
		return nil, l.fail
	}
	l.waits++
	return func(err error) {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.done = append(l.done, err)
	}, nil
}

func TestLimiterPacesEveryAttempt(t *testing.T) {
	t.Parallel()
	boom := errors.New("upstream said no")
	limited := reset.RetryableError(429, 2*time.Second, "rate_limited", boom)
	tests := []struct {
		name         string
		answers      []error
		deadline     time.Duration
		limiterFails error
		wantStatus   reset.Status
		wantAttempts int
		wantCalls    int
		wantSleeps   int // the executor's own sleeps; a 429's wait is the limiter's
	}{
		{name: "success passes through the limiter once", wantStatus: reset.Revoked, wantAttempts: 1, wantCalls: 1},
		{name: "429s beyond MaxAttempts still end revoked", answers: []error{limited, limited, limited, limited, nil},
			deadline: time.Minute, wantStatus: reset.Revoked, wantAttempts: 5, wantCalls: 5},
		{name: "429 whose wait passes the deadline fails retryable", answers: []error{limited},
			deadline: time.Second, wantStatus: reset.Failed, wantAttempts: 1, wantCalls: 1},
		{name: "5xx still spends MaxAttempts", answers: []error{reset.RetryableError(503, 0, "server_error", boom)},
			deadline: time.Minute, wantStatus: reset.Failed, wantAttempts: 3, wantCalls: 3, wantSleeps: 2},
		{name: "5xx and 429 mixed: only the 5xx count", answers: []error{
			reset.RetryableError(503, 0, "server_error", boom), limited, limited, limited, reset.RetryableError(503, 0, "server_error", boom), nil},
			deadline: time.Minute, wantStatus: reset.Revoked, wantAttempts: 6, wantCalls: 6, wantSleeps: 2},
		{name: "a limiter that gives up fails the provider without calling it", limiterFails: context.Canceled,
			deadline: time.Minute, wantStatus: reset.Failed, wantAttempts: 0, wantCalls: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := &scripted{name: "zoom", answers: tt.answers}
			l := &recordingLimiter{fail: tt.limiterFails}
			var w waits
			opts := []reset.Option{reset.WithLimiter(l), reset.WithSleep(w.sleep),
				reset.WithRetry(reset.RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond})}
			if tt.deadline > 0 {
				opts = append(opts, reset.WithDeadline(tt.deadline))
			}
			ex := reset.NewExecutor([]reset.Provider{p}, opts...)
			got := ex.RunAll(context.Background(), alice, nil)
			if len(got) != 1 {
				t.Fatalf("got %d outcomes, want 1", len(got))
			}
			o := got[0]
			if o.Status != tt.wantStatus || o.Attempts != tt.wantAttempts {
				t.Errorf("outcome %q, want %s after %d attempts", o.Line(), tt.wantStatus, tt.wantAttempts)
			}
			if n := int(p.calls.Load()); n != tt.wantCalls {
				t.Errorf("provider called %d times, want %d", n, tt.wantCalls)
			}
			if l.waits != tt.wantCalls || len(l.done) != tt.wantCalls {
				t.Errorf("limiter saw %d waits and %d dones, want %d of each", l.waits, len(l.done), tt.wantCalls)
			}
			if len(w.d) != tt.wantSleeps {
				t.Errorf("executor slept %v, want %d sleeps", w.d, tt.wantSleeps)
			}
			if o.Status == reset.Failed && !o.Retryable && tt.limiterFails == nil {
				t.Errorf("a rate-limit failure should say retrying may help: %q", o.Line())
			}
		})
	}
}

func TestLimiterPacesLookups(t *testing.T) {
	t.Parallel()
	limited := reset.RetryableError(429, time.Second, "rate_limited", errors.New("slow down"))
	p := &scripted{name: "okta", answers: []error{limited, limited, limited, limited, nil}}
	l := &recordingLimiter{}
	ex := reset.NewExecutor([]reset.Provider{p}, reset.WithLimiter(l),
		reset.WithRetry(reset.RetryPolicy{MaxAttempts: 2, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond}))
	plan := ex.Plan(context.Background(), alice)
	if len(plan) != 1 || plan[0].Account != reset.AccountFound {
		t.Fatalf("plan %+v, want okta account found", plan)
	}
	if l.waits != 5 || len(l.done) != 5 {
		t.Errorf("limiter saw %d waits and %d dones, want 5 of each", l.waits, len(l.done))
	}
}
