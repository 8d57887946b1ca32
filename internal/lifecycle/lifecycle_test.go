package lifecycle_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/resetbot/resetbot/internal/fake"
	"github.com/resetbot/resetbot/internal/lifecycle"
	"github.com/resetbot/resetbot/internal/reset"
	"github.com/resetbot/resetbot/internal/store"
)

// system signs people out by remembering whom; it fails for the people in fail and holds
// everyone named in hold until the context ends.
type system struct {
	name string
	mu   sync.Mutex
	got  []string
	fail map[string]error
	hold map[string]bool
	// reached is told (once) when a held person is reached.
	reached chan string
}

func (s *system) Name() string                               { return s.name }
func (s *system) Lookup(context.Context, reset.Target) error { return nil }
func (s *system) Revoke(ctx context.Context, t reset.Target) error {
	if s.hold[t.Login] {
		if s.reached != nil {
			s.reached <- t.Login
		}
		<-ctx.Done()
		return ctx.Err()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, t.Login)
	return s.fail[t.Login]
}

func (s *system) calls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.got)
}

// announcer records what a run told it, in order.
type announcer struct {
	mu     sync.Mutex
	events []string
	people map[string]bool // cut, by login
	// onFinished sees the store at the moment of the announcement.
	onFinished func()
}

func (a *announcer) add(e string) { a.mu.Lock(); a.events = append(a.events, e); a.mu.Unlock() }
func (a *announcer) Started(req reset.Request, done map[string][]reset.Outcome) {
	a.add("started")
}
func (a *announcer) Heard(t reset.Target, o reset.Outcome) {
	a.add("heard " + t.Login + " " + o.Provider + " " + string(o.Status))
}
func (a *announcer) Person(t reset.Target, r reset.Result, cut bool) {
	a.mu.Lock()
	if a.people == nil {
		a.people = map[string]bool{}
	}
	a.people[t.Login] = cut
	a.mu.Unlock()
}
func (a *announcer) Finished(req reset.Request, end lifecycle.End) {
	if a.onFinished != nil {
		a.onFinished()
	}
	a.add("finished " + string(end.Final))
}

type rig struct {
	st          *store.Store
	okta, zoom  *system
	runner      *lifecycle.Runner
	alice, bob  reset.Target
	executor    *reset.Executor
	openAnother func(owner string) *lifecycle.Runner
}

