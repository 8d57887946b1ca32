package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/user"
	"sync"
	"time"

	"github.com/resetbot/resetbot/internal/config"
	"github.com/resetbot/resetbot/internal/reset"
	"github.com/resetbot/resetbot/internal/store"
)

// cliLease is how long a command-line reset holds its request past its last renewal. The
// command renews it every third of that while it runs, so no bot replica takes over a reset
// still running in a terminal, however long it takes, and one whose process died is finished by
// a replica within cliLease.
const cliLease = 2 * time.Minute

// record writes a command-line reset to the store and audit log the bot uses, so
// `resetbot audit` tells its story like any other. Recording never stops a reset: when the
// store cannot be opened the reset goes on and the operator is told. A nil *record is valid.
type record struct {
	st    *store.Store
	req   reset.Request
	actor reset.Actor
	warn  func(format string, args ...any)
	// release stops renewing the lease; nil when none is held.
	release func()
	lease   time.Duration
}

// openRecord stores req (its Target or Targets and Reason set by the caller) as a request the
// operator made and approved.
func (a *app) openRecord(ctx context.Context, cfg config.Config, req reset.Request, sel reset.Selection) *record {
	var mu sync.Mutex // the lease is renewed, and may warn, beside the reset's own output
	warn := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(a.stderr, "resetbot reset: warning: "+format+"\n", args...)
	}
	st, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		warn("not recorded in the audit log (RESETBOT_DATABASE_URL: %v)", err)
		return nil
	}
	actor := reset.Actor{Name: "cli:" + operator()}
	now := time.Now()
	req.ID, req.Requester, req.Source, req.State = randomID(), actor, "cli", reset.Pending
	req.CreatedAt, req.UpdatedAt, req.ExpiresAt = now, now, now.Add(time.Minute)
	reason := req.Reason
	for name := range sel {
		req.Providers = append(req.Providers, name)
	}
	owner := fmt.Sprintf("cli-%d", os.Getpid())
	r := &record{st: st, req: req, actor: actor, warn: warn, lease: cmp.Or(a.lease, cliLease)}
	if err := st.Create(ctx, req); err != nil {
		warn("not recorded in the audit log: %v", err)
		_ = st.Close()
		return nil
	}
	r.append(ctx, store.KindRequested, reason, "from the command line")
	approved, err := st.Approve(ctx, req.ID, actor, now, owner, now.Add(r.lease))
	if err != nil {
		warn("audit log: %v", err)
	} else {
		r.req = approved
		r.release = r.hold(ctx, r.lease)
	}
	r.append(ctx, store.KindApproved, reason, "the operator ran it directly")
	return r
}

// hold renews the request's lease every third of lease until the returned func is called. If
// a replica took the request over anyway (this process stalled past its lease), the operator is
// told; the reset goes on, since a sign-out repeated is harmless.
func (r *record) hold(ctx context.Context, lease time.Duration) func() {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		err := store.KeepLease(ctx, lease/3, func(ctx context.Context) error {
			return r.st.RenewLease(ctx, r.req.ID, r.req.LeaseOwner, time.Now().Add(lease))
		}, func(err error) { r.warn("audit log: renew the lease on request %s: %v", r.req.ID, err) })
		if errors.Is(err, store.ErrLeaseLost) {
			r.warn("a resetbot replica took request %s over; it finishes what this command has not", r.req.ID)
		}
	}()
	return func() { cancel(); <-done }
}

// settled gives the context to record an outcome with, and false when it should not be
// recorded. Once the command is interrupted, a failure is the interruption's own and is left
// for the replica that takes the request over to run again; a sign-out that did happen is still
// written down, on a context the interruption has not ended.
func settled(ctx context.Context, failed bool) (context.Context, context.CancelFunc, bool) {
	if ctx.Err() == nil {
		return ctx, func() {}, true
	}
	if failed {
		return ctx, func() {}, false
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	return ctx, cancel, true
}

func (r *record) outcome(ctx context.Context, o reset.Outcome) {
	if r == nil {
		return
	}
	ctx, cancel, ok := settled(ctx, o.Status == reset.Failed)
	defer cancel()
	if !ok {
		return
	}
	if err := r.st.RecordOutcome(ctx, r.req.ID, o); err != nil {
		r.warn("audit log: %v", err)
	}
	r.append(ctx, store.KindOutcome, "", o.Provider+": "+string(o.Status)+detailOf(o))
}

// person records how one person of a batch ended, under named, the person as the request
// stored them.
func (r *record) person(ctx context.Context, named reset.Target, res reset.Result) {
	if r == nil {
		return
	}
	who := named.Login
	if res.Target.Login != "" {
		who = res.Target.Login
	}
	if res.Err != nil {
		if ctx.Err() == nil {
			r.event(ctx, store.KindOutcome, who, "", "not resolved in okta — "+res.Err.Error())
		}
		return
	}
	for _, o := range res.Outcomes {
		func() {
			ctx, cancel, ok := settled(ctx, o.Status == reset.Failed)
			defer cancel()
			if !ok {
				return
			}
			if err := r.st.RecordPersonOutcome(ctx, r.req.ID, named.Key(), o); err != nil {
				r.warn("audit log: %v", err)
			}
			r.event(ctx, store.KindOutcome, who, "", o.Provider+": "+string(o.Status)+detailOf(o))
		}()
	}
}

func (r *record) finish(ctx context.Context, final reset.Final) {
	if r == nil {
		return
	}
	if r.release != nil {
		r.release()
	}
	if ctx.Err() != nil {
		// Stopped before the end (Ctrl-C, SIGTERM): the request stays running with its lease
		// released, so a bot replica finishes what this command did not at once rather than
		// it staying half-done.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := r.st.ReleaseLeases(ctx, r.req.LeaseOwner, time.Now()); err != nil {
			r.warn("audit log: %v", err)
		}
		r.warn("interrupted: request %s stays open, and `resetbot run` on this RESETBOT_DATABASE_URL finishes what is left (resetbot audit --request %s shows what was done)",
			r.req.ID, r.req.ID)
		_ = r.st.Close()
		return
	}
	if err := r.st.Finish(ctx, r.req.ID, r.req.LeaseOwner, reset.State(final), time.Now()); err != nil {
		r.warn("audit log: %v", err)
	}
	r.append(ctx, store.KindFinished, "", string(final))
	_ = r.st.Close()
}

func (r *record) append(ctx context.Context, kind, reason, detail string) {
	target := r.req.Target.Login
	if target == "" {
		target = r.req.Target.String() // a batch: "40 people from users.txt"
	}
	r.event(ctx, kind, target, reason, detail)
}

func (r *record) event(ctx context.Context, kind, target, reason, detail string) {
	err := r.st.Append(ctx, store.Event{At: time.Now(), RequestID: r.req.ID, Kind: kind, Actor: r.actor,
		Target: target, Reason: reason, Detail: detail})
	if err != nil {
		r.warn("audit log: %v", err)
	}
}

func detailOf(o reset.Outcome) string {
	if o.Detail == "" {
		return ""
	}
	return " — " + o.Detail
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
