package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/resetbot/resetbot/internal/app"
	"github.com/resetbot/resetbot/internal/config"
	"github.com/resetbot/resetbot/internal/lifecycle"
	"github.com/resetbot/resetbot/internal/reset"
	"github.com/resetbot/resetbot/internal/store"
)

// retry is `resetbot retry <request id>`: the systems that failed in a request that ended
// partial or failed are asked again, for the people they failed for, under the request's
// lease, through the same lifecycle as a run from Slack; the audit log records it as retried.
func (a *invocation) retry(ctx context.Context, args []string) int {
	fs := a.flags("retry", "retry <request id> [--verbose]")
	verbose := fs.Bool("verbose", false, "log every decision and retry to stderr")
	if code, ok := a.parse(fs, reorder(fs, args)); !ok {
		return code
	}
	if fs.NArg() != 1 || strings.TrimSpace(fs.Arg(0)) == "" {
		fmt.Fprintln(a.stderr, "resetbot retry: name one request id (resetbot audit shows them)")
		fs.Usage()
		return exitUsage
	}
	id := strings.TrimSpace(fs.Arg(0))
	w, err := app.WireFor(ctx, a.env.Getenv, a.roots, config.Need{})
	if err != nil {
		fmt.Fprintf(a.stderr, "resetbot retry: %v\n", err)
		return exitFor(err)
	}
	st, err := app.OpenStore(ctx, w.Config)
	if err != nil {
		fmt.Fprintf(a.stderr, "resetbot retry: %v\n", err)
		return exitFor(err)
	}
	defer st.Close()
	req, err := st.Get(ctx, id)
	if err != nil {
		fmt.Fprintf(a.stderr, "resetbot retry: %v\n", err)
		return exitFailed
	}
	log := a.logger(w.Config, *verbose)
	ex := w.Executor(log)
	runner := lifecycle.New(lifecycle.Config{Store: st, Executor: ex, Find: w.Directory.Find, Replica: fmt.Sprintf("cli-%d", os.Getpid()),
		Lease: cmp.Or(a.lease, cliLease), Workers: 16, Logger: log})
	running, err := runner.Retry(ctx, req, reset.Actor{Name: "cli:" + operator()})
	if errors.Is(err, store.ErrConflict) {
		fmt.Fprintf(a.stderr, "resetbot retry: request %s is %s: only a request that ended partial or failed, and was announced, can be retried\n", id, running.State)
		return exitFailed
	}
	if err != nil {
		fmt.Fprintf(a.stderr, "resetbot retry: %v\n", err)
		return exitFailed
	}
	fmt.Fprintf(a.stdout, "Retrying the failed systems of %s (%s):\n", req.Target, req.State)
	var out lifecycle.Announcer = &terminalRun{a: a}
	if running.Batch() {
		out = &terminalBatch{a: a, tally: reset.NewTally(ex.Names()), total: len(running.Targets)}
	}
	end := runner.Run(ctx, running, out)
	if end.Stopped {
		fmt.Fprintf(a.stderr, "resetbot retry: interrupted: request %s stays open, and `resetbot run` on this RESETBOT_DATABASE_URL finishes what is left\n", id)
		return exitFailed
	}
	fmt.Fprintf(a.stdout, "\nResult: %s\n", end.Final)
	if end.Final != reset.Done {
		return exitFailed
	}
	return exitOK
}
