package e2e

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/resetbot/resetbot/internal/app"
	"github.com/resetbot/resetbot/internal/config"
	"github.com/resetbot/resetbot/internal/fake/world"
	"github.com/resetbot/resetbot/internal/reset"
)

// BenchmarkResetLatency measures how long one reset takes end to end when each system is slow
// in its own way, through the same wiring and SDKs as `resetbot reset`. The systems answer a
// revoke after 50, 100, 150, 200 and 250 ms, so a parallel reset should take about as long as the
// slowest (e2e/slowest near 1) and the sequential workflow it replaces about as long as their
// sum (e2e/sum near 1). docs/benchmarks.md records the numbers.
func BenchmarkResetLatency(b *testing.B) {
	w, err := world.Start(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()

	type slowable interface {
		SetLatency(op string, d time.Duration)
	}
	latencies := []struct {
		system slowable
		op     string
		d      time.Duration
	}{
		{w.Okta, "revoke", 50 * time.Millisecond},
		{w.Google, "revoke", 100 * time.Millisecond},
		{w.Zoom, "revoke", 150 * time.Millisecond},
		{w.Microsoft, "revoke", 200 * time.Millisecond},
		{w.Slack, "admin.users.session.reset", 250 * time.Millisecond},
	}
	var slowest, sum time.Duration
	for _, l := range latencies {
		l.system.SetLatency(l.op, l.d)
		slowest = max(slowest, l.d)
		sum += l.d
	}

	ctx := context.Background()
	wired, err := app.WireFor(ctx, w.Getenv, w.Roots, config.Need{})
	if err != nil {
		b.Fatal(err)
	}
	ex := wired.Executor(slog.New(slog.DiscardHandler))
	target, err := wired.Directory.Find(ctx, w.Alice.Email)
	if err != nil {
		b.Fatal(err)
	}

	parallel := func() []reset.Outcome { return ex.RunAll(ctx, target, nil) }
	// sequential asks one system after the other, as the workflow resetbot replaces did.
	sequential := func() []reset.Outcome {
		var outcomes []reset.Outcome
		for _, name := range ex.Names() {
			for _, o := range ex.RunAll(ctx, target, reset.Selection{name: true}) {
				if o.Provider == name {
					outcomes = append(outcomes, o)
				}
			}
		}
		return outcomes
	}
	// Fetch every access token once, so iterations measure resets rather than token
	// fetches, as a running bot would after warming up.
	mustRevokeAll(b, parallel())

	for _, run := range []struct {
		name  string
		reset func() []reset.Outcome
	}{{"parallel", parallel}, {"sequential", sequential}} {
		b.Run(run.name, func(b *testing.B) {
			var total, worst time.Duration
			n := 0
			for b.Loop() {
				start := time.Now()
				outcomes := run.reset()
				took := time.Since(start)
				mustRevokeAll(b, outcomes)
				total += took
				worst = max(worst, took)
				n++
			}
			mean := total / time.Duration(n)
			b.ReportMetric(float64(mean)/float64(time.Millisecond), "ms/reset")
			b.ReportMetric(float64(worst)/float64(time.Millisecond), "max-ms/reset")
			b.ReportMetric(float64(mean)/float64(slowest), "e2e/slowest")
			b.ReportMetric(float64(mean)/float64(sum), "e2e/sum")
		})
	}
}

// mustRevokeAll stops the benchmark unless every system revoked: a fast failure is no result.
func mustRevokeAll(b *testing.B, outcomes []reset.Outcome) {
	b.Helper()
	if len(outcomes) != 5 {
		b.Fatalf("got %d outcomes, want 5: %+v", len(outcomes), outcomes)
	}
	for _, o := range outcomes {
		if o.Status != reset.Revoked {
			b.Fatalf("%s", o.Line())
		}
	}
}
