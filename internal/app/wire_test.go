package app

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/resetbot/resetbot/internal/config"
	"github.com/resetbot/resetbot/internal/directory"
)

// TestRestedLimiterStartsOneRequestAtATime: the limiter has no burst, so a rate set just under
// a provider's per-second limit stays under it when a batch starts on rested queues. At one
// request every ten seconds the second request must wait; with a burst of two it would go at
// once.
func TestRestedLimiterStartsOneRequestAtATime(t *testing.T) {
	t.Parallel()
	rates := map[string]float64{"okta": 0.1, "google": 0.1, "zoom": 0.1, "microsoft": 0.1, "slack": 0.1}
	l := NewLimiter(config.Pace{Rates: rates, Concurrency: 8})
	for _, provider := range []string{"okta", "google", "zoom", "microsoft", "slack", directory.Provider} {
		if err := l.Wait(t.Context(), provider); err != nil {
			t.Fatalf("%s: the first request waited: %v", provider, err)
		}
		l.Done(provider, nil)
		ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
		err := l.Wait(ctx, provider)
		cancel()
		if err == nil {
			l.Done(provider, nil)
			t.Errorf("%s: a second request went at once on a rested queue paced at 0.1/s, want it to wait", provider)
		} else if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s: second request: %v, want it still waiting when its deadline passed", provider, err)
		}
	}
}
