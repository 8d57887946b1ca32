// Package metrics is what an operator graphs and alerts on: how resets end, how each system
// answers and how fast, why the executor retried, whether the Slack connection keeps dropping,
// how quickly envelopes are acked and what the Okta hook received. It owns its Prometheus
// registry (no global state), and its methods have the shapes of the hooks the bot, the
// executor and the Okta hook call, so wiring is a matter of passing method values.
package metrics

import (
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/resetbot/resetbot/internal/reset"
)

// Metrics holds resetbot's collectors. Every method is safe for concurrent use and quick, as
// the bot's hooks must be.
type Metrics struct {
	reg          *prometheus.Registry
	requests     *prometheus.CounterVec
	outcomes     *prometheus.CounterVec
	latency      *prometheus.HistogramVec
	retries      *prometheus.CounterVec
	connects     prometheus.Counter
	acks         *prometheus.HistogramVec
	hookRequests *prometheus.CounterVec
	hookEvents   *prometheus.CounterVec
	inboxDepth   prometheus.Gauge
	inboxOldest  prometheus.Gauge
}

// The metric names, for the README and for tests that scrape them.
const (
	RequestsFinished  = "resetbot_requests_finished_total"
	ProviderOutcomes  = "resetbot_provider_outcomes_total"
	ProviderDuration  = "resetbot_provider_duration_seconds"
	ProviderRetries   = "resetbot_provider_retries_total"
	SocketConnections = "resetbot_slack_socket_connections_total"
	AckDuration       = "resetbot_slack_ack_duration_seconds"
	HookRequests      = "resetbot_okta_hook_requests_total"
	HookEvents        = "resetbot_okta_hook_events_total"
	InboxDepth        = "resetbot_okta_inbox_depth"
	InboxOldest       = "resetbot_okta_inbox_oldest_age_seconds"
)

// New registers every collector, plus Go runtime and process metrics, in a registry of its own.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: RequestsFinished,
			Help: "Reset requests that ran to their end, by final state: done, partial or failed.",
		}, []string{"state"}),
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: ProviderOutcomes,
			Help: "What each system said about a reset: revoked, no_account, failed or skipped.",
		}, []string{"provider", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: ProviderDuration,
			Help: "Time one system took to sign a person out, retries and waits included.",
			// Up to the executor's 45s deadline per system.
			Buckets: []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 20, 45},
		}, []string{"provider"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: ProviderRetries,
			Help: "Attempts the executor repeated, by system and reason (rate_limited, server_error, timeout, connection).",
		}, []string{"provider", "reason"}),
		connects: prometheus.NewCounter(prometheus.CounterOpts{
			Name: SocketConnections,
			Help: "Slack Socket Mode connections established: the first one and every reconnect.",
		}),
		acks: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: AckDuration,
			Help: "Time from receiving a Socket Mode envelope to acking it; Slack gives up after 3s.",
			// Dense below Slack's 3s limit, where it matters.
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2, 3, 5},
		}, []string{"kind"}),
		hookRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: HookRequests,
			Help: "HTTP requests to /hooks/okta by result (accepted, verified, unauthorized, malformed, too_large, busy, …).",
		}, []string{"result"}),
		hookEvents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: HookEvents,
			Help: "Okta events received through the hook, by event type and what was done (queued, auto, approve, retried, failed, off, duplicate, ignored, …).",
		}, []string{"event_type", "result"}),
		inboxDepth: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: InboxDepth,
			Help: "Okta events stored and waiting to be worked on, as this replica last saw the inbox.",
		}),
		inboxOldest: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: InboxOldest,
			Help: "How long the oldest waiting Okta event has waited, in seconds (0 when none waits).",
		}),
	}
	m.reg.MustRegister(m.requests, m.outcomes, m.latency, m.retries, m.connects, m.acks, m.hookRequests, m.hookEvents,
		m.inboxDepth, m.inboxOldest,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// Zero series from the start, so a dashboard shows 0 rather than nothing before the first reset.
	for _, f := range []reset.Final{reset.Done, reset.Partial, reset.AllFail} {
		m.requests.WithLabelValues(string(f))
	}
	return m
}

// Handler serves the registry in Prometheus' exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Finished counts a request's end and every system's outcome; it has the shape of
// bot.Hooks.Finished.
func (m *Metrics) Finished(final reset.Final, outcomes []reset.Outcome) {
	m.requests.WithLabelValues(string(final)).Inc()
	for _, o := range outcomes {
		m.outcomes.WithLabelValues(o.Provider, statusLabel(o.Status)).Inc()
		if o.Status != reset.Skipped {
			m.latency.WithLabelValues(o.Provider).Observe(o.Duration.Seconds())
		}
	}
}

// Retried counts one retry; *Metrics is a reset.Observer.
func (m *Metrics) Retried(provider, reason string) {
	m.retries.WithLabelValues(provider, reason).Inc()
}

// Connected counts a Socket Mode connection; it has the shape of bot.Hooks.Connected.
func (m *Metrics) Connected() { m.connects.Inc() }

// Acked observes one envelope's ack latency; it has the shape of bot.Hooks.Acked.
func (m *Metrics) Acked(kind string, d time.Duration) {
	m.acks.WithLabelValues(envelopeKind(kind)).Observe(d.Seconds())
}

// InboxDepth reports the Okta event inbox: how many events wait, and how long the oldest has.
func (m *Metrics) InboxDepth(n int, oldest time.Duration) {
	m.inboxDepth.Set(float64(n))
	m.inboxOldest.Set(oldest.Seconds())
}

// HookRequest counts one HTTP request to the Okta hook by its result.
func (m *Metrics) HookRequest(result string) { m.hookRequests.WithLabelValues(result).Inc() }

// HookEvent counts one Okta event by its type and what was done with it. The caller bounds
// eventType to the types it knows, so a sender cannot grow the series without limit.
func (m *Metrics) HookEvent(eventType, result string) {
	m.hookEvents.WithLabelValues(eventType, result).Inc()
}

// statusLabel turns an outcome word into a label value: "no account" → "no_account".
func statusLabel(s reset.Status) string { return strings.ReplaceAll(string(s), " ", "_") }

// envelopeKind keeps the kind label to the envelope types Slack documents: an envelope the
// SDK could not parse reports whatever type it claimed.
func envelopeKind(kind string) string {
	switch kind {
	case "slash_commands", "interactive", "events_api", "hello", "disconnect":
		return kind
	}
	return "other"
}

// Compile-time check that *Metrics can observe the executor.
var _ reset.Observer = (*Metrics)(nil)
