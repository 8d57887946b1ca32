package bot

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

func TestPrivateAnswers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// status is what the response_url answers; 0 is no response_url at all.
		status int
		// viaURL says the answer went to the response_url, else as an ephemeral message.
		viaURL bool
	}{
		{name: "through the response_url Slack gave", status: http.StatusOK, viaURL: true},
		{name: "as an ephemeral message when the response_url is used up", status: http.StatusNotFound},
		{name: "as an ephemeral message without a response_url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			var bodies []map[string]any
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				raw, _ := io.ReadAll(r.Body)
				var body map[string]any
				_ = json.Unmarshal(raw, &body)
				mu.Lock()
				bodies = append(bodies, body)
				mu.Unlock()
				w.WriteHeader(tt.status)
			}))
			t.Cleanup(srv.Close)
			h := newHarness(t, func(c *Config) { c.HTTPClient = srv.Client() })
			url := ""
			if tt.status != 0 {
				url = srv.URL + "/commands/T0HOME/1/secret"
			}
			h.bot.replier(url, channel, "U0RITA")(h.ctx, "Nobody in Okta matches `x`.")

			mu.Lock()
			defer mu.Unlock()
			if tt.status != 0 && (len(bodies) != 1 || bodies[0]["text"] != "Nobody in Okta matches `x`." ||
				bodies[0]["response_type"] != "ephemeral" || bodies[0]["replace_original"] != false) {
				t.Errorf("response_url got %+v; want one private answer that leaves the original alone", bodies)
			}
			ephemerals := h.slack.sentWhere(func(m sent) bool { return m.kind == "ephemeral" })
			switch {
			case tt.viaURL && len(ephemerals) != 0:
				t.Errorf("ephemeral messages %+v as well as the response_url; want the answer once", ephemerals)
			case !tt.viaURL && (len(ephemerals) != 1 || ephemerals[0].channel != channel || ephemerals[0].user != "U0RITA" ||
				ephemerals[0].text != "Nobody in Okta matches `x`."):
				t.Errorf("ephemeral messages %+v; want the answer to U0RITA in %s", ephemerals, channel)
			}
		})
	}
}
