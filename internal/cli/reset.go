package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/resetbot/resetbot/internal/app"
	"github.com/resetbot/resetbot/internal/config"
	"github.com/resetbot/resetbot/internal/directory"
	"github.com/resetbot/resetbot/internal/reset"
)

// resetReport is what `reset --json` prints.
type resetReport struct {
	Target   reset.Target      `json:"target"`
	Reason   string            `json:"reason,omitempty"`
	DryRun   bool              `json:"dry_run"`
	Plan     []reset.PlanEntry `json:"plan"`
	Outcomes []reset.Outcome   `json:"outcomes,omitempty"`
	Result   reset.Final       `json:"result,omitempty"`
}

func (a *invocation) reset(ctx context.Context, args []string) int {
	fs := a.flags("reset", "reset <email|login|okta-id> [--reason TEXT] [--providers okta,google,zoom,microsoft,slack] [--dry-run] [--json]\n       resetbot reset --file users.txt [--concurrency N] [--rate R] [--reason TEXT] [--providers …]")
	reason := fs.String("reason", "", "why, for the log")
	only := fs.String("providers", "", "comma-separated systems to reset (default: every configured one)")
	dryRun := fs.Bool("dry-run", false, "show the plan and change nothing")
	asJSON := fs.Bool("json", false, "print one JSON document instead of text")
	verbose := fs.Bool("verbose", false, "log every decision and retry to stderr")
	file := fs.String("file", "", "reset everyone listed in this file, one per line (# comments and blank lines skipped)")
	workers := fs.Int("concurrency", 16, "with --file: how many people are signed out at once")
	rate := fs.Float64("rate", 0, "with --file: requests per second to start every system at, instead of RESETBOT_RATE_* (lowered on 429)")
	if code, ok := a.parse(fs, reorder(fs, args)); !ok {
		return code
	}
	if *file != "" {
		if fs.NArg() != 0 || *dryRun || *asJSON {
			fmt.Fprintln(a.stderr, "resetbot reset: --file takes nobody else on the command line, and no --dry-run or --json (yet)")
			return exitUsage
		}
		return a.resetBatch(ctx, *file, *only, *reason, *workers, *rate, *verbose)
	}
	if fs.NArg() != 1 || strings.TrimSpace(fs.Arg(0)) == "" {
		fmt.Fprintln(a.stderr, "resetbot reset: name exactly one person (email, Okta login or Okta user id)")
		fs.Usage()
		return exitUsage
	}
	who := strings.TrimSpace(fs.Arg(0))

	w, err := app.WireFor(ctx, a.env.Getenv, a.roots, config.Need{})
	if err != nil {
		fmt.Fprintf(a.stderr, "resetbot reset: %v\n", err)
		return exitUsage
	}
	sel, err := selection(w, *only)
	if err != nil {
		fmt.Fprintf(a.stderr, "resetbot reset: %v\n", err)
		return exitUsage
	}
	log := a.logger(w.Config, *verbose)

	target, err := w.Directory.Find(ctx, who)
	if err != nil {
		if errors.Is(err, directory.ErrNotFound) {
			fmt.Fprintf(a.stderr, "resetbot reset: nobody in Okta matches %q: give their email, Okta login or Okta user id\n", who)
		} else {
			fmt.Fprintf(a.stderr, "resetbot reset: could not look %q up in Okta: %v\n", who, err)
		}
		return exitFailed
	}
	log.Info("reset requested", "audit", "requested", "source", "cli", "target", target.Login, "reason", *reason, "dry_run", *dryRun)

	ex := w.Executor(log)
	rep := resetReport{Target: target, Reason: *reason, DryRun: *dryRun, Plan: ex.Plan(ctx, target)}
	if !*asJSON {
		printTarget(a.stdout, target, *reason)
		printPlan(a.stdout, rep.Plan, sel)
	}
	if *dryRun {
		if *asJSON {
			return a.printJSON(rep)
		}
		fmt.Fprintln(a.stdout, "\nDry run: nothing was revoked.")
		return exitOK
	}

	if !*asJSON {
		fmt.Fprintln(a.stdout, "\nSigning out:")
	}
	out := &terminalRun{a: a, quiet: *asJSON}
	run := a.startRun(ctx, w.Config, ex, w.Directory.Find, reset.Request{Target: target, Reason: *reason}, sel, 1, log)
	end := run.run(ctx, out)
	rep.Outcomes, rep.Result = out.outcomes, end.Final
	if end.Stopped {
		rep.Result = reset.AllFail
	}
	if *asJSON {
		if code := a.printJSON(rep); code != exitOK {
			return code
		}
	} else {
		fmt.Fprintf(a.stdout, "\nResult: %s\n", rep.Result)
	}
	if rep.Result != reset.Done {
		return exitFailed
	}
	return exitOK
}

