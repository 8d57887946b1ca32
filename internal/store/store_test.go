package store

import (
	"github.com/resetbot/resetbot/internal/store/storetest"

	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/resetbot/resetbot/internal/reset"
)

// TestStore runs the one suite against every backend.
func TestStore(t *testing.T) {
	t.Parallel()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			if b.name == Postgres {
				storetest.SkipWithoutPostgres(t)
			}
			testStore(t, b.db)
		})
	}
}

// testStore is the behaviour both backends must share; each case gets a fresh database.
func testStore(t *testing.T, db database) {
	tests := []struct {
		name string
		run  func(t *testing.T, db database)
	}{
		{"every field survives a round trip", testRoundTrip},
		{"recent lists newest first", testRecent},
		{"exactly one of many concurrent approvals wins", testApproveExactlyOnce},
		{"of clicks racing to add a first approval, exactly one is kept", testAddApprovalOnce},
		{"approve and cancel refuse requests that are not pending", testRefusals},
		{"racing expiry sweeps expire each request once", testExpireDueOnce},
		{"outcomes are kept one per provider", testOutcomes},
		{"a batch keeps its people and one outcome per person and provider", testBatch},
		{"leases renew, are lost to a takeover and end at finish", testLeases},
		{"racing takeovers take each lapsed request once", testTakeOverOnce},
		{"released leases are taken over at once", testReleaseLeases},
		{"an end nobody told is claimed by exactly one replica", testUnannouncedEndsAreClaimedOnce},
		{"a reopened request keeps what worked and clears what failed", testReopen},
		{"the audit log refuses changes", testAuditAppendOnly},
		{"audit filters select events", testAuditFilters},
		{"a stored event source is refused as duplicate", testDuplicateSource},
		{"replicas migrating a fresh database at once all start", testConcurrentMigrations},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, db)
		})
	}
}

// t0 is the test clock's start; times keep microseconds, which both backends store exactly.
var t0 = time.Date(2025, 3, 14, 9, 26, 53, 589793000, time.UTC)

// pending is a request as the bot creates it: waiting for approval until t0+15m.
func pending(id string) reset.Request {
	return reset.Request{
		ID: id,
		Target: reset.Target{
			OktaID: "00u" + id, Login: id + "@corp.example.com", Email: id + "@example.com",
			DisplayName: "Alice " + id, Status: "ACTIVE",
		},
		Reason:    "phished",
		Requester: reset.Actor{SlackID: "U0REQ", TeamID: "T01", OktaLogin: "rita@example.com", OktaID: "00urita", Name: "Rita"},
		Source:    "slack",
		Plan: []reset.PlanEntry{
			{Provider: "okta", Account: reset.AccountFound},
			{Provider: "zoom", Account: reset.AccountNone},
		},
		State:     reset.Pending,
		CreatedAt: t0,
		ExpiresAt: t0.Add(15 * time.Minute),
		UpdatedAt: t0,
	}
}

func create(t *testing.T, s *Store, reqs ...reset.Request) {
	t.Helper()
	for _, r := range reqs {
		if err := s.Create(context.Background(), r); err != nil {
			t.Fatalf("Create %s: %v", r.ID, err)
		}
	}
}

func get(t *testing.T, s *Store, id string) reset.Request {
	t.Helper()
	r, err := s.Get(context.Background(), id)
	if err != nil {
		t.Fatalf("Get %s: %v", id, err)
	}
	return r
}

