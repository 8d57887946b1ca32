package oktafake_test

import (
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/resetbot/resetbot/internal/fake"
	oktafake "github.com/resetbot/resetbot/internal/fake/okta"
	"github.com/resetbot/resetbot/internal/provider/edge"
)

const token = "00fake-okta-window-tests"

// manualClock is a clock a test moves by hand.
type manualClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *manualClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// window is what one answer announced.
type window struct {
	status           int
	limit, remaining int
	reset            time.Time
}

func start(t *testing.T) (*oktafake.Server, *manualClock, oktafake.User) {
	t.Helper()
	srv := oktafake.Start()
	t.Cleanup(srv.Close)
	srv.SetToken(token)
	clock := &manualClock{now: time.Date(2026, 11, 29, 9, 0, 0, 250e6, time.UTC)}
	srv.SetClock(clock.Now)
	alice := srv.AddUser(oktafake.User{Login: "alice@example.com", Email: "alice@example.com"})
	return srv, clock, alice
}

func lookup(t *testing.T, srv *oktafake.Server, id string) window {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/api/v1/users/"+id, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "SSWS "+token)
	resp, err := edge.Client(srv.Roots()).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	num := func(k string) int64 {
		n, err := strconv.ParseInt(resp.Header.Get(k), 10, 64)
		if err != nil {
			t.Fatalf("answer %d: %s = %q, want a number", resp.StatusCode, k, resp.Header.Get(k))
		}
		return n
	}
	return window{status: resp.StatusCode, limit: int(num("X-Rate-Limit-Limit")), remaining: int(num("X-Rate-Limit-Remaining")),
		reset: time.Unix(num("X-Rate-Limit-Reset"), 0).UTC()}
}

func TestEveryAnswerAnnouncesItsWindow(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		setup func(*oktafake.Server)
		ids   func(alice string) []string
		want  []window
	}{
		{name: "by default a minute of 600, counted but not enforced",
			ids:  func(a string) []string { return []string{a, "00unobody"} },
			want: []window{{200, 600, 599, t0.Add(time.Minute)}, {404, 600, 598, t0.Add(time.Minute)}}},
		{name: "an enforced second refuses what is beyond it, without counting it",
			setup: func(s *oktafake.Server) { s.SetRateLimit("lookup", 2) },
			ids:   func(a string) []string { return []string{a, a, a, a} },
			want: []window{{200, 2, 1, t0.Add(time.Second)}, {200, 2, 0, t0.Add(time.Second)},
				{429, 2, 0, t0.Add(time.Second)}, {429, 2, 0, t0.Add(time.Second)}}},
		{name: "a scripted fault announces the window without spending it",
			setup: func(s *oktafake.Server) {
				s.SetRateLimit("lookup", 5)
				s.Fail("lookup", fake.Fault{Status: http.StatusInternalServerError})
			},
			ids:  func(a string) []string { return []string{a, a} },
			want: []window{{500, 5, 5, t0.Add(time.Second)}, {200, 5, 4, t0.Add(time.Second)}}},
		{name: "removing the limit gives the default window back",
			setup: func(s *oktafake.Server) { s.SetRateLimit("lookup", 1); s.SetRateLimit("lookup", 0) },
			ids:   func(a string) []string { return []string{a, a} },
			want:  []window{{200, 600, 599, t0.Add(time.Minute)}, {200, 600, 598, t0.Add(time.Minute)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, _, alice := start(t)
			if tt.setup != nil {
				tt.setup(srv)
			}
			for i, id := range tt.ids(alice.ID) {
				if got := lookup(t, srv, id); got != tt.want[i] {
					t.Errorf("answer %d announced %+v, want %+v", i, got, tt.want[i])
				}
			}
		})
	}
}

// TestAClientObeyingRemainingIsNeverRefused sends 39 lookups through a limit of 3 a second,
// each as soon as the last answer allows: while Remaining is above 0 at once, else at Reset.
func TestAClientObeyingRemainingIsNeverRefused(t *testing.T) {
	t.Parallel()
	srv, clock, alice := start(t)
	srv.SetRateLimit("lookup", 3)
	var last window
	for i := range 39 {
		if i > 0 && last.remaining == 0 {
			clock.set(last.reset)
		}
		last = lookup(t, srv, alice.ID)
		if last.status != http.StatusOK {
			t.Fatalf("lookup %d answered %d after the previous answer allowed it", i, last.status)
		}
	}
	if got := srv.Count("lookup"); got != 39 {
		t.Errorf("lookups reaching the fake = %d, want 39", got)
	}
	// The last answer spent its window; one more that does not wait for Reset is refused.
	if got := lookup(t, srv, alice.ID); got.status != http.StatusTooManyRequests {
		t.Errorf("a lookup beyond Remaining (%+v) answered %d, want 429", last, got.status)
	}
}

// TestARequestIsCountedWhenItArrives: Okta counts a request against its window on arrival, so
// a request that finds the window spent by one still being worked on is refused at once,
// before that one is answered.
func TestARequestIsCountedWhenItArrives(t *testing.T) {
	t.Parallel()
	srv, _, alice := start(t)
	srv.SetRateLimit("lookup", 1)
	srv.SetLatency("lookup", time.Second)

	type answer struct {
		name string
		w    window
	}
	answers := make(chan answer, 2)
	go func() { answers <- answer{"first", lookup(t, srv, alice.ID)} }()
	for srv.Count("lookup") == 0 {
		time.Sleep(time.Millisecond)
	}
	go func() { answers <- answer{"second", lookup(t, srv, alice.ID)} }()

	a, b := <-answers, <-answers
	if a.w.status != http.StatusTooManyRequests || b.w.status != http.StatusOK {
		t.Fatalf("answered %s %d, then %s %d; want the refusal (429) before the request it lost to (200)",
			a.name, a.w.status, b.name, b.w.status)
	}
	if a.w.remaining != 0 || b.w.remaining != 0 {
		t.Errorf("announced remaining %d and %d, want 0 for both", a.w.remaining, b.w.remaining)
	}
}
