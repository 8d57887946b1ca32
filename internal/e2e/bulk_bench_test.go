package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"runtime/metrics"
	"testing"
	"time"

	"github.com/resetbot/resetbot/internal/app"
	"github.com/resetbot/resetbot/internal/config"
	oktafake "github.com/resetbot/resetbot/internal/fake/okta"
	"github.com/resetbot/resetbot/internal/fake/world"
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

// bulkOps are the Okta fake's operations a batch may spend Okta's limits on.
var bulkOps = []string{"lookup", "search", "groups", "members", "revoke"}

// BenchmarkBulkReset signs a list of people out of all four systems through the same wiring as
// `resetbot reset --file --rate R` (app.wire with every rate set to R, the wiring's one limiter
// pacing lookups and revokes, everyone found ahead in pages by Directory.FindAhead,
// reset.Executor.Batch), and reports the wall time against the floor the providers' limits
// allow, the Okta requests it cost per person and the heap it needs. docs/benchmarks.md,
// section "Incident scale", records the numbers.
//
// The shared/ runs are an org whose Okta counts reads and sign-outs in ONE bucket of
// bulkLimit a second: Okta's bucket makes the floor there, so the other three systems get
// twice the room (limit 2×bulkLimit, paced at 2×bulkRate) and finish first. Okta's queues are
// started at twice the limit, so that the window Okta announces is what paces them.
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
	}
	for _, op := range []string{"lookup", "search"} {
		w.Okta.SetLatency(op, bulkLatency)
	}
	// limit makes every system take bulkLimit revokes a second. Apart, Okta counts reads in
	// buckets of their own, enforced too with room to spare, so the revokes' limit is what the
	// floor is made of; shared, Okta counts reads and revokes in one bucket of bulkLimit, and
	// the other systems take twice as many.
	limit := func(shared bool) {
		others := bulkLimit
		if shared {
			others = 2 * bulkLimit
			w.Okta.SetSharedRateLimit(bulkLimit, "lookup", "search", "revoke")
		} else {
			w.Okta.SetRateLimit("revoke", bulkLimit)
			for _, op := range []string{"lookup", "search"} {
				w.Okta.SetRateLimit(op, 2*bulkLimit)
			}
		}
		for name, f := range fakes {
			if name != "okta" {
				f.SetRateLimit("revoke", others)
			}
		}
	}

	ctx := context.Background()
	// wireBatch wires the systems as `resetbot reset --file --rate R --concurrency 16` does
	// (resetBatch): every system's queue starts at rate, and the one limiter paces the Okta
	// lookups and every revoke. Every access token is fetched once, as a running bot would have
	// them, and the warm-up's revokes get a second to leave the fakes' windows.
	wireBatch := func(b *testing.B, rate, oktaRate float64) *app.Wiring {
		cfg, err := config.LoadFor(w.Getenv, config.Need{})
		if err != nil {
			b.Fatal(err)
		}
		cfg.Pace.Concurrency = bulkWorkers
		for name := range cfg.Pace.Rates {
			cfg.Pace.Rates[name] = rate
		}
		cfg.Pace.Rates["okta"] = oktaRate
		wired, err := app.Wire(ctx, cfg, w.Roots)
		if err != nil {
			b.Fatal(err)
		}
		target, err := wired.Directory.Find(ctx, w.Alice.Email)
		if err != nil {
			b.Fatal(err)
		}
		mustRevokeAll(b, wired.Executor(slog.New(slog.DiscardHandler)).RunAll(ctx, target, nil))
		time.Sleep(time.Second)
		return wired
	}

	// overshoot starts the limiter at twice the providers' limit, to measure how fast it
	// learns the real pace from their 429s.
	for _, run := range []struct {
		name           string
		n              int
		rate, oktaRate float64
		shared         bool
	}{
		{"people=100", 100, bulkRate, bulkRate, false},
		{"people=250", 250, bulkRate, bulkRate, false},
		{"people=500", 500, bulkRate, bulkRate, false},
		{"overshoot/people=100", 100, 2 * bulkLimit, 2 * bulkLimit, false},
		{"shared/people=100", 100, 2 * bulkRate, 2 * bulkLimit, true},
		{"shared/people=250", 250, 2 * bulkRate, 2 * bulkLimit, true},
		{"shared/people=500", 500, 2 * bulkRate, 2 * bulkLimit, true},
	} {
		n := run.n
		b.Run(run.name, func(b *testing.B) {
			limit(run.shared)
			batch := people[:n]
			floor := time.Duration(n) * time.Second / bulkLimit
			var wall time.Duration
			var failures, rejected, oktaCalls, runs int
			var alloc, peak uint64
			for b.Loop() {
				wired := wireBatch(b, run.rate, run.oktaRate)
				before := map[string]int{}
				for name, f := range fakes {
					before[name] = f.Count("revoke")
				}
				oktaBefore, refusedBefore := 0, 0
				for _, op := range bulkOps {
					oktaBefore += w.Okta.Count(op)
					refusedBefore += w.Okta.Refused(op)
				}
				ex := wired.Executor(slog.New(slog.DiscardHandler))
				t := reset.NewTally(ex.Names())
				jobs := make([]reset.Job, len(batch))
				// Slack allows about 20 session resets a minute: at incident scale it is run on its
				// own (README, "Incident scale"), so these runs measure the four other systems.
				four := reset.Selection{"okta": true, "google": true, "zoom": true, "microsoft": true}
				for i, who := range batch {
					jobs[i] = reset.Job{Who: who, Selection: four}
				}
				var m0, m1 runtime.MemStats
				runtime.GC() // the baseline is what stays live: the fakes' users, the wiring, the jobs
				runtime.ReadMemStats(&m0)
				heap := watchHeap(10 * time.Millisecond)
				start := time.Now()
				find := wired.Directory.FindAhead(ctx, batch)
				ex.Batch(ctx, jobs, bulkWorkers, find, nil, func(_ int, r reset.Result) {
					if r.Err != nil {
						t.AddAll(reset.Failed, true)
						return
					}
					t.Add(r.Outcomes)
				})
				wall += time.Since(start)
				peak += heap.stop()
				runtime.ReadMemStats(&m1)
				alloc += m1.TotalAlloc - m0.TotalAlloc
				failures += t.Total(reset.Failed)
				for name, f := range fakes {
					if name != "okta" {
						rejected += f.Count("revoke") - before[name] - t.Count(name, reset.Revoked) - t.Count(name, reset.Failed)
					}
				}
				// Okta's refusals, reads' included, and every request Okta received.
				for _, op := range bulkOps {
					rejected += w.Okta.Refused(op)
					oktaCalls += w.Okta.Count(op)
				}
				rejected -= refusedBefore
				oktaCalls -= oktaBefore
				if t.People != n {
					b.Fatalf("tallied %d people, want %d", t.People, n)
				}
				for _, name := range t.Names() {
					sum := 0
					for _, c := range []reset.Status{reset.Revoked, reset.NoAccount, reset.Failed, reset.Skipped} {
						sum += t.Count(name, c)
					}
					if sum != n {
						b.Fatalf("%s counts add up to %d, want %d", name, sum, n)
					}
				}
				runs++
				time.Sleep(time.Second) // leave the fakes' windows empty for the next run
			}
			mean := wall / time.Duration(runs)
			perRun := func(v float64) float64 { return v / float64(runs) }
			row := bulkRow{
				run: run.name, rate: run.rate, oktaRate: run.oktaRate, people: n, providers: len(fakes),
				wall: mean.Seconds(), floor: floor.Seconds(), efficiency: floor.Seconds() / mean.Seconds(),
				oktaPerPerson: perRun(float64(oktaCalls)) / float64(n),
				failures:      perRun(float64(failures)), rejected: perRun(float64(rejected)),
				peakHeap: perRun(float64(peak)), alloc: perRun(float64(alloc)),
			}
			// Each column is a metric, so the `go test -bench` line is the table row; the
			// logged line is the same row in docs/benchmarks.md's column order.
			b.ReportMetric(float64(row.people), "people")
			b.ReportMetric(float64(row.providers), "providers")
			b.ReportMetric(row.wall, "wall-s")
			b.ReportMetric(row.floor, "floor-s")
			b.ReportMetric(row.efficiency, "efficiency")
			b.ReportMetric(row.oktaPerPerson, "okta-req/person")
			b.ReportMetric(row.failures, "failures")
			b.ReportMetric(row.rejected, "429s")
			b.ReportMetric(row.peakHeap/(1<<20), "peak-heap-MB")
			b.ReportMetric(row.peakHeap/float64(n), "peak-B/person")
			b.ReportMetric(row.alloc/float64(n), "B/person")
			b.Log(row)
		})
	}
}

