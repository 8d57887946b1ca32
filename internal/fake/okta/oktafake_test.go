package oktafake_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
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
	return send(t, srv, http.MethodGet, "/api/v1/users/"+id)
}

// send makes one request of the fake and returns the window its answer announced.
func send(t *testing.T, srv *oktafake.Server, method, path string) window {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, srv.URL+path, nil)
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

// TestASharedBucketCountsEveryOperationInIt: reads and sign-outs in one bucket spend one window,
// every answer announces what is left of it, and what an enforced window refuses is counted.
func TestASharedBucketCountsEveryOperationInIt(t *testing.T) {
	t.Parallel()
	srv, clock, alice := start(t)
	srv.SetSharedRateLimit(3, "lookup", "search", "revoke")
	t0 := time.Date(2026, 11, 29, 9, 0, 1, 0, time.UTC)
	for i, step := range []struct {
		method, path string
		want         window
	}{
		{http.MethodGet, "/api/v1/users/" + alice.ID, window{200, 3, 2, t0}},
		{http.MethodGet, "/api/v1/users?filter=" + url.QueryEscape(`id eq "`+alice.ID+`"`), window{200, 3, 1, t0}},
		{http.MethodDelete, "/api/v1/users/" + alice.ID + "/sessions", window{204, 3, 0, t0}},
		{http.MethodGet, "/api/v1/users/" + alice.ID, window{429, 3, 0, t0}},
		{http.MethodDelete, "/api/v1/users/" + alice.ID + "/sessions", window{429, 3, 0, t0}},
	} {
		if got := send(t, srv, step.method, step.path); got != step.want {
			t.Errorf("request %d (%s %s) announced %+v, want %+v", i, step.method, step.path, got, step.want)
		}
	}
	if got := []int{srv.Refused("lookup"), srv.Refused("search"), srv.Refused("revoke")}; !slices.Equal(got, []int{1, 0, 1}) {
		t.Errorf("refused lookup, search, revoke = %v, want [1 0 1]", got)
	}
	// Groups keep their own (default) bucket.
	if got := send(t, srv, http.MethodGet, "/api/v1/users/"+alice.ID+"/groups"); got.status != 200 || got.limit != 600 {
		t.Errorf("groups answered %+v, want 200 in its own window of 600", got)
	}
	clock.set(t0)
	if got := send(t, srv, http.MethodDelete, "/api/v1/users/"+alice.ID+"/sessions"); got != (window{204, 3, 2, t0.Add(time.Second)}) {
		t.Errorf("the next second's sign-out announced %+v, want a fresh window", got)
	}
}

// TestUserSearchExpressions: filter= and search= take one comparison or several joined by or;
// filter= compares exactly, search= ignoring case; anything else is refused as Okta does.
func TestUserSearchExpressions(t *testing.T) {
	t.Parallel()
	srv, _, alice := start(t)
	srv.AddUser(oktafake.User{Login: "bob", Email: "Bob.Builder@example.com"})
	quote := srv.AddUser(oktafake.User{Login: `o"brien\x`, Email: "pat@example.com"})
	tests := []struct {
		name, param, expr string
		want              []string // logins, in the fake's order; nil means refused (400)
	}{
		{"one login", "filter", `profile.login eq "bob"`, []string{"bob"}},
		{"logins joined by or", "filter", `profile.login eq "bob" or profile.login eq "alice@example.com" or profile.login eq "nobody"`,
			[]string{"alice@example.com", "bob"}},
		{"attributes mixed", "filter", `id eq "` + alice.ID + `" or profile.email eq "pat@example.com"`, []string{"alice@example.com", quote.Login}},
		{"escapes inside the quotes", "filter", `profile.login eq "o\"brien\\x"`, []string{quote.Login}},
		{"filter compares case exactly", "filter", `profile.email eq "bob.builder@example.com"`, []string{}},
		{"search ignores case", "search", `profile.email eq "bob.builder@example.com" or profile.login eq "ALICE@example.com"`,
			[]string{"alice@example.com", "bob"}},
		{"and is not spoken", "filter", `profile.login eq "bob" and status eq "ACTIVE"`, nil},
		{"a dangling or", "filter", `profile.login eq "bob" or`, nil},
		{"no space before or", "filter", `profile.login eq "bob"or profile.login eq "x"`, nil},
		{"an unknown attribute", "search", `profile.title eq "CEO"`, nil},
	}
	longest := 0
	for _, tt := range tests {
		uri := "/api/v1/users?" + url.Values{tt.param: {tt.expr}}.Encode()
		longest = max(longest, len(uri))
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+uri, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "SSWS "+token)
			resp, err := edge.Client(srv.Roots()).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if tt.want == nil {
				if resp.StatusCode != http.StatusBadRequest {
					t.Errorf("answered %d, want 400", resp.StatusCode)
				}
				return
			}
			var users []struct {
				Profile struct{ Login string } `json:"profile"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&users); err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("answered %d: %v", resp.StatusCode, err)
			}
			got := []string{}
			for _, u := range users {
				got = append(got, u.Profile.Login)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("matched %v, want %v", got, tt.want)
			}
		})
	}
	if got := srv.LongestURL(); got != longest {
		t.Errorf("longest URL %d bytes, want %d, the longest request's", got, longest)
	}
}
