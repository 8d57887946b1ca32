package reset_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/resetbot/resetbot/internal/reset"
)

// scripted is a provider whose answers a test lists in order; the executor, not any SDK, is
// under test here.
type scripted struct {
	name    string
	answers []error
	block   chan struct{} // when set, Revoke waits for it (or ctx)
	calls   atomic.Int32
}

func (s *scripted) Name() string                                     { return s.name }
func (s *scripted) Lookup(ctx context.Context, _ reset.Target) error { return s.next(ctx) }
func (s *scripted) Revoke(ctx context.Context, _ reset.Target) error { return s.next(ctx) }

func (s *scripted) next(ctx context.Context) error {
	n := int(s.calls.Add(1)) - 1
	if s.block != nil {
		select {
		case <-s.block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if n < len(s.answers) {
		return s.answers[n]
	}
	if len(s.answers) > 0 {
		return s.answers[len(s.answers)-1]
	}
	return nil
}

// waits records the executor's sleeps instead of sleeping.
type waits struct {
	mu sync.Mutex
	d  []time.Duration
}

func (w *waits) sleep(ctx context.Context, d time.Duration) error {
	w.mu.Lock()
	w.d = append(w.d, d)
	w.mu.Unlock()
	return ctx.Err()
}

var alice = reset.Target{OktaID: "00u1", Login: "alice@example.com", Email: "alice@example.com"}

func TestOutcomesFollowErrorKinds(t *testing.T) {
	t.Parallel()
	boom := errors.New("upstream said no")
	tests := []struct {
		name          string
		answers       []error
		wantStatus    reset.Status
		wantAttempts  int
		wantRetryable bool
		wantWaits     []time.Duration
	}{
		{name: "success is revoked", answers: nil, wantStatus: reset.Revoked, wantAttempts: 1},
		{name: "not found is no account, not failed", answers: []error{reset.NoAccountError(boom)}, wantStatus: reset.NoAccount, wantAttempts: 1},
		{name: "permanent fails at once", answers: []error{reset.PermanentError(403, boom)}, wantStatus: reset.Failed, wantAttempts: 1},
		{name: "unclassified errors are not retried blindly", answers: []error{boom}, wantStatus: reset.Failed, wantAttempts: 1},
		{name: "rate limit waits as long as asked, then succeeds",
			answers:    []error{reset.RetryableError(429, 7*time.Second, "rate_limited", boom), nil},
			wantStatus: reset.Revoked, wantAttempts: 2, wantWaits: []time.Duration{7 * time.Second}},
		{name: "persistent 5xx gives up after max attempts",
			answers:    []error{reset.RetryableError(503, 0, "server_error", boom)},
			wantStatus: reset.Failed, wantAttempts: 3, wantRetryable: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := &scripted{name: "zoom", answers: tt.answers}
			w := &waits{}
			ex := reset.NewExecutor([]reset.Provider{p}, reset.WithSleep(w.sleep),
				reset.WithRetry(reset.RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond, MaxDelay: 4 * time.Millisecond}))
			got := ex.RunAll(context.Background(), alice, nil)
			if len(got) != 1 {
				t.Fatalf("outcomes = %+v", got)
			}
			o := got[0]
			if o.Status != tt.wantStatus || o.Attempts != tt.wantAttempts || o.Retryable != tt.wantRetryable {
				t.Errorf("outcome = %+v, want %s after %d attempts (retryable %v)", o, tt.wantStatus, tt.wantAttempts, tt.wantRetryable)
			}
			if int(p.calls.Load()) != tt.wantAttempts {
				t.Errorf("provider called %d times, want %d", p.calls.Load(), tt.wantAttempts)
			}
			if o.Status == reset.Failed && o.Detail == "" {
				t.Errorf("failed outcome carries no detail")
			}
			if tt.wantStatus == reset.Failed && tt.answers != nil && !contains(o.Detail, "upstream said no") {
				t.Errorf("detail %q lost the provider's own message", o.Detail)
			}
			if tt.wantWaits != nil && (len(w.d) != len(tt.wantWaits) || w.d[0] < tt.wantWaits[0]) {
				t.Errorf("waits = %v, want at least %v", w.d, tt.wantWaits)
			}
		})
	}
}

