package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"testing"
	"time"

	"github.com/resetbot/resetbot/internal/config"
	oktafake "github.com/resetbot/resetbot/internal/fake/okta"
	"github.com/resetbot/resetbot/internal/fake/world"
	"github.com/resetbot/resetbot/internal/pace"
	"github.com/resetbot/resetbot/internal/reset"
)

// Incident scale: every fake takes at most bulkLimit revokes in any second (429 with
// Retry-After beyond it) and answers each after bulkLatency, as a provider under a rate limit
// does. The limiter starts just under the limit, so the batch should run at the floor the
// limits allow: people / bulkLimit seconds.
const (
	bulkLimit   = 20
	bulkLatency = 50 * time.Millisecond
	bulkRate    = 19 // the limiter's starting rate, a little under the limit for network jitter
	bulkWorkers = 16
)

// BenchmarkBulkReset signs a list of people out of all four systems through the same wiring as
// `resetbot reset --file` (app.wire, wiring.executor with a pace limiter, runBatch), and
// reports the wall time against the floor the providers' limits allow. docs/benchmarks.md,
// section "Incident scale", records the numbers.
func BenchmarkBulkReset(b *testing.B) {
	w, err := world.Start(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	const most = 500
	people := make([]string, most)
	for i := range people {
		email := fmt.Sprintf("user%04d@example.com", i)
		w.Okta.AddUser(oktafake.User{Login: email, Email: email, FirstName: "User", LastName: fmt.Sprint(i)})
		w.Google.AddUser(email)
		w.Zoom.AddUser(email)
		w.Microsoft.AddUser(email)
		people[i] = email
	}
	type limitable interface {
		SetLatency(op string, d time.Duration)
		SetRateLimit(op string, perSecond int)
		Count(op string) int
	}
	fakes := map[string]limitable{"okta": w.Okta, "google": w.Google, "zoom": w.Zoom, "microsoft": w.Microsoft}
	for _, f := range fakes {
		f.SetLatency("revoke", bulkLatency)
		f.SetRateLimit("revoke", bulkLimit)
	}

	ctx := context.Background()
	a := &app{env: w.Getenv, stdout: io.Discard, stderr: io.Discard, roots: w.Roots}
	wired, err := a.wireFor(ctx, config.Need{})
	if err != nil {
		b.Fatal(err)
	}
	// Fetch every access token once, as a running bot would have them.
	warm := wired.executor(slog.New(slog.DiscardHandler))
	target, err := wired.directory.Find(ctx, w.Alice.Email)
	if err != nil {
		b.Fatal(err)
	}
	mustRevokeAll(b, warm.RunAll(ctx, target, nil))
	time.Sleep(time.Second) // let the warm-up leave the fakes' windows

	// overshoot starts the limiter at twice the providers' limit, to measure how fast it
	// learns the real pace from their 429s.
	for _, run := range []struct {
		name string
		n    int
		rate float64
	}{{"people=100", 100, bulkRate}, {"people=500", 500, bulkRate}, {"overshoot/people=100", 100, 2 * bulkLimit}} {
		n := run.n
		b.Run(run.name, func(b *testing.B) {
			batch := people[:n]
			floor := time.Duration(n) * time.Second / bulkLimit
			var wall time.Duration
			var failures, rejected, runs int
			var alloc uint64
			for b.Loop() {
				before := map[string]int{}
				for name, f := range fakes {
					before[name] = f.Count("revoke")
				}
				limiter := pace.New(pace.Config{Rate: run.rate, Burst: 1, Concurrency: bulkWorkers})
				ex := wired.executor(slog.New(slog.DiscardHandler), reset.WithLimiter(limiter))
				t := newTally(ex.Names())
				var m0, m1 runtime.MemStats
				runtime.ReadMemStats(&m0)
				start := time.Now()
				runBatch(ctx, wired.directory.Find, ex, nil, batch, bulkWorkers, t.add)
				wall += time.Since(start)
				runtime.ReadMemStats(&m1)
				alloc += m1.TotalAlloc - m0.TotalAlloc
				failures += t.failed()
				for name, f := range fakes {
					rejected += f.Count("revoke") - before[name] - t.counts[name][reset.Revoked] - t.counts[name][reset.Failed]
				}
				if t.people != n {
					b.Fatalf("tallied %d people, want %d", t.people, n)
				}
				for _, name := range t.names {
					sum := 0
					for _, c := range t.counts[name] {
						sum += c
					}
					if sum != n {
						b.Fatalf("%s counts %v add up to %d, want %d", name, t.counts[name], sum, n)
					}
				}
				runs++
				time.Sleep(time.Second) // leave the fakes' windows empty for the next run
			}
			mean := wall / time.Duration(runs)
			b.ReportMetric(mean.Seconds(), "wall-s")
			b.ReportMetric(floor.Seconds(), "floor-s")
			b.ReportMetric(floor.Seconds()/mean.Seconds(), "efficiency")
			b.ReportMetric(float64(failures)/float64(runs), "failures")
			b.ReportMetric(float64(rejected)/float64(runs), "429s")
			b.ReportMetric(float64(alloc)/float64(runs)/float64(n), "B/person")
		})
	}
}
