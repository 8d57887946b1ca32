package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/user"
	"time"

	"github.com/resetbot/resetbot/internal/config"
	"github.com/resetbot/resetbot/internal/reset"
	"github.com/resetbot/resetbot/internal/store"
)

// cliLease is how long a command-line reset holds its request: long enough that no bot
// replica takes over a reset that is still running in a terminal.
const cliLease = time.Hour

// record writes a command-line reset to the store and audit log the bot uses, so
// `resetbot audit` tells its story like any other. Recording never stops a reset: when the
// store cannot be opened the reset goes on and the operator is told. A nil *record is valid.
type record struct {
	st    *store.Store
	req   reset.Request
	actor reset.Actor
	warn  func(format string, args ...any)
}

// openRecord stores req (its Target or Targets and Reason set by the caller) as a request the
// operator made and approved.
func (a *app) openRecord(ctx context.Context, cfg config.Config, req reset.Request, sel reset.Selection) *record {
	warn := func(format string, args ...any) {
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
	r := &record{st: st, req: req, actor: actor, warn: warn}
	if err := st.Create(ctx, req); err != nil {
		warn("not recorded in the audit log: %v", err)
		_ = st.Close()
		return nil
	}
	r.append(ctx, store.KindRequested, reason, "from the command line")
	approved, err := st.Approve(ctx, req.ID, actor, now, owner, now.Add(cliLease))
	if err != nil {
		warn("audit log: %v", err)
	} else {
		r.req = approved
	}
	r.append(ctx, store.KindApproved, reason, "the operator ran it directly")
	return r
}

func (r *record) outcome(ctx context.Context, o reset.Outcome) {
	if r == nil {
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
		r.event(ctx, store.KindOutcome, who, "", "not resolved in okta — "+res.Err.Error())
		return
	}
	for _, o := range res.Outcomes {
		if err := r.st.RecordPersonOutcome(ctx, r.req.ID, named.Key(), o); err != nil {
			r.warn("audit log: %v", err)
		}
		r.event(ctx, store.KindOutcome, who, "", o.Provider+": "+string(o.Status)+detailOf(o))
	}
}

func (r *record) finish(ctx context.Context, final reset.Final) {
	if r == nil {
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
