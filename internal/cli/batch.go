package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/resetbot/resetbot/internal/app"
	"github.com/resetbot/resetbot/internal/directory"
	"github.com/resetbot/resetbot/internal/lifecycle"
	"github.com/resetbot/resetbot/internal/reset"
)

// notResolved is the outcome word, in a batch's counts, for a provider that was never asked
// because the person could not be found in Okta.
const notResolved reset.Status = "not in okta"

// readPeople reads a batch file: one person per line (email, Okta login or Okta user id);
// blank lines and lines starting with # are skipped. A byte-order mark, which Windows editors
// put before the first line, is dropped, or the first person would be "not found"; so are the
// carriage returns of CRLF line ends.
func readPeople(r io.Reader) ([]string, error) {
	var people []string
	sc := bufio.NewScanner(r)
	for first := true; sc.Scan(); first = false {
		line := sc.Text()
		if first {
			line = strings.TrimPrefix(line, "\uFEFF")
		}
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		people = append(people, line)
	}
	return people, sc.Err()
}

// batchColumns are the outcome words of a batch's counts table, in order.
var batchColumns = []reset.Status{reset.Revoked, reset.NoAccount, reset.Failed, reset.Skipped, notResolved}

// tally adds one person's result to t: a person not found in Okta counts as notResolved for
// every system, so each system's counts still add up to the number of people.
func tally(t *reset.Tally, r reset.Result) {
	if r.Err != nil {
		t.AddAll(notResolved, true)
		return
	}
	t.Add(r.Outcomes)
}

// failedOutcomes is how many provider outcomes failed or were never asked for.
func failedOutcomes(t *reset.Tally) int { return t.Total(reset.Failed) + t.Total(notResolved) }

func printTally(w io.Writer, t *reset.Tally) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "\t")
	for _, c := range batchColumns {
		fmt.Fprintf(tw, "%s\t", c)
	}
	fmt.Fprintln(tw)
	for _, n := range t.Names() {
		fmt.Fprintf(tw, "%s\t", n)
		for _, c := range batchColumns {
			fmt.Fprintf(tw, "%d\t", t.Count(n, c))
		}
		fmt.Fprintln(tw)
	}
	_ = tw.Flush()
}

// terminalBatch announces a batch in the terminal: a line per person as they finish, and
// the people cut short by an interruption.
type terminalBatch struct {
	a          *invocation
	tally      *reset.Tally
	total      int
	unfinished int
}

func (t *terminalBatch) Started(reset.Request, map[string][]reset.Outcome) {}
func (t *terminalBatch) Heard(reset.Target, reset.Outcome)                 {}
func (t *terminalBatch) Finished(reset.Request, lifecycle.End)             {}

func (t *terminalBatch) Person(named reset.Target, r reset.Result, cut bool) {
	if cut {
		// Not counted: the failures are the interruption's, not the systems'.
		t.unfinished++
		fmt.Fprintf(t.a.stdout, "  [-] %s: interrupted%s\n", named.Login, didBefore(r))
		return
	}
	tally(t.tally, r)
	fmt.Fprintf(t.a.stdout, "  [%d/%d] %s\n", t.tally.People, t.total, personLine(r))
}

// didBefore is what an interrupted person's systems did before the interruption, as
// " (okta revoked, …)".
func didBefore(r reset.Result) string {
	var did []string
	for _, o := range r.Outcomes {
		if o.Status != reset.Failed {
			did = append(did, fmt.Sprintf("%s %s", o.Provider, o.Status))
		}
	}
	if len(did) == 0 {
		return ""
	}
	return " (" + strings.Join(did, ", ") + ")"
}

// personLine renders one person's result as one line: every provider's word, failures with
// the provider's own message.
func personLine(r reset.Result) string {
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
// and the counts at the end, all of it recorded in the audit log as one batch request. It
// exits 1 when any provider failed for anyone or anyone could not be found.
func (a *invocation) resetFile(ctx context.Context, w *app.Wiring, sel reset.Selection, path, reason string, workers int, verbose bool) int {
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
	if w.Directory == nil {
		fmt.Fprintln(a.stderr, "resetbot reset: --file needs Okta to find people: set OKTA_ORG_URL")
		return exitUsage
	}
	log := a.logger(w.Config, verbose)
	log.Info("batch reset requested", "audit", "requested", "source", "cli", "people", len(people), "reason", reason)
	// The wiring's limiter paces the resets, the Okta lookups and what Okta says is left of
	// its window, all in one queue per system.
	ex := w.Executor(log)
	named := make([]reset.Target, len(people))
	for i, who := range people {
		named[i] = reset.Target{Login: who}
	}
	// Everyone is found in Okta with one filter per page of names, in the background: each
	// person's job waits only for their own page, so the first are signed out while later
	// pages are read, and nobody costs a lookup of their own. The jobs still name people as
	// the file does, so the lines, the counts and the audit log read as typed.
	find := w.Directory.FindAhead(ctx, people)
	req := reset.Request{Target: reset.Target{DisplayName: fmt.Sprintf("%d people from %s", len(people), path)}, Targets: named, Reason: reason}
	run := a.startRun(ctx, w.Config, ex, find, req, sel, workers, log)
	t := reset.NewTally(ex.Names())
	fmt.Fprintf(a.stdout, "Signing out %d people (%d at a time, %s):\n", len(people), workers, w.PaceLine())
	out := &terminalBatch{a: a, tally: t, total: len(people)}
	run.run(ctx, out)
	unfinished := out.unfinished
	if unfinished > 0 {
		fmt.Fprintf(a.stdout, "\nInterrupted: %d of %d people not finished.\n", unfinished, len(people))
	}
	if t.People > 0 {
		fmt.Fprintf(a.stdout, "\n%d people × %d systems:\n", t.People, len(t.Names()))
		printTally(a.stdout, t)
	}
	if unfinished > 0 {
		return exitFailed
	}
	if t.Troubled > 0 {
		fmt.Fprintf(a.stdout, "\nResult: %d of %d people need attention (%d provider outcomes failed or not asked)\n", t.Troubled, t.People, failedOutcomes(t))
		return exitFailed
	}
	fmt.Fprintln(a.stdout, "\nResult: done")
	return exitOK
}
