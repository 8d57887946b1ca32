package fake_test

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/resetbot/resetbot/internal/fake"
)

// manualClock is a clock a test moves by hand.
type manualClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *manualClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *manualClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	// call is one request: after is how long after the previous call it arrives.
	type call struct {
		op         string
		after      time.Duration
		wantStatus int    // 0 when served normally
		wantRetry  string // Retry-After on a 429
	}
	tests := []struct {
		name  string
		limit int
		queue []fake.Fault // queued with Fail("revoke", …) before the calls
		calls []call
	}{
		{name: "calls within the limit are served", limit: 3, calls: []call{
			{op: "revoke"}, {op: "revoke"}, {op: "revoke"}}},
		{name: "a call beyond the limit in one second gets 429 and Retry-After", limit: 2, calls: []call{
			{op: "revoke"}, {op: "revoke"}, {op: "revoke", wantStatus: 429, wantRetry: "1"}}},
		{name: "the window slides: room again once the oldest call is a second old", limit: 2, calls: []call{
			{op: "revoke"}, {op: "revoke", after: 600 * time.Millisecond},
			{op: "revoke", after: 300 * time.Millisecond, wantStatus: 429, wantRetry: "1"},
			{op: "revoke", after: 200 * time.Millisecond},
			{op: "revoke", wantStatus: 429, wantRetry: "1"}}},
		{name: "rejected calls do not fill the window", limit: 1, calls: []call{
			{op: "revoke"},
			{op: "revoke", after: 500 * time.Millisecond, wantStatus: 429, wantRetry: "1"},
			{op: "revoke", after: 500 * time.Millisecond}}},
		{name: "other operations are not limited", limit: 1, calls: []call{
			{op: "revoke"}, {op: "lookup"}, {op: "lookup"}, {op: "revoke", wantStatus: 429, wantRetry: "1"}}},
		{name: "queued faults play first and do not count", limit: 1,
			queue: []fake.Fault{{Status: 503}}, calls: []call{
				{op: "revoke", wantStatus: 503}, {op: "revoke"}, {op: "revoke", wantStatus: 429, wantRetry: "1"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clock := &manualClock{t: time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC)}
			var s fake.Script
			s.SetClock(clock.now)
			s.SetRateLimit("revoke", tt.limit)
			s.Fail("revoke", tt.queue...)
			for i, c := range tt.calls {
				clock.advance(c.after)
				w := httptest.NewRecorder()
				f, ok := s.Play(w, httptest.NewRequest(http.MethodPost, "/"+c.op, nil), c.op)
				if !ok {
					t.Fatalf("call %d: Play gave up", i)
				}
				if f.Status != c.wantStatus {
					t.Errorf("call %d (%s): fault status %d, want %d", i, c.op, f.Status, c.wantStatus)
				}
				if got := w.Header().Get("Retry-After"); got != c.wantRetry {
					t.Errorf("call %d (%s): Retry-After %q, want %q", i, c.op, got, c.wantRetry)
				}
			}
			if got := s.Count("revoke") + s.Count("lookup"); got != len(tt.calls) {
				t.Errorf("recorded %d calls, want %d: limited calls still reach the fake", got, len(tt.calls))
			}
		})
	}
}

func TestRateLimitRetryAfterRoundsUp(t *testing.T) {
	t.Parallel()
	clock := &manualClock{t: time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC)}
	var s fake.Script
	s.SetClock(clock.now)
	s.SetRateLimit("revoke", 1)
	r := httptest.NewRequest(http.MethodPost, "/revoke", nil)
	s.Next(r, "revoke")
	clock.advance(10 * time.Millisecond)
	f, _ := s.Next(r, "revoke")
	if f.Status != 429 || f.Header.Get("Retry-After") != "1" {
		t.Errorf("got %d Retry-After %q, want 429 with 1 (990ms rounded up)", f.Status, f.Header.Get("Retry-After"))
	}
	s.SetRateLimit("revoke", 0)
	if f, _ := s.Next(r, "revoke"); f.Status != 0 {
		t.Errorf("after removing the limit got %d, want served", f.Status)
	}
}
