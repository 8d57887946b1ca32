package cli

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/resetbot/resetbot/internal/app"
	"github.com/resetbot/resetbot/internal/config"
	"github.com/resetbot/resetbot/internal/store"
)

// audit prints the audit log: who asked, who was refused and why, who approved, what each
// system said, and who took over an interrupted reset.
func (a *invocation) audit(ctx context.Context, args []string) int {
	fs := a.flags("audit", "audit [--since 24h] [--target WHO] [--request ID] [--json | --csv]")
	since := fs.Duration("since", 24*time.Hour, "how far back to look")
	target := fs.String("target", "", "only events about this person (email, Okta login or Okta id)")
	request := fs.String("request", "", "only events of this request id")
	asJSON := fs.Bool("json", false, "print JSON")
	asCSV := fs.Bool("csv", false, "print CSV, one row per event: a batch's per-person outcomes for a spreadsheet")
	if code, ok := a.parse(fs, reorder(fs, args)); !ok {
		return code
	}
	if *asJSON && *asCSV {
		fmt.Fprintln(a.stderr, "resetbot audit: choose --json or --csv, not both")
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(a.stderr, "resetbot audit: unexpected argument %q: to see one person's events, use --target %s\n", fs.Arg(0), fs.Arg(0))
		fs.Usage()
		return exitUsage
	}
	cfg, err := config.Load(a.env.Getenv)
	if err != nil {
		fmt.Fprintf(a.stderr, "resetbot audit: %v\n", err)
		return exitUsage
	}
	st, err := app.OpenStore(ctx, cfg)
	if err != nil {
		fmt.Fprintf(a.stderr, "resetbot audit: %v\n", err)
		return exitFor(err)
	}
	defer st.Close()
	f := store.Filter{Target: strings.TrimSpace(*target), RequestID: strings.TrimSpace(*request)}
	if *since > 0 {
		f.Since = time.Now().Add(-*since)
	}
	events, err := st.Audit(ctx, f)
	if err != nil {
		fmt.Fprintf(a.stderr, "resetbot audit: %v\n", err)
		return exitRuntime
	}
	if *asJSON {
		if events == nil {
			events = []store.Event{}
		}
		return a.printJSON(events)
	}
	if *asCSV {
		return a.printCSV(events)
	}
	if len(events) == 0 {
		fmt.Fprintln(a.stdout, "No audit events match.")
		return exitOK
	}
	PrintAudit(a.stdout, events)
	return exitOK
}

// PrintAudit writes events as the table `resetbot audit` prints.
func PrintAudit(out io.Writer, events []store.Event) {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME (UTC)\tREQUEST\tEVENT\tACTOR\tTARGET\tDETAIL")
	for _, e := range events {
		detail := e.Detail
		if e.Reason != "" {
			detail = strings.TrimSpace("reason: " + e.Reason + "  " + detail)
		}
		id := e.RequestID
		if len(id) > 8 {
			id = id[:8]
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e.At.UTC().Format("2006-01-02 15:04:05"), orDash(id), e.Kind,
			orDash(e.Actor.String()), orDash(e.Target), oneLine(detail))
	}
	_ = tw.Flush()
}

// printCSV writes events as CSV with a header row; cells a spreadsheet would run as a
// formula (a provider's error text could start with = or @) are prefixed with a quote.
func (a *invocation) printCSV(events []store.Event) int {
	w := csv.NewWriter(a.stdout)
	_ = w.Write([]string{"time_utc", "request", "event", "actor", "target", "reason", "detail"})
	for _, e := range events {
		row := []string{e.At.UTC().Format(time.RFC3339), e.RequestID, e.Kind, e.Actor.String(), e.Target, e.Reason, oneLine(e.Detail)}
		for i, cell := range row {
			if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
				row[i] = "'" + cell
			}
		}
		_ = w.Write(row)
	}
	w.Flush()
	if err := w.Error(); err != nil {
		fmt.Fprintf(a.stderr, "resetbot audit: %v\n", err)
		return exitRuntime
	}
	return exitOK
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// oneLine keeps a row on one line whatever a provider's error text contained.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