// bulkRow is one line of the "Incident scale" table in docs/benchmarks.md.
type bulkRow struct {
	run                     string
	rate, oktaRate          float64
	people, providers       int
	wall, floor, efficiency float64
	oktaPerPerson           float64 // requests reaching Okta (found, signed out, refused) per person
	failures, rejected      float64
	peakHeap, alloc         float64 // bytes per run
}

func (r bulkRow) String() string {
	rate := fmt.Sprintf("%g/s", r.rate)
	if r.oktaRate != r.rate {
		rate = fmt.Sprintf("okta %g/s, others %g/s", r.oktaRate, r.rate)
	}
	return fmt.Sprintf("| %s | %s | %d | %d | %.2f s | %.1f s | %.3f | %.3f | %g | %g | %.1f MB | %.0f KB | %.0f KB |",
		r.run, rate, r.people, r.providers, r.wall, r.floor, r.efficiency, r.oktaPerPerson, r.failures, r.rejected,
		r.peakHeap/(1<<20), r.peakHeap/float64(r.people)/1024, r.alloc/float64(r.people)/1024)
}

// heapWatch samples the heap while a batch runs. A batch that held every person's results
// would show a peak that grows with the batch; TotalAlloc alone cannot tell that apart from
// garbage collected as it goes.
type heapWatch struct {
	base uint64
	peak chan uint64
	done chan struct{}
}

// heapObjects is the runtime/metrics name of the bytes held by heap objects, live or not yet
// swept: reading it does not stop the world, unlike runtime.ReadMemStats.
const heapObjects = "/memory/classes/heap/objects:bytes"

// watchHeap records the heap now as the baseline, then samples it every interval until stop.
func watchHeap(interval time.Duration) *heapWatch {
	sample := []metrics.Sample{{Name: heapObjects}}
	read := func() uint64 {
		metrics.Read(sample)
		return sample[0].Value.Uint64()
	}
	h := &heapWatch{base: read(), peak: make(chan uint64, 1), done: make(chan struct{})}
	go func() {
		peak := h.base
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				peak = max(peak, read())
			case <-h.done:
				h.peak <- max(peak, read())
				return
			}
		}
	}()
	return h
}

// stop ends the sampling and returns the highest heap seen above the baseline.
func (h *heapWatch) stop() uint64 {
	close(h.done)
	return <-h.peak - h.base
}