func testRoundTrip(t *testing.T, db database) {
	ctx := context.Background()
	s := open(t, db(t))
	if got := s.Backend(); !strings.Contains(t.Name(), "/"+got+"/") {
		t.Errorf("Backend() = %q, want the backend under test (%s)", got, t.Name())
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}

	full := reset.Request{
		ID: "r-full",
		Target: reset.Target{OktaID: "00u1", Login: "alice@corp.example.com", Email: "alice@example.com", DisplayName: "Alice Liddell", Status: "SUSPENDED",
			SecondEmail: "a.liddell@acquired.example", Names: map[string]string{"microsoft": "aliddell@corp.onmicrosoft.example"}},
		Reason:    "phished — “quotes” and ünïcode",
		Requester: reset.Actor{SlackID: "U1", TeamID: "T1", OktaLogin: "rita@example.com", OktaID: "00urita", Name: "Rita"},
		Approver:  reset.Actor{SlackID: "U2", TeamID: "T1", OktaLogin: "abe@example.com", OktaID: "00uabe", Name: "Abe"},
		Source:    "okta-event:6f1c2f0e-8d0b-4c1e-9d5e-3a7f1c2b4d5e",
		Channel:   "C123",
		MessageTS: "1700000000.000100",
		Plan: []reset.PlanEntry{
			{Provider: "google", Account: reset.LookupFailed, Detail: "look up alice@example.com in google: 503 backend error"},
			{Provider: "microsoft", Account: reset.AccountFound, As: "aliddell@corp.onmicrosoft.example"},
			{Provider: "okta", Account: reset.AccountFound},
			{Provider: "slack", Account: reset.AccountNone, Tried: []string{"alice@corp.example.com", "alice@example.com", "a.liddell@acquired.example"}},
			{Provider: "zoom", Account: reset.NotConfigured, Detail: "ZOOM_ACCOUNT_ID not set"},
		},
		Providers:  []string{"okta", "google"},
		State:      reset.Running,
		CreatedAt:  t0,
		ExpiresAt:  t0.Add(15 * time.Minute),
		UpdatedAt:  t0.Add(time.Minute),
		LeaseOwner: "replica-1",
		LeaseUntil: t0.Add(2 * time.Minute),
		Approvals:  []reset.Actor{{SlackID: "U3", TeamID: "T1", OktaLogin: "tess@example.com", OktaID: "00utess"}},
		Note:       "Not reset at once: Okta shows them ACTIVE now.",
	}
	bare := reset.Request{ID: "r-bare", Source: "cli", State: reset.Pending, CreatedAt: t0, UpdatedAt: t0}
	// A time in another zone comes back as the same instant, in UTC.
	zoned := pending("r-zoned")
	zoned.CreatedAt = t0.In(time.FixedZone("CEST", 2*60*60))
	create(t, s, full, bare, zoned)

	for _, want := range []reset.Request{full, bare} {
		if got := get(t, s, want.ID); !reflect.DeepEqual(got, want) {
			t.Errorf("Get %s:\n got %+v\nwant %+v", want.ID, got, want)
		}
	}
	if got := get(t, s, "r-zoned").CreatedAt; got != t0 {
		t.Errorf("CreatedAt given in CEST came back as %v, want %v", got, t0)
	}

	if err := s.SetMessage(ctx, "r-bare", "C9", "1700000001.000200"); err != nil {
		t.Fatalf("SetMessage: %v", err)
	}
	if got := get(t, s, "r-bare"); got.Channel != "C9" || got.MessageTS != "1700000001.000200" {
		t.Errorf("after SetMessage the card is at %q/%q, want C9/1700000001.000200", got.Channel, got.MessageTS)
	}
	if _, err := s.Get(ctx, "r-missing"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get of a missing request: %v, want ErrNotFound", err)
	}
	if err := s.SetMessage(ctx, "r-missing", "C9", "1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("SetMessage of a missing request: %v, want ErrNotFound", err)
	}
}

func testRecent(t *testing.T, db database) {
	s := open(t, db(t))
	for i := range 5 {
		r := pending(fmt.Sprintf("r%d", i))
		r.CreatedAt = t0.Add(time.Duration(i) * time.Second)
		create(t, s, r)
	}
	got, err := s.Recent(context.Background(), 3)
	if err != nil {
		t.Fatalf("Recent: %v", err)
	}
	if ids := requestIDs(got); !slices.Equal(ids, []string{"r4", "r3", "r2"}) {
		t.Errorf("Recent(3) = %v, want [r4 r3 r2]", ids)
	}
}

func testAddApprovalOnce(t *testing.T, db database) {
	const racers = 20
	stores := replicas(t, db(t), racers)
	create(t, stores[0], pending("r1"))
	results := make([]error, racers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, s := range stores {
		wg.Go(func() {
			<-start
			who := reset.Actor{SlackID: fmt.Sprintf("U%02d", i)}
			_, results[i] = s.AddApproval(context.Background(), "r1", nil, who, t0.Add(time.Minute))
		})
	}
	close(start)
	wg.Wait()
	won := 0
	for i, err := range results {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, ErrConflict):
			t.Errorf("racer %d: %v; want ErrConflict", i, err)
		}
	}
	r := get(t, stores[0], "r1")
	if won != 1 || len(r.Approvals) != 1 || r.State != reset.Pending {
		t.Fatalf("%d racers won; the request holds %d approvals in state %s; want exactly one, still pending", won, len(r.Approvals), r.State)
	}
	// A second approval added on top of the first is kept; one on a stale view is refused.
	second := reset.Actor{SlackID: "U99"}
	if _, err := stores[0].AddApproval(context.Background(), "r1", nil, second, t0.Add(time.Minute)); !errors.Is(err, ErrConflict) {
		t.Errorf("an approval over a stale view: %v; want ErrConflict", err)
	}
	got, err := stores[0].AddApproval(context.Background(), "r1", r.Approvals, second, t0.Add(time.Minute))
	if err != nil || len(got.Approvals) != 2 || got.Approvals[1] != second {
		t.Errorf("second approval: %+v, %v", got.Approvals, err)
	}
	if _, err := stores[0].AddApproval(context.Background(), "r1", got.Approvals, reset.Actor{SlackID: "U98"}, t0.Add(time.Hour)); !errors.Is(err, ErrExpired) {
		t.Errorf("an approval after expiry: %v; want ErrExpired", err)
	}
	// The cancelled card names whoever cancelled it.
	by := reset.Actor{SlackID: "U07", OktaLogin: "sam@example.com"}
	if c, err := stores[0].Cancel(context.Background(), "r1", by, t0.Add(time.Minute)); err != nil || c.CancelledBy != by {
		t.Errorf("Cancel = %+v, %v; want cancelled by %v", c.CancelledBy, err, by)
	}
}

