package cli

import (
	"fmt"

	"github.com/resetbot/resetbot/internal/lifecycle"
	"github.com/resetbot/resetbot/internal/reset"
)

// terminalRun announces one person's reset in the terminal: a line per system as it answers,
// in the order they answer. Quiet collects the outcomes for --json instead.
type terminalRun struct {
	a     *invocation
	quiet bool
	// outcomes are every system's, in summary order, once the person's end is known.
	outcomes []reset.Outcome
	names    []string
}

func (t *terminalRun) Started(reset.Request, map[string][]reset.Outcome) {}

func (t *terminalRun) Heard(_ reset.Target, o reset.Outcome) {
	if !t.quiet {
		fmt.Fprintf(t.a.stdout, "  %s\n", o.Line())
	}
}

func (t *terminalRun) Person(_ reset.Target, r reset.Result, cut bool) {
	t.outcomes = r.Outcomes
	if cut && !t.quiet {
		for _, o := range r.Outcomes {
			if o.Status == reset.Failed {
				fmt.Fprintf(t.a.stdout, "  %s: interrupted\n", o.Provider)
			}
		}
	}
}

func (t *terminalRun) Finished(reset.Request, lifecycle.End) {}
