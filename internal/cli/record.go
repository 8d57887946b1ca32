package cli

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"os/user"
	"sync"
	"time"

	"github.com/resetbot/resetbot/internal/config"
	"github.com/resetbot/resetbot/internal/lifecycle"
	"github.com/resetbot/resetbot/internal/reset"
	"github.com/resetbot/resetbot/internal/store"
)

// cliLease is how long a command-line reset holds its request past its last renewal. The
// lifecycle renews it every third of that while the command runs, so no bot replica takes over
// a reset still running in a terminal, however long it takes, and one whose process died is
// finished by a replica within cliLease.
const cliLease = 2 * time.Minute

// recordedRun is a command-line reset as a request in the store the bot uses, run through the same
// lifecycle: `resetbot audit` tells its story like any other, and a bot replica sharing the
// database finishes it if the command is stopped. Recording never stops a reset: when the
// store cannot be opened the reset goes on unrecorded and the operator is told.
type recordedRun struct {
	runner *lifecycle.Runner
	req    reset.Request
	warn   func(format string, args ...any)
	close  func()
}

// startRun stores req (its Target or Targets and Reason set by the caller) as a request the
// operator made and approved, leased to this process, and returns the runner for it.
func (a *invocation) startRun(ctx context.Context, cfg config.Config, ex lifecycle.Executor, find reset.Finder, req reset.Request,
	sel reset.Selection, workers int, log *slog.Logger) *recordedRun {
	var mu sync.Mutex // the lease is renewed, and may warn, beside the reset's own output
	warn := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(a.stderr, "resetbot reset: warning: "+format+"\n", args...)
	}
	actor := reset.Actor{Name: "cli:" + operator()}
	now := time.Now()
	req.ID, req.Requester, req.Source, req.State = randomID(), actor, "cli", reset.Pending
	req.CreatedAt, req.UpdatedAt, req.ExpiresAt = now, now, now.Add(time.Minute)
	for name := range sel {
		req.Providers = append(req.Providers, name)
	}
	lc := lifecycle.Config{Executor: ex, Find: find, Replica: fmt.Sprintf("cli-%d", os.Getpid()),
		Lease: cmp.Or(a.lease, cliLease), Workers: workers, Logger: log}
	run := &recordedRun{runner: lifecycle.New(lc), req: req, warn: warn, close: func() {}}

	st, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		warn("not recorded in the audit log (RESETBOT_DATABASE_URL: %v)", err)
		return run
	}
	if err := st.Create(ctx, req); err != nil {
		warn("not recorded in the audit log: %v", err)
		_ = st.Close()
		return run
	}
	lc.Store = st
	recorded := lifecycle.New(lc)
	if err := st.Append(ctx, store.Event{At: now, RequestID: req.ID, Kind: store.KindRequested, Actor: actor,
		Target: lifecycle.AuditTarget(req), Reason: req.Reason, Detail: "from the command line"}); err != nil {
		warn("audit log: %v", err)
	}
	approved, err := recorded.Approve(ctx, req, actor, "the operator ran it directly")
	if err != nil {
		warn("not recorded in the audit log: %v", err)
		_ = st.Close()
		return run
	}
	return &recordedRun{runner: recorded, req: approved, warn: warn, close: func() { _ = st.Close() }}
}

// run runs the request to its end, telling a, and explains an end cut short.
func (r *recordedRun) run(ctx context.Context, a lifecycle.Announcer) lifecycle.End {
	defer r.close()
	end := r.runner.Run(ctx, r.req, a)
	switch {
	case end.LeaseLost:
		r.warn("a resetbot replica took request %s over; it finishes what this command has not", r.req.ID)
	case end.Stopped:
		r.warn("interrupted: request %s stays open, and `resetbot run` on this RESETBOT_DATABASE_URL finishes what is left (resetbot audit --request %s shows what was done)",
			r.req.ID, r.req.ID)
	}
	return end
}

// operator names who ran the command, for the audit log.
func operator() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return "unknown"
}

func randomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