func TestHangingProviderDoesNotDelayOthers(t *testing.T) {
	t.Parallel()
	hang := &scripted{name: "google", block: make(chan struct{})} // never released
	fast := &scripted{name: "okta"}
	ex := reset.NewExecutor([]reset.Provider{hang, fast}, reset.WithDeadline(300*time.Millisecond),
		reset.WithRetry(reset.RetryPolicy{MaxAttempts: 1}))
	var order []string
	var outs []reset.Outcome
	for o := range ex.Run(context.Background(), alice, nil) {
		order = append(order, o.Provider)
		outs = append(outs, o)
	}
	if len(order) != 2 || order[0] != "okta" || order[1] != "google" {
		t.Fatalf("arrival order = %v, want okta before the hanging google", order)
	}
	if outs[0].Status != reset.Revoked {
		t.Errorf("okta = %+v", outs[0])
	}
	if outs[1].Status != reset.Failed || !outs[1].Retryable {
		t.Errorf("hanging google = %+v, want failed and retryable", outs[1])
	}
}

func TestOutcomesArriveAsEachCompletes(t *testing.T) {
	t.Parallel()
	slow := &scripted{name: "microsoft", block: make(chan struct{})}
	fast := &scripted{name: "zoom"}
	ex := reset.NewExecutor([]reset.Provider{slow, fast})
	ch := ex.Run(context.Background(), alice, nil)
	first := <-ch // arrives while microsoft is still blocked
	if first.Provider != "zoom" || first.Status != reset.Revoked {
		t.Fatalf("first outcome = %+v, want zoom revoked before microsoft finished", first)
	}
	close(slow.block)
	second, ok := <-ch
	if !ok || second.Provider != "microsoft" || second.Status != reset.Revoked {
		t.Fatalf("second outcome = %+v (open %v)", second, ok)
	}
	if _, open := <-ch; open {
		t.Errorf("channel not closed after every provider answered")
	}
}

func TestCancellationStopsRetries(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	p := &scripted{name: "okta", answers: []error{reset.RetryableError(503, 0, "server_error", errors.New("unavailable"))}}
	sleep := func(ctx context.Context, d time.Duration) error {
		cancel() // the responder gives up during the first wait
		<-ctx.Done()
		return ctx.Err()
	}
	ex := reset.NewExecutor([]reset.Provider{p}, reset.WithSleep(sleep),
		reset.WithRetry(reset.RetryPolicy{MaxAttempts: 10, BaseDelay: time.Second, MaxDelay: time.Second}))
	o := ex.RunAll(ctx, alice, nil)[0]
	if p.calls.Load() != 1 || o.Status != reset.Failed || !contains(o.Detail, "gave up") {
		t.Errorf("after cancel: %d calls, outcome %+v; want 1 call and a failed outcome saying it gave up", p.calls.Load(), o)
	}
}

func TestRetryAfterPastTheDeadlineFailsNow(t *testing.T) {
	t.Parallel()
	p := &scripted{name: "zoom", answers: []error{reset.RetryableError(429, time.Hour, "rate_limited", errors.New("Too many requests"))}}
	w := &waits{}
	ex := reset.NewExecutor([]reset.Provider{p}, reset.WithSleep(w.sleep), reset.WithDeadline(time.Minute))
	o := ex.RunAll(context.Background(), alice, nil)[0]
	if o.Status != reset.Failed || !o.Retryable || len(w.d) != 0 || !contains(o.Detail, "past the deadline") {
		t.Errorf("outcome %+v, waits %v: want failed at once, retryable, saying the wait is past the deadline", o, w.d)
	}
}

