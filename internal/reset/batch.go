package reset

import (
	"context"
	"fmt"
	"strings"
	"sync"
)

// Job is one person of a batch and the systems to sign them out of; a nil Selection means
// every configured system. A job names its person either resolved (Target) or as typed (Who),
// to be found in the directory when a worker reaches it.
type Job struct {
	Who       string
	Target    Target
	Selection Selection
}

// Result is how one job ended: the person found, or why they could not be (Err, and then no
// system was asked), and every system's outcome.
type Result struct {
	Job
	Err      error
	Outcomes []Outcome
}

// Finder finds a person in the directory by email, login or id.
type Finder func(ctx context.Context, who string) (Target, error)

// Batch signs every job's person out, workers people at a time, and calls each with a job's
// index and result as that person finishes, one call at a time. When heard is not nil it is
// called with every system's outcome as it arrives, from the workers at once, so a caller
// can keep what is final before the person's slowest system answers. A job without a Target is
// first found with find. The executor's limiter paces each system, so workers only bounds
// how many people are under way at once. One person's or one system's failure never stops the
// others; when ctx ends, the people not yet finished end as failed, so every job is reported
// exactly once.
func (e *Executor) Batch(ctx context.Context, jobs []Job, workers int, find Finder, heard func(i int, o Outcome), each func(i int, r Result)) {
	if len(jobs) == 0 {
		return
	}
	workers = max(1, min(workers, len(jobs)))
	next := make(chan int)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				r := Result{Job: jobs[i]}
				if r.Target.OktaID == "" && r.Target.Login == "" && r.Target.Email == "" {
					if find == nil {
						r.Err = fmt.Errorf("find %q: no directory to look people up in", r.Who)
					} else {
						r.Target, r.Err = find(ctx, r.Who)
					}
				}
				if r.Err == nil {
					got := map[string]Outcome{}
					for o := range e.Run(ctx, r.Target, r.Selection) {
						got[o.Provider] = o
						if heard != nil {
							heard(i, o)
						}
					}
					r.Outcomes = e.ordered(got)
				}
				mu.Lock()
				each(i, r)
				mu.Unlock()
			}
		}()
	}
	for i := range jobs {
		next <- i
	}
	close(next)
	wg.Wait()
}

// Tally counts a batch's outcomes per system, so a summary of hundreds stays readable. Every
// person added counts once for every system, so each system's counts add up to People and
// all counts to People × systems.
type Tally struct {
	names  []string
	counts map[string]map[Status]int
	// People is how many people were added; Troubled how many of them had a failure.
	People   int
	Troubled int
}

// NewTally counts for the systems named, in the order summaries list them.
func NewTally(names []string) *Tally {
	t := &Tally{names: names, counts: map[string]map[Status]int{}}
	for _, n := range names {
		t.counts[n] = map[Status]int{}
	}
	return t
}

// Add counts one person's outcomes. A system missing from outcomes counts as skipped, so the
// counts still add up.
func (t *Tally) Add(outcomes []Outcome) {
	t.People++
	seen := map[string]bool{}
	bad := false
	for _, o := range outcomes {
		if _, ok := t.counts[o.Provider]; !ok || seen[o.Provider] {
			continue
		}
		seen[o.Provider] = true
		t.counts[o.Provider][o.Status]++
		bad = bad || o.Status == Failed
	}
	for _, n := range t.names {
		if !seen[n] {
			t.counts[n][Skipped]++
		}
	}
	if bad {
		t.Troubled++
	}
}

// AddOne counts one system's answer for one person without counting the person, for
// progress shown while people are still under way; counts then add up only at the end.
func (t *Tally) AddOne(o Outcome) {
	if c, ok := t.counts[o.Provider]; ok {
		c[o.Status]++
	}
}

// AddAll counts one person for whom every system ended in s, such as a person who could not
// be found in Okta and so was asked of no system.
func (t *Tally) AddAll(s Status, troubled bool) {
	t.People++
	for _, n := range t.names {
		t.counts[n][s]++
	}
	if troubled {
		t.Troubled++
	}
}

// Clone copies t, so a copy can be read while t goes on counting.
func (t *Tally) Clone() *Tally {
	c := &Tally{names: t.names, counts: make(map[string]map[Status]int, len(t.counts)), People: t.People, Troubled: t.Troubled}
	for n, m := range t.counts {
		c.counts[n] = make(map[Status]int, len(m))
		for s, k := range m {
			c.counts[n][s] = k
		}
	}
	return c
}

// Names lists the systems counted.
func (t *Tally) Names() []string { return t.names }

// Count is how many people ended in s for system.
func (t *Tally) Count(system string, s Status) int { return t.counts[system][s] }

// Total is how many people ended in s, over every system.
func (t *Tally) Total(s Status) int {
	n := 0
	for _, c := range t.counts {
		n += c[s]
	}
	return n
}

// Words is one system's counts in outcome words: "38 revoked, 1 no account, 1 failed".
func (t *Tally) Words(system string) string {
	var parts []string
	for _, s := range []Status{Revoked, NoAccount, Failed, Skipped} {
		if n := t.Count(system, s); n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, s))
		}
	}
	if len(parts) == 0 {
		return "nothing yet"
	}
	return strings.Join(parts, ", ")
}

// Line is every system's counts on one line, for the audit log: "okta 38 revoked; zoom …".
func (t *Tally) Line() string {
	parts := make([]string, len(t.names))
	for i, n := range t.names {
		parts[i] = n + " " + t.Words(n)
	}
	return strings.Join(parts, "; ")
}

// Final is the state the whole batch ends in, by the same rule as one person's.
func (t *Tally) Final() Final {
	asked := 0
	for _, c := range t.counts {
		for s, n := range c {
			if s != Skipped {
				asked += n
			}
		}
	}
	return finalOf(t.Total(Failed), asked)
}