func testApproveExactlyOnce(t *testing.T, db database) {
	const racers = 50
	dbURL := db(t)
	stores := replicas(t, dbURL, racers)
	create(t, stores[0], pending("r1"))

	type result struct {
		approver reset.Actor
		req      reset.Request
		err      error
	}
	results := make([]result, racers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, s := range stores {
		wg.Go(func() {
			<-start
			who := reset.Actor{SlackID: fmt.Sprintf("U%02d", i), OktaLogin: fmt.Sprintf("approver%02d@example.com", i)}
			r, err := s.Approve(context.Background(), "r1", who, t0.Add(time.Minute), fmt.Sprintf("replica-%02d", i), time.Minute)
			results[i] = result{who, r, err}
		})
	}
	close(start)
	wg.Wait()

	var winners []reset.Actor
	for _, r := range results {
		if r.err == nil {
			winners = append(winners, r.approver)
		}
	}
	if len(winners) != 1 {
		t.Fatalf("%d of %d concurrent approvals won, want exactly 1: %v", len(winners), racers, winners)
	}
	winner := winners[0]
	for i, r := range results {
		if r.err == nil {
			if r.req.State != reset.Running || r.req.Approver != winner {
				t.Errorf("winner got %s approved by %v, want running approved by %v", r.req.State, r.req.Approver, winner)
			}
			continue
		}
		if !errors.Is(r.err, ErrConflict) {
			t.Errorf("loser %d: %v, want ErrConflict", i, r.err)
		}
		// A loser can tell its user who got there first.
		if r.req.State != reset.Running || r.req.Approver != winner {
			t.Errorf("loser %d was told the request is %s approved by %v, want running approved by %v", i, r.req.State, r.req.Approver, winner)
		}
	}
	got := get(t, stores[0], "r1")
	// The lease runs a minute on the database's clock, whatever the approver's clock said.
	if lease := time.Until(got.LeaseUntil); got.State != reset.Running || got.Approver != winner || got.LeaseOwner != "replica-"+winner.SlackID[1:] ||
		lease <= 0 || lease > time.Minute || got.UpdatedAt != t0.Add(time.Minute) {
		t.Errorf("stored request: %s approved by %v, lease %s until %v, updated %v; want running, %v, replica-%s for a minute from now, updated %v",
			got.State, got.Approver, got.LeaseOwner, got.LeaseUntil, got.UpdatedAt, winner, winner.SlackID[1:], t0.Add(time.Minute))
	}
}

func testRefusals(t *testing.T, db database) {
	ctx := context.Background()
	abe := reset.Actor{SlackID: "U2", OktaLogin: "abe@example.com"}
	expiry := t0.Add(15 * time.Minute)
	approve := func(s *Store, now time.Time) (reset.Request, error) {
		return s.Approve(ctx, "r1", abe, now, "replica-1", time.Minute)
	}
	cancel := func(s *Store, now time.Time) (reset.Request, error) { return s.Cancel(ctx, "r1", abe, now) }
	tests := []struct {
		name    string
		before  func(s *Store) error
		act     func(s *Store, now time.Time) (reset.Request, error)
		now     time.Time
		want    error // errors.Is
		expired bool  // whether the error is also ErrExpired
		state   reset.State
	}{
		{
			name: "approve at expiry", act: approve, now: expiry,
			want: ErrConflict, expired: true, state: reset.Pending,
		},
		{
			name: "approve after the sweep expired it", act: approve, now: expiry.Add(time.Minute),
			before: func(s *Store) error { _, err := s.ExpireDue(ctx, expiry); return err },
			want:   ErrConflict, state: reset.Expired,
		},
		{
			name: "approve a cancelled request", act: approve, now: t0.Add(2 * time.Minute),
			before: func(s *Store) error { _, err := cancel(s, t0.Add(time.Minute)); return err },
			want:   ErrConflict, state: reset.Cancelled,
		},
		{
			name: "approve a request already approved", act: approve, now: t0.Add(2 * time.Minute),
			before: func(s *Store) error { _, err := approve(s, t0.Add(time.Minute)); return err },
			want:   ErrConflict, state: reset.Running,
		},
		{
			name: "cancel an approved request", act: cancel, now: t0.Add(2 * time.Minute),
			before: func(s *Store) error { _, err := approve(s, t0.Add(time.Minute)); return err },
			want:   ErrConflict, state: reset.Running,
		},
		{
			name: "cancel after expiry", act: cancel, now: expiry.Add(time.Second),
			want: ErrConflict, expired: true, state: reset.Pending,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := open(t, db(t))
			create(t, s, pending("r1"))
			if tc.before != nil {
				if err := tc.before(s); err != nil {
					t.Fatalf("setting up: %v", err)
				}
			}
			r, err := tc.act(s, tc.now)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if got := errors.Is(err, ErrExpired); got != tc.expired {
				t.Errorf("errors.Is(%v, ErrExpired) = %v, want %v", err, got, tc.expired)
			}
			if r.ID != "r1" || r.State != tc.state {
				t.Errorf("the refused caller was shown request %q in state %q, want r1 in %q", r.ID, r.State, tc.state)
			}
			if stored := get(t, s, "r1"); stored.State != tc.state {
				t.Errorf("stored state %s, want %s (unchanged by the refused call)", stored.State, tc.state)
			}
		})
	}

	t.Run("missing request", func(t *testing.T) {
		t.Parallel()
		s := open(t, db(t))
		if _, err := approve(s, t0); !errors.Is(err, ErrNotFound) {
			t.Errorf("Approve of a missing request: %v, want ErrNotFound", err)
		}
		if _, err := cancel(s, t0); !errors.Is(err, ErrNotFound) {
			t.Errorf("Cancel of a missing request: %v, want ErrNotFound", err)
		}
	})

	t.Run("cancel records the state change", func(t *testing.T) {
		t.Parallel()
		s := open(t, db(t))
		create(t, s, pending("r1"))
		r, err := cancel(s, t0.Add(time.Minute))
		if err != nil {
			t.Fatalf("Cancel: %v", err)
		}
		if r.State != reset.Cancelled || r.UpdatedAt != t0.Add(time.Minute) {
			t.Errorf("Cancel returned %s updated %v, want cancelled updated %v", r.State, r.UpdatedAt, t0.Add(time.Minute))
		}
	})
}