func TestSkippedAndDeselectedAreReported(t *testing.T) {
	t.Parallel()
	okta, zoom := &scripted{name: "okta"}, &scripted{name: "zoom"}
	ex := reset.NewExecutor([]reset.Provider{okta, zoom}, reset.WithSkipped("google", "not configured: GOOGLE_APPLICATION_CREDENTIALS is not set"))
	got := ex.RunAll(context.Background(), alice, reset.Selection{"okta": true})
	want := map[string]reset.Status{"okta": reset.Revoked, "zoom": reset.Skipped, "google": reset.Skipped}
	if len(got) != 3 {
		t.Fatalf("outcomes = %+v", got)
	}
	for _, o := range got {
		if want[o.Provider] != o.Status {
			t.Errorf("%s = %s, want %s", o.Provider, o.Status, want[o.Provider])
		}
	}
	if zoom.calls.Load() != 0 {
		t.Errorf("deselected zoom was called")
	}
	plan := ex.Plan(context.Background(), alice)
	if len(plan) != 3 || plan[2].Provider != "google" || plan[2].Account != reset.NotConfigured {
		t.Errorf("plan = %+v, want google listed as not configured", plan)
	}
}

func TestPlanSaysWhereTheTargetHasAccounts(t *testing.T) {
	t.Parallel()
	found := &scripted{name: "okta"}
	none := &scripted{name: "google", answers: []error{reset.NoAccountError(errors.New("Resource Not Found: userKey"))}}
	broken := &scripted{name: "zoom", answers: []error{reset.PermanentError(401, errors.New("Invalid access token."))}}
	ex := reset.NewExecutor([]reset.Provider{found, none, broken})
	plan := ex.Plan(context.Background(), alice)
	got := fmt.Sprint(plan)
	want := fmt.Sprint([]reset.PlanEntry{
		{Provider: "okta", Account: reset.AccountFound},
		{Provider: "google", Account: reset.AccountNone},
		{Provider: "zoom", Account: reset.LookupFailed, Detail: "Invalid access token."},
	})
	if got != want {
		t.Errorf("plan = %s\nwant   %s", got, want)
	}
}

func TestSummarize(t *testing.T) {
	t.Parallel()
	o := func(s reset.Status) reset.Outcome { return reset.Outcome{Status: s} }
	tests := []struct {
		name string
		in   []reset.Outcome
		want reset.Final
	}{
		{"all revoked is done", []reset.Outcome{o(reset.Revoked), o(reset.Revoked)}, reset.Done},
		{"no account is not a failure", []reset.Outcome{o(reset.Revoked), o(reset.NoAccount)}, reset.Done},
		{"skipped does not count", []reset.Outcome{o(reset.Failed), o(reset.Skipped)}, reset.AllFail},
		{"some failed is partial", []reset.Outcome{o(reset.Failed), o(reset.Revoked)}, reset.Partial},
		{"all failed is failed", []reset.Outcome{o(reset.Failed), o(reset.Failed)}, reset.AllFail},
	}
	for _, tt := range tests {
		if got := reset.Summarize(tt.in); got != tt.want {
			t.Errorf("%s: Summarize = %s, want %s", tt.name, got, tt.want)
		}
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// byName is a provider that knows accounts by name and records the names it was asked under.
type byName struct {
	accounts map[string]error // a name's answer; nil is an account
	mu       sync.Mutex
	asked    []string
}

func (b *byName) Name() string                                     { return "google" }
func (b *byName) Lookup(ctx context.Context, t reset.Target) error { return b.answer(t) }
func (b *byName) Revoke(ctx context.Context, t reset.Target) error { return b.answer(t) }
func (b *byName) answer(t reset.Target) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.asked = append(b.asked, t.Login)
	if err, ok := b.accounts[t.Login]; ok {
		return err
	}
	return reset.NoAccountError(fmt.Errorf("%s: no such user", t.Login))
}

// Each name is asked in order until one answers other than "no account": a failure under the
// first name is the outcome (a 403 there must not read as "no account" because a later name
// has none), and an account under a later name is signed out and named.
func TestEachNameIsAskedUntilOneAnswers(t *testing.T) {
	t.Parallel()
	person := reset.Target{OktaID: "00u1", Login: "alice@example.com", Email: "alice@example.com",
		SecondEmail: "a.l@old.example", Names: map[string]string{"google": "aliddell@corp.example"}}
	tests := []struct {
		name      string
		accounts  map[string]error
		status    reset.Status
		as        string
		tried     []string
		asked     []string
		detailHas string
	}{
		{name: "the mapped name first", accounts: map[string]error{"aliddell@corp.example": nil},
			status: reset.Revoked, as: "aliddell@corp.example", asked: []string{"aliddell@corp.example"}},
		{name: "the second email last", accounts: map[string]error{"a.l@old.example": nil},
			status: reset.Revoked, as: "a.l@old.example", tried: []string{"aliddell@corp.example", "alice@example.com"}, asked: []string{"aliddell@corp.example", "alice@example.com", "a.l@old.example"}},
		{name: "the login says nothing about names", accounts: map[string]error{"alice@example.com": nil},
			status: reset.Revoked, asked: []string{"aliddell@corp.example", "alice@example.com"}},
		{name: "none: every name tried", status: reset.NoAccount,
			tried: []string{"aliddell@corp.example", "alice@example.com", "a.l@old.example"},
			asked: []string{"aliddell@corp.example", "alice@example.com", "a.l@old.example"}},
		{name: "a later name refused outright is nobody there", accounts: map[string]error{"a.l@old.example": reset.PermanentError(403, errors.New("Not Authorized to access this resource/api"))},
			status: reset.NoAccount, tried: []string{"aliddell@corp.example", "alice@example.com", "a.l@old.example"},
			asked: []string{"aliddell@corp.example", "alice@example.com", "a.l@old.example"}},
		{name: "a refusal stops the search", accounts: map[string]error{"aliddell@corp.example": reset.PermanentError(403, errors.New("forbidden"))},
			status: reset.Failed, asked: []string{"aliddell@corp.example"}, detailHas: "forbidden"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := &byName{accounts: tt.accounts}
			ex := reset.NewExecutor([]reset.Provider{p}, reset.WithSleep((&waits{}).sleep))
			out := ex.RunAll(t.Context(), person, nil)
			if len(out) != 1 {
				t.Fatalf("outcomes = %+v", out)
			}
			o := out[0]
			if o.Status != tt.status || o.As != tt.as || fmt.Sprint(o.Tried) != fmt.Sprint(tt.tried) || !strings.Contains(o.Detail, tt.detailHas) {
				t.Errorf("outcome %q (as %q, tried %v)", o.Line(), o.As, o.Tried)
			}
			if fmt.Sprint(p.asked) != fmt.Sprint(tt.asked) {
				t.Errorf("asked under %v, want %v", p.asked, tt.asked)
			}
		})
	}
}