func newRig(t *testing.T) *rig {
	t.Helper()
	st, err := store.Open(t.Context(), filepath.Join(t.TempDir(), "resetbot.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	r := &rig{st: st, okta: &system{name: "okta"}, zoom: &system{name: "zoom"},
		alice: reset.Target{OktaID: "00ualice", Login: "alice@example.com"},
		bob:   reset.Target{OktaID: "00ubob", Login: "bob@example.com"}}
	r.executor = reset.NewExecutor([]reset.Provider{r.okta, r.zoom}, reset.WithRetry(reset.RetryPolicy{MaxAttempts: 1}))
	r.openAnother = func(owner string) *lifecycle.Runner {
		return lifecycle.New(lifecycle.Config{Store: st, Executor: r.executor, Replica: owner, Lease: 3 * time.Second,
			Find: func(_ context.Context, who string) (reset.Target, error) {
				if who == r.alice.Login {
					return r.alice, nil
				}
				return reset.Target{}, errors.New("no such user in Okta")
			}})
	}
	r.runner = r.openAnother("replica-1")
	return r
}

// approved stores req and approves it on runner.
func (r *rig) approved(t *testing.T, runner *lifecycle.Runner, req reset.Request) reset.Request {
	t.Helper()
	now := time.Now()
	req.ID, req.State, req.CreatedAt, req.ExpiresAt = "r-"+strings.ReplaceAll(t.Name(), "/", "-"), reset.Pending, now, now.Add(time.Hour)
	if err := r.st.Create(t.Context(), req); err != nil {
		t.Fatal(err)
	}
	running, err := runner.Approve(t.Context(), req, reset.Actor{Name: "sam"}, "")
	if err != nil {
		t.Fatal(err)
	}
	return running
}

func (r *rig) kinds(t *testing.T, id string) string {
	t.Helper()
	events, err := r.st.Audit(t.Context(), store.Filter{RequestID: id})
	if err != nil {
		t.Fatal(err)
	}
	var k []string
	for _, e := range events {
		k = append(k, e.Kind)
	}
	return strings.Join(k, ",")
}

func TestARunIsStoredBeforeItIsAnnounced(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	req := r.approved(t, r.runner, reset.Request{Target: r.alice})
	a := &announcer{}
	a.onFinished = func() {
		got, err := r.st.Get(t.Context(), req.ID)
		if err != nil || got.State != reset.StateDone {
			t.Errorf("announced while the request is %s (%v); its end must be stored first", got.State, err)
		}
	}
	end := r.runner.Run(t.Context(), req, a)
	if end.Final != reset.Done || end.Stopped {
		t.Fatalf("end = %+v", end)
	}
	if got := strings.Join(a.events, "|"); !strings.HasPrefix(got, "started|heard alice@example.com") || !strings.HasSuffix(got, "|finished done") {
		t.Errorf("announced %s", got)
	}
	if got := r.kinds(t, req.ID); got != "approved,outcome,outcome,finished" {
		t.Errorf("audit = %s", got)
	}
}

func TestATakenOverRunAsksOnlyWhatHasNotAnswered(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	req := r.approved(t, r.runner, reset.Request{Target: reset.Target{DisplayName: "2 people"}, Targets: []reset.Target{r.alice, r.bob}})
	// The first replica signed Alice out of Okta, then died.
	if err := r.st.RecordPersonOutcome(t.Context(), req.ID, r.alice.Key(), reset.Outcome{Provider: "okta", Status: reset.Revoked}); err != nil {
		t.Fatal(err)
	}
	if err := r.st.ReleaseLease(t.Context(), req.ID, "replica-1"); err != nil {
		t.Fatal(err)
	}
	second := r.openAnother("replica-2")
	taken, err := second.TakeOver(t.Context())
	if err != nil || len(taken) != 1 {
		t.Fatalf("took over %v, %v", taken, err)
	}
	end := second.Run(t.Context(), taken[0], &announcer{})
	if end.Final != reset.Done || end.Tally.People != 2 || end.Tally.Count("okta", reset.Revoked) != 2 {
		t.Errorf("end = %+v, counts %s", end, end.Tally.Line())
	}
	if got := r.okta.calls(); !slices.Equal(got, []string{"bob@example.com"}) {
		t.Errorf("okta was asked about %v; Alice's answer was stored, so only Bob", got)
	}
	if got := r.kinds(t, req.ID); got != "approved,taken_over,outcome,outcome,outcome,finished" {
		t.Errorf("audit = %s", got)
	}
}

func TestAnInterruptedRunKeepsWhatHappenedAndHandsTheRestOver(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.zoom.hold = map[string]bool{"alice@example.com": true}
	r.zoom.reached = make(chan string, 1)
	req := r.approved(t, r.runner, reset.Request{Target: r.alice})
	ctx, interrupt := context.WithCancel(t.Context())
	go func() { <-r.zoom.reached; time.Sleep(50 * time.Millisecond); interrupt() }()
	a := &announcer{}
	end := r.runner.Run(ctx, req, a)
	if !end.Stopped || end.LeaseLost || end.Final != "" {
		t.Fatalf("end = %+v; want stopped", end)
	}
	if !a.people["alice@example.com"] || slices.ContainsFunc(a.events, func(e string) bool { return strings.HasPrefix(e, "finished") }) {
		t.Errorf("announced %v, people %v; want Alice cut short and no end", a.events, a.people)
	}
	done, err := r.st.Outcomes(t.Context(), req.ID)
	if err != nil || len(done) != 1 || done[0].Provider != "okta" || done[0].Status != reset.Revoked {
		t.Errorf("stored %+v, %v; want Okta's sign-out and not the interruption's failure", done, err)
	}
	// The lease is released: another replica takes the request over at once.
	taken, err := r.openAnother("replica-2").TakeOver(t.Context())
	if err != nil || len(taken) != 1 {
		t.Errorf("taken over at once: %v, %v; want the interrupted request", taken, err)
	}
}

// stalled is a store whose renewals do not happen until resume is closed, as for a process
// paused (a long GC, a frozen VM) past its lease.
type stalled struct {
	*store.Store
	resume chan struct{}
}

func (s *stalled) RenewLease(ctx context.Context, id, owner string, lease time.Duration) error {
	select {
	case <-s.resume:
		return s.Store.RenewLease(ctx, id, owner, lease)
	default:
		return nil
	}
}

func TestARunWhoseLeaseIsTakenStopsWithoutFinishing(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.zoom.hold = map[string]bool{"alice@example.com": true}
	r.zoom.reached = make(chan string, 1)
	st := &stalled{Store: r.st, resume: make(chan struct{})}
	short := lifecycle.New(lifecycle.Config{Store: st, Executor: r.executor, Replica: "slow", Lease: 300 * time.Millisecond})
	req := r.approved(t, short, reset.Request{Target: r.alice})
	go func() {
		<-r.zoom.reached
		// The lease lapses while the process is stalled; another replica takes the request.
		for {
			got, err := r.st.TakeOver(context.Background(), "thief", time.Hour)
			if err != nil {
				t.Error(err)
				return
			}
			if len(got) == 1 {
				close(st.resume)
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	a := &announcer{}
	end := short.Run(t.Context(), req, a)
	if !end.Stopped || !end.LeaseLost {
		t.Fatalf("end = %+v; want the lease lost", end)
	}
	if got, _ := r.st.Get(t.Context(), req.ID); got.State != reset.Running || got.LeaseOwner != "thief" {
		t.Errorf("request is %s leased by %s; the thief runs it now", got.State, got.LeaseOwner)
	}
	if strings.Contains(r.kinds(t, req.ID), "finished") {
		t.Errorf("a run that lost its lease finished the request: %s", r.kinds(t, req.ID))
	}
}

func TestSomeoneOktaDoesNotKnowFailsEverywhereInOktasWords(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	named := []reset.Target{{Login: "alice@example.com"}, {Login: "nobody@example.com"}}
	req := r.approved(t, r.runner, reset.Request{Target: reset.Target{DisplayName: "2 people"}, Targets: named})
	end := r.runner.Run(t.Context(), req, &announcer{})
	if end.Final != reset.Partial || end.Tally.Count("zoom", reset.Failed) != 1 {
		t.Errorf("end = %s, %s", end.Final, end.Tally.Line())
	}
	done, err := r.st.PersonOutcomes(t.Context(), req.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range done["nobody@example.com"] {
		if o.Status != reset.Failed || !strings.Contains(o.Detail, "could not find them in Okta: no such user in Okta") {
			t.Errorf("stored for nobody: %+v", o)
		}
	}
	if len(done["nobody@example.com"]) != 2 {
		t.Errorf("stored %d answers for nobody; want one per system", len(done["nobody@example.com"]))
	}
}

func TestWithoutAStoreARunStillSignsPeopleOut(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	bare := lifecycle.New(lifecycle.Config{Executor: r.executor, Replica: "cli-1"})
	a := &announcer{}
	end := bare.Run(t.Context(), reset.Request{ID: "unrecorded", Target: r.alice}, a)
	if end.Final != reset.Done || len(r.okta.calls()) != 1 || len(r.zoom.calls()) != 1 {
		t.Errorf("end = %+v; okta %v zoom %v", end, r.okta.calls(), r.zoom.calls())
	}
	if a.events[len(a.events)-1] != "finished done" {
		t.Errorf("announced %v", a.events)
	}
}

func TestEveryLineOfARunNamesItsRequest(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	var logs fake.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	r.zoom.fail = map[string]error{"alice@example.com": reset.RetryableError(503, 0, "server_error", errors.New("503 service unavailable"))}
	ex := reset.NewExecutor([]reset.Provider{r.okta, r.zoom}, reset.WithLogger(log),
		reset.WithRetry(reset.RetryPolicy{MaxAttempts: 2, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond}))
	runner := lifecycle.New(lifecycle.Config{Store: r.st, Executor: ex, Replica: "replica-1", Logger: log})
	req := r.approved(t, runner, reset.Request{Target: r.alice})
	runner.Run(t.Context(), req, &announcer{})
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	seen := map[string]bool{}
	for _, l := range lines {
		var line struct {
			Msg     string `json:"msg"`
			Request string `json:"request"`
		}
		if err := json.Unmarshal([]byte(l), &line); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		seen[line.Msg] = true
		if line.Request != req.ID {
			t.Errorf("line %q names request %q; want %s", line.Msg, line.Request, req.ID)
		}
	}
	for _, msg := range []string{"provider outcome", "retrying provider", "request approved", "request finished"} {
		if !seen[msg] {
			t.Errorf("no %q line in:\n%s", msg, logs.String())
		}
	}
}

func TestAReplicaWhoseClockRunsAheadDoesNotTakeOverALiveRun(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.zoom.hold = map[string]bool{"alice@example.com": true}
	r.zoom.reached = make(chan string, 1)
	short := lifecycle.New(lifecycle.Config{Store: r.st, Executor: r.executor, Replica: "live", Lease: 600 * time.Millisecond})
	req := r.approved(t, short, reset.Request{Target: r.alice})
	ctx, stop := context.WithCancel(t.Context())
	ended := make(chan lifecycle.End, 1)
	go func() { ended <- short.Run(ctx, req, &announcer{}) }()
	<-r.zoom.reached
	// An hour ahead: by its own clock every lease it sees has lapsed.
	ahead := lifecycle.New(lifecycle.Config{Store: r.st, Executor: r.executor, Replica: "ahead", Lease: time.Minute,
		Now: func() time.Time { return time.Now().Add(time.Hour) }})
	deadline := time.Now().Add(2 * time.Second) // several of the live run's renewals
	for time.Now().Before(deadline) {
		if taken, err := ahead.TakeOver(t.Context()); err != nil || len(taken) != 0 {
			t.Fatalf("the replica ahead took over %v (%v) while the run renewed its lease", taken, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	if end := <-ended; end.LeaseLost {
		t.Errorf("the live run lost its lease: %+v", end)
	}
}

// down is a store whose Finish fails, as a database that went away does, until ctx ends.
type down struct{ *store.Store }

func (d down) Finish(context.Context, string, string, reset.State, time.Time, time.Duration) error {
	return errors.New("dial tcp 10.0.0.5:5432: connect: connection refused")
}

func TestAnEndThatCouldNotBeStoredIsNotToldAndNotRunAgain(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	dying := lifecycle.New(lifecycle.Config{Store: down{r.st}, Executor: r.executor, Replica: "dying", Lease: time.Second})
	req := r.approved(t, dying, reset.Request{Target: r.alice})
	ctx, die := context.WithTimeout(t.Context(), 500*time.Millisecond) // it retries until it dies
	defer die()
	a := &announcer{}
	end := dying.Run(ctx, req, a)
	if !end.Stopped || slices.ContainsFunc(a.events, func(e string) bool { return strings.HasPrefix(e, "finished") }) {
		t.Fatalf("end %+v, announced %v: an end that was not stored must not be told", end, a.events)
	}
	if n := len(r.okta.calls()) + len(r.zoom.calls()); n != 2 {
		t.Fatalf("%d sign-outs; want one per system", n)
	}
	// Another replica takes the request over once the lease lapses: every answer is stored,
	// so it asks nobody again, finishes, and tells the end once.
	next := r.openAnother("next")
	var taken []reset.Request
	for deadline := time.Now().Add(10 * time.Second); len(taken) == 0 && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		var err error
		if taken, err = next.TakeOver(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if len(taken) != 1 {
		t.Fatal("the request was never taken over")
	}
	b := &announcer{}
	if end := next.Run(t.Context(), taken[0], b); end.Final != reset.Done {
		t.Errorf("end = %+v", end)
	}
	if n := len(r.okta.calls()) + len(r.zoom.calls()); n != 2 {
		t.Errorf("%d sign-outs after the takeover; a request whose answers are all stored is not run again", n)
	}
	if got := strings.Join(b.events, "|"); got != "started|finished done" {
		t.Errorf("the takeover announced %s; want the end told once", got)
	}
	if got, _ := r.st.Get(t.Context(), req.ID); got.AnnouncedAt.IsZero() {
		t.Error("the end is not marked told")
	}
}

func TestAnEndStoredButNeverToldIsToldByAnotherReplica(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	req := r.approved(t, r.runner, reset.Request{Target: reset.Target{DisplayName: "2 people"}, Targets: []reset.Target{r.alice, r.bob}})
	for _, p := range []reset.Target{r.alice, r.bob} {
		for _, sys := range []string{"okta", "zoom"} {
			if err := r.st.RecordPersonOutcome(t.Context(), req.ID, p.Key(), reset.Outcome{Provider: sys, Status: reset.Revoked}); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Its replica stored the end and died before telling it.
	if err := r.st.Finish(t.Context(), req.ID, "replica-1", reset.StateDone, time.Now(), -time.Second); err != nil {
		t.Fatal(err)
	}
	a := &announcer{}
	if err := r.openAnother("next").AnnounceUnannounced(t.Context(), func(reset.Request) lifecycle.Announcer { return a }); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(a.events, "|"); got != "started|finished done" || len(a.people) != 2 {
		t.Errorf("told %s for %d people; want the end once, with both people", got, len(a.people))
	}
	if n := len(r.okta.calls()) + len(r.zoom.calls()); n != 0 {
		t.Errorf("%d sign-outs; telling an end runs nothing", n)
	}
	again := &announcer{}
	if err := r.openAnother("third").AnnounceUnannounced(t.Context(), func(reset.Request) lifecycle.Announcer { return again }); err != nil || len(again.events) != 0 {
		t.Errorf("told again: %v, %v", again.events, err)
	}
}