func testExpireDueOnce(t *testing.T, db database) {
	ctx := context.Background()
	dbURL := db(t)
	stores := replicas(t, dbURL, 8)
	s := stores[0]
	var due []string
	for i := range 20 {
		r := pending(fmt.Sprintf("due%02d", i))
		r.ExpiresAt = t0.Add(time.Minute)
		create(t, s, r)
		due = append(due, r.ID)
	}
	later := pending("later")
	later.ExpiresAt = t0.Add(time.Hour)
	never := pending("never")
	never.ExpiresAt = time.Time{}
	running := pending("running")
	running.ExpiresAt = t0.Add(time.Minute)
	create(t, s, later, never, running)
	if _, err := s.Approve(ctx, "running", reset.Actor{SlackID: "U2"}, t0, "replica-1", time.Hour); err != nil {
		t.Fatalf("Approve: %v", err)
	}

	now := t0.Add(2 * time.Minute)
	var mu sync.Mutex
	var expired []string
	var wg sync.WaitGroup
	for _, r := range stores {
		wg.Go(func() {
			got, err := r.ExpireDue(ctx, now)
			if err != nil {
				t.Errorf("ExpireDue: %v", err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			for _, g := range got {
				if g.State != reset.Expired || g.UpdatedAt != now {
					t.Errorf("ExpireDue returned %s in state %s updated %v, want expired updated %v", g.ID, g.State, g.UpdatedAt, now)
				}
				expired = append(expired, g.ID)
			}
		})
	}
	wg.Wait()
	slices.Sort(expired)
	if !slices.Equal(expired, due) {
		t.Errorf("the sweeps together expired %v, want each of %v exactly once", expired, due)
	}
	for id, want := range map[string]reset.State{"due00": reset.Expired, "later": reset.Pending, "never": reset.Pending, "running": reset.Running} {
		if got := get(t, s, id).State; got != want {
			t.Errorf("%s is %s after the sweep, want %s", id, got, want)
		}
	}
	if again, err := s.ExpireDue(ctx, now); err != nil || len(again) != 0 {
		t.Errorf("a second sweep expired %v (err %v), want nothing", requestIDs(again), err)
	}
}

func testOutcomes(t *testing.T, db database) {
	ctx := context.Background()
	s := open(t, db(t))
	create(t, s, pending("r1"), pending("r2"))
	record := []reset.Outcome{
		{Provider: "zoom", Status: reset.Failed, Detail: "revoke zoom sessions for r1@example.com: 429 too many requests", Retryable: true, Attempts: 3, Duration: 1500 * time.Millisecond},
		{Provider: "okta", Status: reset.NoAccount, Attempts: 2, Duration: 120 * time.Millisecond, Tried: []string{"r1@corp.example.com", "r1@example.com"}},
		{Provider: "google", Status: reset.Revoked, Attempts: 1, Duration: 90 * time.Millisecond, As: "r.one@acquired.example"},
		// A retry of zoom replaces its earlier failure.
		{Provider: "zoom", Status: reset.Revoked, Attempts: 1, Duration: 80 * time.Millisecond},
	}
	for _, o := range record {
		if err := s.RecordOutcome(ctx, "r1", o); err != nil {
			t.Fatalf("RecordOutcome %s: %v", o.Provider, err)
		}
	}
	failed := reset.Outcome{Provider: "google", Status: reset.Failed, Detail: "revoke google sessions: 403 not authorized", Attempts: 1, Duration: time.Second}
	if err := s.RecordOutcome(ctx, "r2", failed); err != nil {
		t.Fatalf("RecordOutcome r2: %v", err)
	}

	got, err := s.Outcomes(ctx, "r1")
	if err != nil {
		t.Fatalf("Outcomes: %v", err)
	}
	want := []reset.Outcome{record[2], record[1], record[3]}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Outcomes(r1) =\n %+v\nwant\n %+v", got, want)
	}
	if got, _ := s.Outcomes(ctx, "r2"); !reflect.DeepEqual(got, []reset.Outcome{failed}) {
		t.Errorf("Outcomes(r2) = %+v, want [%+v]", got, failed)
	}
	if err := s.RecordOutcome(ctx, "r-missing", failed); !errors.Is(err, ErrNotFound) {
		t.Errorf("RecordOutcome for a missing request: %v, want ErrNotFound", err)
	}
}

func testBatch(t *testing.T, db database) {
	ctx := context.Background()
	s := open(t, db(t))
	batch := pending("b1")
	batch.Target = reset.Target{DisplayName: "2 people"}
	batch.Targets = []reset.Target{
		{OktaID: "00ua", Login: "a@corp.example.com", Email: "a@example.com", DisplayName: "Ann Ash", Status: "ACTIVE"},
		{OktaID: "00ub", Login: "b@corp.example.com", Email: "b@example.com", DisplayName: "Ben “Bo” Bell", Status: "SUSPENDED"},
	}
	single := pending("r1")
	create(t, s, batch, single)
	if got := get(t, s, "b1"); !reflect.DeepEqual(got.Targets, batch.Targets) || got.Target.String() != "2 people" || !got.Batch() {
		t.Errorf("stored batch = %+v (%q), want its two people back", got.Targets, got.Target)
	}
	if got := get(t, s, "r1"); got.Batch() || len(got.Targets) != 0 {
		t.Errorf("a one-person request came back as a batch: %+v", got.Targets)
	}

	zoomFailed := reset.Outcome{Provider: "zoom", Status: reset.Failed, Detail: "503", Retryable: true, Attempts: 5, Duration: 2 * time.Second}
	zoomRevoked := reset.Outcome{Provider: "zoom", Status: reset.Revoked, Attempts: 1, Duration: 90 * time.Millisecond}
	okta := reset.Outcome{Provider: "okta", Status: reset.Revoked, Attempts: 1, Duration: 40 * time.Millisecond}
	for _, r := range []struct {
		person string
		o      reset.Outcome
	}{{"00ua", zoomFailed}, {"00ua", okta}, {"00ub", zoomFailed}, {"00ua", zoomRevoked}} {
		if err := s.RecordPersonOutcome(ctx, "b1", r.person, r.o); err != nil {
			t.Fatalf("RecordPersonOutcome %s %s: %v", r.person, r.o.Provider, err)
		}
	}
	got, err := s.PersonOutcomes(ctx, "b1")
	if err != nil {
		t.Fatalf("PersonOutcomes: %v", err)
	}
	want := map[string][]reset.Outcome{"00ua": {okta, zoomRevoked}, "00ub": {zoomFailed}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("PersonOutcomes =\n %+v\nwant\n %+v", got, want)
	}
	if single, _ := s.Outcomes(ctx, "b1"); len(single) != 0 {
		t.Errorf("a batch's people leaked into the one-person outcomes: %+v", single)
	}
	if err := s.RecordPersonOutcome(ctx, "b-missing", "00ua", okta); !errors.Is(err, ErrNotFound) {
		t.Errorf("RecordPersonOutcome for a missing request: %v, want ErrNotFound", err)
	}
	if err := s.RecordPersonOutcome(ctx, "b1", "", okta); err == nil {
		t.Error("RecordPersonOutcome with no person was accepted")
	}
}

func testLeases(t *testing.T, db database) {
	ctx := context.Background()
	s := open(t, db(t))
	create(t, s, pending("r1"))
	if _, err := s.Approve(ctx, "r1", reset.Actor{SlackID: "U2"}, t0, "a", time.Minute); err != nil {
		t.Fatalf("Approve: %v", err)
	}
	steps := []struct {
		name string
		do   func() error
		want error
	}{
		{"owner renews", func() error { return s.RenewLease(ctx, "r1", "a", time.Hour) }, nil},
		{"takeover before the renewed lease lapses takes nothing", func() error {
			return tookOver(ctx, s, "b", time.Hour, nil)
		}, nil},
		// The owner stalls: its last renewal is already over by the database's clock.
		{"a lapsing renewal", func() error { return s.RenewLease(ctx, "r1", "a", -time.Second) }, nil},
		{"takeover after it lapsed takes it", func() error {
			return tookOver(ctx, s, "b", time.Hour, []string{"r1"})
		}, nil},
		{"the old owner's renewal is refused", func() error { return s.RenewLease(ctx, "r1", "a", time.Hour) }, ErrLeaseLost},
		{"the old owner cannot finish", func() error { return s.Finish(ctx, "r1", "a", reset.StateDone, t0.Add(3*time.Minute), time.Hour) }, ErrLeaseLost},
		{"a final state is required", func() error { return s.Finish(ctx, "r1", "b", reset.Running, t0.Add(3*time.Minute), time.Hour) }, nil},
		{"the new owner finishes", func() error { return s.Finish(ctx, "r1", "b", reset.StatePartial, t0.Add(4*time.Minute), time.Hour) }, nil},
		{"nobody claims its end while the owner is telling it", func() error { return claimed(ctx, s, "c", nil) }, nil},
		{"only the owner marks it told", func() error { return s.Announced(ctx, "r1", "c", t0.Add(4*time.Minute)) }, ErrLeaseLost},
		{"the owner marks it told", func() error { return s.Announced(ctx, "r1", "b", t0.Add(4*time.Minute)) }, nil},
		{"a told end is not claimed", func() error { return claimed(ctx, s, "c", nil) }, nil},
		{"a finished request's lease cannot be renewed", func() error { return s.RenewLease(ctx, "r1", "b", time.Hour) }, ErrLeaseLost},
		{"nor finished twice", func() error { return s.Finish(ctx, "r1", "b", reset.StateDone, t0.Add(5*time.Minute), time.Hour) }, ErrLeaseLost},
		{"a missing request has no lease", func() error { return s.RenewLease(ctx, "r-missing", "b", time.Hour) }, ErrNotFound},
	}
	for _, st := range steps {
		err := st.do()
		switch {
		case st.name == "a final state is required":
			if err == nil || !strings.Contains(err.Error(), "not a final state") {
				t.Errorf("%s: got %v, want an error saying running is not a final state", st.name, err)
			}
		case st.want == nil && err != nil:
			t.Errorf("%s: %v", st.name, err)
		case st.want != nil && !errors.Is(err, st.want):
			t.Errorf("%s: got %v, want %v", st.name, err, st.want)
		}
	}
	got := get(t, s, "r1")
	if got.State != reset.StatePartial || got.LeaseOwner != "" || !got.LeaseUntil.IsZero() || got.UpdatedAt != t0.Add(4*time.Minute) ||
		got.AnnouncedAt != t0.Add(4*time.Minute) {
		t.Errorf("finished request: %s, lease %q until %v, updated %v, announced %v; want partial, no lease, updated and announced %v",
			got.State, got.LeaseOwner, got.LeaseUntil, got.UpdatedAt, got.AnnouncedAt, t0.Add(4*time.Minute))
	}
}

// claimed runs ClaimUnannounced and checks it returned exactly want.
func claimed(ctx context.Context, s *Store, owner string, want []string) error {
	got, err := s.ClaimUnannounced(ctx, owner, time.Minute)
	if err != nil {
		return err
	}
	if ids := requestIDs(got); !slices.Equal(ids, want) {
		return fmt.Errorf("claimed %v, want %v", ids, want)
	}
	return nil
}

func testUnannouncedEndsAreClaimedOnce(t *testing.T, db database) {
	ctx := context.Background()
	stores := replicas(t, db(t), 4)
	s := stores[0]
	create(t, s, pending("r1"), pending("r2"))
	for _, id := range []string{"r1", "r2"} {
		if _, err := s.Approve(ctx, id, reset.Actor{SlackID: "U2"}, t0, "dead", time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	// r1's replica stored its end and died before telling it: its announcement lease lapsed.
	if err := s.Finish(ctx, "r1", "dead", reset.StateDone, t0, -time.Second); err != nil {
		t.Fatal(err)
	}
	// r2's replica stored its end and is telling it now.
	if err := s.Finish(ctx, "r2", "dead", reset.StateDone, t0, time.Hour); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []string
	var wg sync.WaitGroup
	for i, st := range stores {
		wg.Go(func() {
			c, err := st.ClaimUnannounced(ctx, fmt.Sprintf("replica-%d", i), time.Minute)
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			defer mu.Unlock()
			got = append(got, requestIDs(c)...)
		})
	}
	wg.Wait()
	if !slices.Equal(got, []string{"r1"}) {
		t.Errorf("claimed %v; want r1 once, and not r2 whose replica is telling it", got)
	}
}

// tookOver runs TakeOver and checks it returned exactly want, now owned by owner for lease
// on the database's clock.
func tookOver(ctx context.Context, s *Store, owner string, lease time.Duration, want []string) error {
	before, err := s.Clock(ctx)
	if err != nil {
		return err
	}
	got, err := s.TakeOver(ctx, owner, lease)
	if err != nil {
		return err
	}
	for _, r := range got {
		if r.LeaseOwner != owner || r.LeaseUntil.Before(before.Add(lease).Truncate(precision)) || r.State != reset.Running {
			return fmt.Errorf("took over %s: owner %q until %v in state %s, want %q for %v from %v, running", r.ID, r.LeaseOwner, r.LeaseUntil, r.State, owner, lease, before)
		}
	}
	if ids := requestIDs(got); !slices.Equal(ids, want) {
		return fmt.Errorf("took over %v, want %v", ids, want)
	}
	return nil
}

func testTakeOverOnce(t *testing.T, db database) {
	ctx := context.Background()
	stores := replicas(t, db(t), 8)
	var lapsed []string
	for i := range 20 {
		id := fmt.Sprintf("r%02d", i)
		create(t, stores[0], pending(id))
		// Approved by a replica whose lease has already lapsed.
		if _, err := stores[0].Approve(ctx, id, reset.Actor{SlackID: "U2"}, t0, "dead", -time.Second); err != nil {
			t.Fatalf("Approve %s: %v", id, err)
		}
		lapsed = append(lapsed, id)
	}
	owners := map[string]string{} // request → replica that says it took it
	untils := map[string]time.Time{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i, s := range stores {
		wg.Go(func() {
			owner := fmt.Sprintf("replica-%d", i)
			got, err := s.TakeOver(ctx, owner, time.Hour)
			if err != nil {
				t.Errorf("TakeOver: %v", err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			for _, r := range got {
				if prev, ok := owners[r.ID]; ok {
					t.Errorf("%s was taken over by both %s and %s", r.ID, prev, owner)
				}
				owners[r.ID], untils[r.ID] = owner, r.LeaseUntil
			}
		})
	}
	wg.Wait()
	if len(owners) != len(lapsed) {
		t.Errorf("%d of %d lapsed requests were taken over", len(owners), len(lapsed))
	}
	for _, id := range lapsed {
		if got := get(t, stores[0], id); got.LeaseOwner != owners[id] || got.LeaseUntil != untils[id] {
			t.Errorf("%s is leased to %q until %v, but %q said it took it until %v", id, got.LeaseOwner, got.LeaseUntil, owners[id], untils[id])
		}
	}
}

func testReleaseLeases(t *testing.T, db database) {
	ctx := context.Background()
	s := open(t, db(t))
	for id, owner := range map[string]string{"a1": "a", "a2": "a", "b1": "b"} {
		create(t, s, pending(id))
		if _, err := s.Approve(ctx, id, reset.Actor{SlackID: "U2"}, t0, owner, time.Hour); err != nil {
			t.Fatalf("Approve %s: %v", id, err)
		}
	}
	if err := tookOver(ctx, s, "c", time.Minute, nil); err != nil {
		t.Fatalf("before the release: %v", err)
	}
	if err := s.ReleaseLeases(ctx, "a"); err != nil {
		t.Fatalf("ReleaseLeases: %v", err)
	}
	got, err := s.TakeOver(ctx, "c", time.Minute)
	if err != nil {
		t.Fatalf("TakeOver: %v", err)
	}
	ids := requestIDs(got)
	slices.Sort(ids)
	if !slices.Equal(ids, []string{"a1", "a2"}) {
		t.Errorf("after a released its leases, c took over %v, want [a1 a2]", ids)
	}
	if b1 := get(t, s, "b1"); b1.LeaseOwner != "b" || time.Until(b1.LeaseUntil) < 50*time.Minute {
		t.Errorf("b1 is leased to %q until %v, want b's hour-long lease untouched", b1.LeaseOwner, b1.LeaseUntil)
	}
}

func testAuditAppendOnly(t *testing.T, db database) {
	ctx := context.Background()
	s := open(t, db(t))
	e := Event{At: t0, RequestID: "r1", Kind: KindApproved, Actor: reset.Actor{SlackID: "U2"}, Target: "alice@example.com", Detail: "approved"}
	if err := s.Append(ctx, e); err != nil {
		t.Fatalf("Append: %v", err)
	}
	tamper := []string{
		`UPDATE audit SET detail = 'nothing happened'`,
		`UPDATE audit SET at = at`,
		`DELETE FROM audit`,
	}
	if s.Backend() == Postgres {
		tamper = append(tamper, `TRUNCATE audit`)
	}
	for _, q := range tamper {
		_, err := s.db.ExecContext(ctx, q)
		if err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: got %v, want the database to refuse it as append-only", q, err)
		}
	}
	got, err := s.Audit(ctx, Filter{})
	if err != nil {
		t.Fatalf("Audit: %v", err)
	}
	if len(got) != 1 || got[0].Detail != "approved" {
		t.Errorf("after the tampering the log holds %+v, want the one event as written", got)
	}
	if err := s.Append(ctx, Event{At: t0}); err == nil {
		t.Errorf("Append without a kind succeeded, want an error")
	}
}

func testAuditFilters(t *testing.T, db database) {
	ctx := context.Background()
	s := open(t, db(t))
	alice := pending("alice")
	alice.Target = reset.Target{OktaID: "00uALICE", Login: "alice@corp.example.com", Email: "Alice@Example.com"}
	bob := pending("bob")
	create(t, s, alice, bob)

	rita := reset.Actor{SlackID: "U1", TeamID: "T1", OktaLogin: "rita@example.com", OktaID: "00urita", Name: "Rita"}
	events := []Event{
		{At: t0, Kind: KindRefused, Actor: reset.Actor{SlackID: "U9"}, Target: "ALICE@example.com", Reason: "phished", Detail: "not_requester"},
		{At: t0.Add(1 * time.Second), RequestID: "alice", Kind: KindRequested, Actor: rita, Target: "alice@example.com", Reason: "phished"},
		{At: t0.Add(2 * time.Second), RequestID: "bob", Kind: KindRequested, Actor: rita, Target: "bob@example.com"},
		{At: t0.Add(3 * time.Second), RequestID: "alice", Kind: KindApproved, Actor: reset.Actor{SlackID: "U2"}},
		{At: t0.Add(4 * time.Second), RequestID: "alice", Kind: KindOutcome, Detail: "zoom: revoked [1 attempt, 80ms]"},
		{At: t0.Add(5 * time.Second), RequestID: "bob", Kind: KindExpired},
	}
	for _, e := range events {
		if err := s.Append(ctx, e); err != nil {
			t.Fatalf("Append %s: %v", e.Kind, err)
		}
	}

	all, err := s.Audit(ctx, Filter{})
	if err != nil {
		t.Fatalf("Audit: %v", err)
	}
	if len(all) != len(events) {
		t.Fatalf("Audit returned %d events, want %d", len(all), len(events))
	}
	for i, got := range all {
		want := events[i]
		want.ID = got.ID
		if got != want || got.ID == 0 {
			t.Errorf("event %d:\n got %+v\nwant %+v", i, got, want)
		}
	}

	tests := []struct {
		name   string
		filter Filter
		want   []int // indexes into events, oldest first
	}{
		{"target by email, any case, includes refusals", Filter{Target: "alice@EXAMPLE.com"}, []int{0, 1, 3, 4}},
		{"target by okta login", Filter{Target: "Alice@Corp.Example.com"}, []int{1, 3, 4}},
		{"target by okta id", Filter{Target: "00ualice"}, []int{1, 3, 4}},
		{"unknown target", Filter{Target: "carol@example.com"}, nil},
		{"request id", Filter{RequestID: "bob"}, []int{2, 5}},
		{"since is inclusive", Filter{Since: t0.Add(3 * time.Second)}, []int{3, 4, 5}},
		{"limit keeps the newest", Filter{Limit: 2}, []int{4, 5}},
		{"filters combine", Filter{Target: "alice@example.com", Since: t0.Add(time.Second), Limit: 2}, []int{3, 4}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.Audit(ctx, tc.filter)
			if err != nil {
				t.Fatalf("Audit: %v", err)
			}
			var want []string
			for _, i := range tc.want {
				want = append(want, fmt.Sprintf("%s %s", events[i].Kind, events[i].At.Format(time.TimeOnly)))
			}
			var gotKinds []string
			for _, e := range got {
				gotKinds = append(gotKinds, fmt.Sprintf("%s %s", e.Kind, e.At.Format(time.TimeOnly)))
			}
			if !slices.Equal(gotKinds, want) {
				t.Errorf("Audit(%+v) = %v, want %v", tc.filter, gotKinds, want)
			}
		})
	}
}

func testDuplicateSource(t *testing.T, db database) {
	s := open(t, db(t))
	event := pending("r1")
	event.Source = "okta-event:0f8fad5b-d9cb-469f-a165-70867728950e"
	create(t, s, event)

	redelivered := pending("r2")
	redelivered.Source = event.Source
	sameID := pending("r1")
	for _, r := range []reset.Request{redelivered, sameID} {
		if err := s.Create(context.Background(), r); !errors.Is(err, ErrDuplicate) {
			t.Errorf("Create %s from %s: %v, want ErrDuplicate", r.ID, r.Source, err)
		}
	}
	// Requests typed in Slack or on the command line share their source.
	for _, id := range []string{"s1", "s2", "c1", "c2"} {
		r := pending(id)
		if id[0] == 'c' {
			r.Source = "cli"
		}
		create(t, s, r)
	}
	if got := get(t, s, "r1"); got.Source != event.Source {
		t.Errorf("the first delivery's request has source %q, want %q", got.Source, event.Source)
	}
	if _, err := s.Get(context.Background(), "r2"); !errors.Is(err, ErrNotFound) {
		t.Errorf("the re-delivered event's request was stored (Get: %v)", err)
	}
}

func testConcurrentMigrations(t *testing.T, db database) {
	const n = 8
	dbURL := db(t)
	stores := make([]*Store, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { stores[i], errs[i] = Open(context.Background(), dbURL) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Open %d of %d racing on a fresh database: %v", i+1, n, err)
		}
		t.Cleanup(func() { stores[i].Close() })
	}
	// Each store works, and sees what the others wrote.
	for i, s := range stores {
		create(t, s, pending(fmt.Sprintf("r%d", i)))
	}
	if got, err := stores[0].Recent(context.Background(), 10); err != nil || len(got) != n {
		t.Errorf("Recent after %d stores each created a request: %d requests (err %v), want %d", n, len(got), err, n)
	}
	var applied int
	if err := stores[0].db.QueryRow(`SELECT count(*) FROM goose_db_version WHERE version_id = 1`).Scan(&applied); err != nil {
		t.Fatalf("read migration history: %v", err)
	}
	if applied != 1 {
		t.Errorf("the first migration was applied %d times, want once", applied)
	}
}

func requestIDs(rs []reset.Request) []string {
	var ids []string
	for _, r := range rs {
		ids = append(ids, r.ID)
	}
	return ids
}

func testReopen(t *testing.T, db database) {
	ctx := context.Background()
	stores := replicas(t, db(t), 4)
	s := stores[0]
	create(t, s, pending("r1"))
	if _, err := s.Approve(ctx, "r1", reset.Actor{SlackID: "U2"}, t0, "a", time.Hour); err != nil {
		t.Fatal(err)
	}
	for _, o := range []reset.Outcome{{Provider: "okta", Status: reset.Revoked}, {Provider: "zoom", Status: reset.Failed, Detail: "503"}} {
		if err := s.RecordOutcome(ctx, "r1", o); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Reopen(ctx, "r1", "b", t0, time.Hour); !errors.Is(err, ErrConflict) {
		t.Errorf("reopening a running request: %v; want ErrConflict", err)
	}
	if err := s.Finish(ctx, "r1", "a", reset.StatePartial, t0, time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Reopen(ctx, "r1", "b", t0, time.Hour); !errors.Is(err, ErrConflict) {
		t.Errorf("reopening an end not told yet: %v; want ErrConflict", err)
	}
	if err := s.Announced(ctx, "r1", "a", t0); err != nil {
		t.Fatal(err)
	}
	var won int
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i, st := range stores {
		wg.Go(func() {
			if _, err := st.Reopen(ctx, "r1", fmt.Sprintf("retrier-%d", i), t0, time.Hour); err == nil {
				mu.Lock()
				won++
				mu.Unlock()
			} else if !errors.Is(err, ErrConflict) {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	got := get(t, s, "r1")
	if won != 1 || got.State != reset.Running || !got.AnnouncedAt.IsZero() {
		t.Errorf("%d retries won; request %s, announced %v; want one, running and not yet told", won, got.State, got.AnnouncedAt)
	}
	left, err := s.Outcomes(ctx, "r1")
	if err != nil || len(left) != 1 || left[0].Provider != "okta" {
		t.Errorf("after the reopen the stored answers are %+v (%v); want Okta's sign-out only", left, err)
	}
}