// resetBatch wires the systems, paced as --rate and --concurrency say, and hands over to
// resetFile.
func (a *invocation) resetBatch(ctx context.Context, file, only, reason string, workers int, rate float64, verbose bool) int {
	if workers < 1 || rate < 0 {
		fmt.Fprintln(a.stderr, "resetbot reset: --concurrency and --rate must be positive")
		return exitUsage
	}
	cfg, err := config.LoadFor(a.env.Getenv, config.Need{})
	if err != nil {
		fmt.Fprintf(a.stderr, "resetbot reset: %v\n", err)
		return exitUsage
	}
	cfg.Pace.Concurrency = workers
	if rate > 0 {
		for name := range cfg.Pace.Rates {
			cfg.Pace.Rates[name] = rate
		}
	}
	w, err := app.Wire(ctx, cfg, a.roots)
	if err != nil {
		fmt.Fprintf(a.stderr, "resetbot reset: %v\n", err)
		return exitUsage
	}
	sel, err := selection(w, only)
	if err != nil {
		fmt.Fprintf(a.stderr, "resetbot reset: %v\n", err)
		return exitUsage
	}
	return a.resetFile(ctx, w, sel, file, reason, workers, verbose)
}

// selection turns --providers into an executor selection, refusing names it does not know.
func selection(w *app.Wiring, list string) (reset.Selection, error) {
	if strings.TrimSpace(list) == "" {
		return nil, nil
	}
	var known []string
	for _, s := range w.Systems {
		known = append(known, s.Name)
	}
	sel := reset.Selection{}
	for _, name := range strings.Split(list, ",") {
		name = strings.ToLower(strings.TrimSpace(name))
		if name == "" {
			continue
		}
		if !slices.Contains(known, name) {
			return nil, fmt.Errorf("--providers: unknown system %q (known: %s)", name, strings.Join(known, ", "))
		}
		sel[name] = true
	}
	if len(sel) == 0 {
		return nil, fmt.Errorf("--providers: name at least one system (known: %s)", strings.Join(known, ", "))
	}
	return sel, nil
}

func printTarget(w io.Writer, t reset.Target, reason string) {
	fmt.Fprintf(w, "Target: %s\n", t)
	fmt.Fprintf(w, "Okta:   %s (login %s, status %s)\n", t.OktaID, t.Login, t.Status)
	if reason != "" {
		fmt.Fprintf(w, "Reason: %s\n", reason)
	}
}

func printPlan(w io.Writer, plan []reset.PlanEntry, sel reset.Selection) {
	fmt.Fprintln(w, "\nPlan:")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, p := range plan {
		note := p.Detail
		if sel != nil && !sel[p.Provider] && p.Account != reset.NotConfigured {
			note = "deselected: will be skipped"
		}
		if note != "" {
			note = "— " + note
		}
		fmt.Fprintf(tw, "  %s\t%s%s\t%s\n", p.Provider, p.Account, p.Names(), note)
	}
	_ = tw.Flush()
}

func (a *invocation) printJSON(v any) int {
	enc := json.NewEncoder(a.stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		fmt.Fprintf(a.stderr, "resetbot: write output: %v\n", err)
		return exitRuntime
	}
	return exitOK
}

// logger writes decisions to stderr: warnings only, unless RESETBOT_LOG_LEVEL or verbose asks
// for more.
func (a *invocation) logger(cfg config.Config, verbose bool) *slog.Logger {
	level := slog.LevelWarn
	if cfg.LogLevelSet {
		level = cfg.LogLevel
	}
	if verbose {
		level = min(level, slog.LevelInfo)
	}
	return slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: level}))
}

// reorder lets flags follow the positional argument (`reset alice@x --dry-run`), as people
// type. Which flags take a value is read from fs, so a new flag cannot be missed here. A value
// flag with nothing after it is left last, so parsing reports "flag needs an argument" instead
// of quietly taking the "--" separator as its value.
func reorder(fs *flag.FlagSet, args []string) []string {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		arg := args[i]
		switch {
		case arg == "--":
			pos = append(pos, args[i+1:]...)
			i = len(args)
		case strings.HasPrefix(arg, "-") && len(arg) > 1:
			flags = append(flags, arg)
			if strings.Contains(arg, "=") || !takesValue(fs, arg) {
				continue
			}
			if i+1 == len(args) {
				return flags
			}
			i++
			flags = append(flags, args[i])
		default:
			pos = append(pos, arg)
		}
	}
	return append(flags, append([]string{"--"}, pos...)...)
}

// takesValue reports whether arg names a flag of fs that is followed by a value: any flag but
// a boolean one. Unknown flags take none; parsing rejects them anyway.
func takesValue(fs *flag.FlagSet, arg string) bool {
	f := fs.Lookup(strings.TrimLeft(arg, "-"))
	if f == nil {
		return false
	}
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return !ok || !b.IsBoolFlag()
}