// Okta finds a person by their Okta id: it is asked once, with the person as Okta knows them.
func TestOktaIsAskedOnceWhateverTheNames(t *testing.T) {
	t.Parallel()
	p := &oktaByID{}
	ex := reset.NewExecutor([]reset.Provider{p})
	ex.RunAll(t.Context(), reset.Target{OktaID: "00u1", Login: "a@x.example", SecondEmail: "b@y.example", Names: map[string]string{"okta": "c@z.example"}}, nil)
	if len(p.got) != 1 || p.got[0].Login != "a@x.example" {
		t.Errorf("okta asked about %+v, want once about the person as Okta knows them", p.got)
	}
}

type oktaByID struct{ got []reset.Target }

func (o *oktaByID) Name() string                                     { return "okta" }
func (o *oktaByID) ByOktaID() bool                                   { return true }
func (o *oktaByID) Lookup(ctx context.Context, t reset.Target) error { return nil }
func (o *oktaByID) Revoke(ctx context.Context, t reset.Target) error {
	o.got = append(o.got, t)
	return reset.NoAccountError(errors.New("gone"))
}

// A person's names come from profile attributes anyone with profile access may have typed: the
// order is the mapped name, login, email, secondEmail, each once, and what no identifier holds
// (spaces, control characters, a login that is no address) is never asked.
func TestNamesFor(t *testing.T) {
	t.Parallel()
	p := reset.Target{Login: "carol", Email: "Carol@example.com", SecondEmail: "carol@EXAMPLE.com",
		Names: map[string]string{"microsoft": " chale@corp.example ", "zoom": "carol\x1b[2J@example.com", "slack": "carol @example.com"}}
	for system, want := range map[string][]string{
		"microsoft": {"chale@corp.example", "Carol@example.com"},
		"zoom":      {"Carol@example.com"},
		"slack":     {"Carol@example.com"},
		"google":    {"Carol@example.com"},
	} {
		if got := p.NamesFor(system); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("NamesFor(%s) = %q, want %q", system, got, want)
		}
	}
}
