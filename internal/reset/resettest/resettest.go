// Package resettest runs a provider through the real executor the way the bot does, recording
// the waits between attempts instead of sleeping, so provider tests check retries and their
// delays without taking that long.
package resettest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/resetbot/resetbot/internal/reset"
)

// Revoke signs t out of p alone through an executor allowing maxAttempts attempts, and returns
// the outcome with every wait the executor asked for between attempts.
func Revoke(tb testing.TB, p reset.Provider, t reset.Target, maxAttempts int) (reset.Outcome, []time.Duration) {
	tb.Helper()
	var (
		mu    sync.Mutex
		waits []time.Duration
	)
	ex := reset.NewExecutor([]reset.Provider{p},
		reset.WithRetry(reset.RetryPolicy{MaxAttempts: maxAttempts, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond}),
		reset.WithSleep(func(_ context.Context, d time.Duration) error {
			mu.Lock()
			defer mu.Unlock()
			waits = append(waits, d)
			return nil
		}))
	out := ex.RunAll(context.Background(), t, nil)
	if len(out) != 1 {
		tb.Fatalf("outcomes = %+v, want one", out)
	}
	return out[0], waits
}
