package reset_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/resetbot/resetbot/internal/reset"
)

// byPerson fails for the people it names and answers nil for everyone else.
type byPerson struct {
	name string
	fail map[string]error
	mu   sync.Mutex
	seen map[string]int
}

func (p *byPerson) Name() string                               { return p.name }
func (p *byPerson) Lookup(context.Context, reset.Target) error { return nil }
func (p *byPerson) Revoke(ctx context.Context, t reset.Target) error {
	if err := ctx.Err(); err != nil {
		return err // as an SDK call does
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.seen == nil {
		p.seen = map[string]int{}
	}
	p.seen[t.Login]++
	return p.fail[t.Login]
}

func TestBatchReportsEveryoneOnceAndCountsAddUp(t *testing.T) {
	t.Parallel()
	var jobs []reset.Job
	for i := range 50 {
		jobs = append(jobs, reset.Job{Target: reset.Target{OktaID: fmt.Sprint(i), Login: fmt.Sprintf("p%02d@example.com", i)}})
	}
	down := &byPerson{name: "zoom", fail: map[string]error{}}
	for i := range 50 {
		down.fail[jobs[i].Target.Login] = reset.RetryableError(503, 0, "unavailable", errors.New("503 service unavailable"))
	}
	okta := &byPerson{name: "okta", fail: map[string]error{
		"p07@example.com": reset.NoAccountError(errors.New("E0000007")),
		"p08@example.com": reset.PermanentError(403, errors.New("403 forbidden")),
	}}
	ex := reset.NewExecutor([]reset.Provider{okta, down}, reset.WithRetry(reset.RetryPolicy{MaxAttempts: 1}),
		reset.WithSkipped("google", "not configured"))
	tally := reset.NewTally(ex.Names())
	reported := map[int]int{}
	ex.Batch(context.Background(), jobs, 8, nil, nil, func(i int, r reset.Result) {
		reported[i]++
		tally.Add(r.Outcomes)
	})
	for i := range jobs {
		if reported[i] != 1 {
			t.Errorf("person %d reported %d times, want once", i, reported[i])
		}
		if okta.seen[jobs[i].Target.Login] != 1 {
			t.Errorf("okta was asked %d times for person %d, want once: a failing zoom must not stop okta", okta.seen[jobs[i].Target.Login], i)
		}
	}
	want := map[string]map[reset.Status]int{
		"okta":   {reset.Revoked: 48, reset.NoAccount: 1, reset.Failed: 1},
		"google": {reset.Skipped: 50},
		"zoom":   {reset.Failed: 50},
	}
	total := 0
	for name, counts := range want {
		for s, n := range counts {
			if got := tally.Count(name, s); got != n {
				t.Errorf("%s %s = %d, want %d", name, s, got, n)
			}
			total += tally.Count(name, s)
		}
	}
	if total != len(jobs)*len(ex.Names()) || tally.People != len(jobs) {
		t.Errorf("counts add up to %d over %d people, want %d × %d", total, tally.People, len(jobs), len(ex.Names()))
	}
	if tally.Troubled != 50 || tally.Final() != reset.Partial {
		t.Errorf("troubled %d, final %s; want 50 and partial", tally.Troubled, tally.Final())
	}
}

func TestBatchEndsTheRestAsFailedWhenCancelled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	p := &byPerson{name: "okta"}
	ex := reset.NewExecutor([]reset.Provider{p}, reset.WithRetry(reset.RetryPolicy{MaxAttempts: 1}))
	jobs := make([]reset.Job, 20)
	for i := range jobs {
		jobs[i].Target = reset.Target{OktaID: fmt.Sprint(i), Login: fmt.Sprint(i)}
	}
	tally := reset.NewTally(ex.Names())
	ex.Batch(ctx, jobs, 1, nil, nil, func(i int, r reset.Result) {
		tally.Add(r.Outcomes)
		if i == 4 {
			cancel()
		}
	})
	if tally.People != 20 || tally.Count("okta", reset.Revoked)+tally.Count("okta", reset.Failed) != 20 || tally.Count("okta", reset.Failed) == 0 {
		t.Errorf("after a cancel: %d people, %d revoked, %d failed; want all 20 reported, the rest failed",
			tally.People, tally.Count("okta", reset.Revoked), tally.Count("okta", reset.Failed))
	}
}
