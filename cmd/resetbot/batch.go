package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"text/tabwriter"

	"github.com/resetbot/resetbot/internal/directory"
	"github.com/resetbot/resetbot/internal/pace"
	"github.com/resetbot/resetbot/internal/reset"
)

// notResolved is the outcome word, in a batch's counts, for a provider that was never asked
// because the person could not be found in Okta.
const notResolved reset.Status = "not in okta"

// readPeople reads a batch file: one person per line (email, Okta login or Okta user id);
// blank lines and lines starting with # are skipped.
func readPeople(r io.Reader) ([]string, error) {
	var people []string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		people = append(people, line)
	}
	return people, sc.Err()
}

// personResult is how one person of a batch ended. Err is set when they could not be
// resolved in Okta, and then no provider was asked.
type personResult struct {
	Who      string
	Target   reset.Target
	Err      error
	Outcomes []reset.Outcome
}

// runBatch resolves each person in Okta and signs them out through ex, workers people at a
// time; ex's limiter paces each provider, so workers only bounds how many people are under
// way. each hears every result as it ends, one call at a time. One person's failure never
// stops the others; cancelling ctx ends the rest as failed.
func runBatch(ctx context.Context, find func(context.Context, string) (reset.Target, error), ex *reset.Executor,
	sel reset.Selection, people []string, workers int, each func(personResult)) {
	workers = max(1, min(workers, len(people)))
	next := make(chan string)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for who := range next {
				r := personResult{Who: who}
				r.Target, r.Err = find(ctx, who)
				if r.Err == nil {
					r.Outcomes = ex.RunAll(ctx, r.Target, sel)
				}
				mu.Lock()
				each(r)
				mu.Unlock()
			}
		}()
	}
	for _, who := range people {
		next <- who
	}
	close(next)
	wg.Wait()
}

// tally counts a batch's outcomes per provider, so the summary stays readable for hundreds:
// every provider's counts add up to the number of people.
type tally struct {
	names    []string
	counts   map[string]map[reset.Status]int
	people   int
	troubled int // people with a failure or not resolved
}

func newTally(names []string) *tally {
	t := &tally{names: names, counts: map[string]map[reset.Status]int{}}
	for _, n := range names {
		t.counts[n] = map[reset.Status]int{}
	}
	return t
}

func (t *tally) add(r personResult) {
	t.people++
	if r.Err != nil {
		t.troubled++
		for _, n := range t.names {
			t.counts[n][notResolved]++
		}
		return
	}
	bad := false
	for _, o := range r.Outcomes {
		t.counts[o.Provider][o.Status]++
		bad = bad || o.Status == reset.Failed
	}
	if bad {
		t.troubled++
	}
}

// failed is how many provider outcomes failed or were never asked for.
func (t *tally) failed() int {
	n := 0
	for _, c := range t.counts {
		n += c[reset.Failed] + c[notResolved]
	}
	return n
}

func (t *tally) print(w io.Writer) {
	cols := []reset.Status{reset.Revoked, reset.NoAccount, reset.Failed, reset.Skipped, notResolved}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "\t")
	for _, c := range cols {
		fmt.Fprintf(tw, "%s\t", c)
	}
	fmt.Fprintln(tw)
	for _, n := range t.names {
		fmt.Fprintf(tw, "%s\t", n)
		for _, c := range cols {
			fmt.Fprintf(tw, "%d\t", t.counts[n][c])
		}
		fmt.Fprintln(tw)
	}
	_ = tw.Flush()
}

// personLine renders one person's result as one line: every provider's word, failures with
// the provider's own message.
func personLine(r personResult) string {
	if r.Err != nil {
		if errors.Is(r.Err, directory.ErrNotFound) {
			return fmt.Sprintf("%s: nobody in Okta matches", r.Who)
		}
		return fmt.Sprintf("%s: could not look them up in Okta: %v", r.Who, r.Err)
	}
	parts := make([]string, 0, len(r.Outcomes))
	for _, o := range r.Outcomes {
		p := fmt.Sprintf("%s %s", o.Provider, o.Status)
		if o.Status == reset.Failed {
			p += " (" + o.Detail + ")"
		}
		parts = append(parts, p)
	}
	return fmt.Sprintf("%s: %s", r.Who, strings.Join(parts, ", "))
}

// resetFile is `reset --file`: everyone in the file, paced per provider, one line per person
// and the counts at the end. It exits 1 when any provider failed for anyone or anyone could
// not be found.
func (a *app) resetFile(ctx context.Context, w *wiring, sel reset.Selection, path, reason string, workers int, rate float64, verbose bool) int {
	f, err := os.Open(path)
	if err != nil {
		fmt.Fprintf(a.stderr, "resetbot reset: --file: %v\n", err)
		return exitUsage
	}
	people, err := readPeople(f)
	_ = f.Close()
	if err != nil {
		fmt.Fprintf(a.stderr, "resetbot reset: --file: %v\n", err)
		return exitUsage
	}
	if len(people) == 0 {
		fmt.Fprintf(a.stderr, "resetbot reset: --file %s names nobody\n", path)
		return exitUsage
	}
	if w.directory == nil {
		fmt.Fprintln(a.stderr, "resetbot reset: --file needs Okta to find people: set OKTA_ORG_URL")
		return exitUsage
	}
	if workers < 1 || rate <= 0 {
		fmt.Fprintln(a.stderr, "resetbot reset: --concurrency and --rate must be positive")
		return exitUsage
	}
	log := a.logger(verbose)
	log.Info("batch reset requested", "audit", "requested", "source", "cli", "people", len(people), "reason", reason)
	ex := w.executor(log, reset.WithLimiter(pace.New(pace.Config{Rate: rate, Burst: 1, Concurrency: workers})))
	t := newTally(ex.Names())
	fmt.Fprintf(a.stdout, "Signing out %d people (%d at a time, at most %g requests/s per system):\n", len(people), workers, rate)
	runBatch(ctx, w.directory.Find, ex, sel, people, workers, func(r personResult) {
		t.add(r)
		fmt.Fprintf(a.stdout, "  [%d/%d] %s\n", t.people, len(people), personLine(r))
	})
	fmt.Fprintf(a.stdout, "\n%d people × %d systems:\n", t.people, len(t.names))
	t.print(a.stdout)
	log.Info("batch reset finished", "audit", "finished", "people", t.people, "troubled", t.troubled)
	if t.troubled > 0 {
		fmt.Fprintf(a.stdout, "\nResult: %d of %d people need attention (%d provider outcomes failed or not asked)\n", t.troubled, t.people, t.failed())
		return exitFailed
	}
	fmt.Fprintln(a.stdout, "\nResult: done")
	return exitOK
}
