package metrics

import (
	"bufio"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/resetbot/resetbot/internal/reset"
)

// scrape reads the exposition an operator's Prometheus would, as series → value.
func scrape(t *testing.T, h http.Handler) map[string]float64 {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	res, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("scrape answered %d: %s", res.StatusCode, b)
	}
	series := map[string]float64{}
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("unparsable line %q", line)
		}
		series[line[:i]] = v
	}
	return series
}

func TestEverySignalReachesTheScrape(t *testing.T) {
	t.Parallel()
	m := New()
	before := scrape(t, m.Handler())
	if v, ok := before[`resetbot_requests_finished_total{state="done"}`]; !ok || v != 0 {
		t.Errorf("requests by state should start at an explicit 0, got %v (present %v)", v, ok)
	}

	m.Finished(reset.Partial, []reset.Outcome{
		{Provider: "okta", Status: reset.Revoked, Attempts: 1, Duration: 120 * time.Millisecond},
		{Provider: "zoom", Status: reset.NoAccount, Attempts: 1, Duration: 40 * time.Millisecond},
		{Provider: "google", Status: reset.Failed, Attempts: 3, Duration: 3 * time.Second},
		{Provider: "microsoft", Status: reset.Skipped, Detail: "not configured"},
	})
	m.Retried("google", "rate_limited")
	m.Retried("google", "rate_limited")
	m.Retried("google", "server_error")
	m.Connected()
	m.Connected()
	m.Acked("slash_commands", 2*time.Millisecond)
	m.Acked("interactive", 4*time.Second)
	m.Acked("made_up_by_a_payload", time.Millisecond)
	m.HookRequest("accepted")
	m.HookRequest("unauthorized")
	m.HookEvent("user.lifecycle.suspend", "auto")

	got := scrape(t, m.Handler())
	want := map[string]float64{
		`resetbot_requests_finished_total{state="partial"}`:                                  1,
		`resetbot_requests_finished_total{state="done"}`:                                     0,
		`resetbot_provider_outcomes_total{provider="okta",status="revoked"}`:                 1,
		`resetbot_provider_outcomes_total{provider="zoom",status="no_account"}`:              1,
		`resetbot_provider_outcomes_total{provider="google",status="failed"}`:                1,
		`resetbot_provider_outcomes_total{provider="microsoft",status="skipped"}`:            1,
		`resetbot_provider_duration_seconds_count{provider="okta"}`:                          1,
		`resetbot_provider_duration_seconds_bucket{provider="okta",le="0.25"}`:               1,
		`resetbot_provider_duration_seconds_bucket{provider="okta",le="0.1"}`:                0,
		`resetbot_provider_duration_seconds_bucket{provider="google",le="2.5"}`:              0,
		`resetbot_provider_duration_seconds_bucket{provider="google",le="5"}`:                1,
		`resetbot_provider_retries_total{provider="google",reason="rate_limited"}`:           2,
		`resetbot_provider_retries_total{provider="google",reason="server_error"}`:           1,
		`resetbot_slack_socket_connections_total`:                                            2,
		`resetbot_slack_ack_duration_seconds_count{kind="slash_commands"}`:                   1,
		`resetbot_slack_ack_duration_seconds_bucket{kind="interactive",le="3"}`:              0,
		`resetbot_slack_ack_duration_seconds_count{kind="other"}`:                            1,
		`resetbot_okta_hook_requests_total{result="accepted"}`:                               1,
		`resetbot_okta_hook_requests_total{result="unauthorized"}`:                           1,
		`resetbot_okta_hook_events_total{event_type="user.lifecycle.suspend",result="auto"}`: 1,
	}
	for series, v := range want {
		if g, ok := got[series]; !ok || g != v {
			t.Errorf("%s = %v (present %v); want %v", series, g, ok, v)
		}
	}
	if _, ok := got[`resetbot_provider_duration_seconds_count{provider="microsoft"}`]; ok {
		t.Error("a skipped system has no latency, but one was observed")
	}
	if _, ok := got["go_goroutines"]; !ok {
		t.Error("Go runtime metrics are missing")
	}
}

func TestRegistriesAreIndependent(t *testing.T) {
	t.Parallel()
	a, b := New(), New()
	a.Connected()
	if got := scrape(t, b.Handler())[SocketConnections]; got != 0 {
		t.Errorf("a second registry sees the first one's count: %v", got)
	}
}
