package e2e

import (
	"context"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/resetbot/resetbot/internal/app"
	"github.com/resetbot/resetbot/internal/demo"
	"github.com/resetbot/resetbot/internal/fake/world"
)

// BenchmarkAckLatency measures, on the real bot, the time from the fake Slack writing an
// envelope to receiving its ack: Slack gives up after 3 seconds. Each command does real work
// after its ack (Slack and Okta lookups, a refusal), so acks are measured while that runs.
func BenchmarkAckLatency(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w, err := world.Start(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	st, err := demo.StartStage(ctx, w, slog.New(slog.DiscardHandler), app.BotOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Stop()
	if err := w.Slack.WaitConnected(ctx, 1); err != nil {
		b.Fatal(err)
	}
	texts := []string{"help", "alice@example.com phished", "'; DROP TABLE requests; --"}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		id := st.Command(w.Oscar, texts[i%len(texts)])
		ack, err := w.Slack.WaitAck(ctx, id)
		if err != nil {
			b.Fatal(err)
		}
		lat = append(lat, ack.Latency)
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[(len(lat)*99)/100].Microseconds()), "p99-µs")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds()), "max-µs")
}
