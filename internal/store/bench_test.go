package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/resetbot/resetbot/internal/reset"
)

// BenchmarkContendedApprove measures approvals when every request is clicked by several
// replicas at once: each of b.N fresh requests is raced for by 8 Stores (separate
// connections), exactly one of which wins it. approvals/s counts the winners.
func BenchmarkContendedApprove(b *testing.B) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			const racers = 8
			ctx := context.Background()
			stores := replicas(b, be.db(b), racers)
			ids := make([]string, b.N)
			for i := range ids {
				ids[i] = fmt.Sprintf("r%07d", i)
				if err := stores[0].Create(ctx, pending(ids[i])); err != nil {
					b.Fatalf("Create: %v", err)
				}
			}
			var won, lost atomic.Int64
			b.ResetTimer()
			var wg sync.WaitGroup
			for i, s := range stores {
				wg.Go(func() {
					who := reset.Actor{SlackID: fmt.Sprintf("U%d", i)}
					for _, id := range ids {
						_, err := s.Approve(ctx, id, who, t0, who.SlackID, time.Minute)
						switch {
						case err == nil:
							won.Add(1)
						case errors.Is(err, ErrConflict):
							lost.Add(1)
						default:
							b.Errorf("Approve %s: %v", id, err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			if won.Load() != int64(b.N) {
				b.Fatalf("%d approvals won for %d requests, want one each", won.Load(), b.N)
			}
			secs := b.Elapsed().Seconds()
			b.ReportMetric(float64(won.Load())/secs, "approvals/s")
			b.ReportMetric(float64(won.Load()+lost.Load())/secs, "attempts/s")
		})
	}
}
