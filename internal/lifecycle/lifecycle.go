// Package lifecycle runs an approved request to its end, once, whoever started it: the bot
// after an Approve click or an Okta event, a replica taking over from one that died, or an
// operator at the command line. It holds the request's lease while the executor signs people
// out, stores every answer as it arrives, finishes the request in the store, and then lets an
// Announcer tell people. The Slack card and thread, and the lines in a terminal, are two
// announcers of the same run; nothing else about a run differs between them.
package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/resetbot/resetbot/internal/reset"
	"github.com/resetbot/resetbot/internal/store"
)

// Store is what a run needs of the store; *store.Store satisfies it. Approve, RenewLease,
// Finish and TakeOver are compare-and-swaps on the request's state and lease: of any number of
// replicas, exactly one runs a request at a time, and exactly one finishes it.
type Store interface {
	// Leases are given for a duration and measured on the database's clock.
	Approve(ctx context.Context, id string, approver reset.Actor, now time.Time, owner string, lease time.Duration) (reset.Request, error)
	RenewLease(ctx context.Context, id, owner string, lease time.Duration) error
	ReleaseLease(ctx context.Context, id, owner string) error
	TakeOver(ctx context.Context, owner string, lease time.Duration) ([]reset.Request, error)
	Outcomes(ctx context.Context, id string) ([]reset.Outcome, error)
	PersonOutcomes(ctx context.Context, id string) (map[string][]reset.Outcome, error)
	RecordOutcome(ctx context.Context, id string, o reset.Outcome) error
	RecordPersonOutcome(ctx context.Context, id, person string, o reset.Outcome) error
	Finish(ctx context.Context, id, owner string, final reset.State, now time.Time, announce time.Duration) error
	Announced(ctx context.Context, id, owner string, now time.Time) error
	ClaimUnannounced(ctx context.Context, owner string, lease time.Duration) ([]reset.Request, error)
	Reopen(ctx context.Context, id, owner string, now time.Time, lease time.Duration) (reset.Request, error)
	Append(ctx context.Context, e store.Event) error
}

// Executor signs people out; *reset.Executor satisfies it.
type Executor interface {
	Names() []string
	Batch(ctx context.Context, jobs []reset.Job, workers int, find reset.Finder, heard func(i int, o reset.Outcome), each func(i int, r reset.Result))
}

// Announcer tells people how a run goes. Its methods are called one at a time.
type Announcer interface {
	// Started is called before anyone is signed out; done holds the answers stored by an
	// earlier run of the same request (one taken over), by person key.
	Started(req reset.Request, done map[string][]reset.Outcome)
	// Heard is one system's answer for one person, as soon as it is stored.
	Heard(person reset.Target, o reset.Outcome)
	// Person is one person's end: every system's answer, earlier runs' included, or the
	// reason they could not be looked up (Result.Err). It is called for every person, cut
	// short or not: cut says the run ended before all their systems answered, so the failures
	// among r.Outcomes are the interruption's, not the systems'.
	Person(person reset.Target, r reset.Result, cut bool)
	// Finished is called once the request's end is stored, and only then.
	Finished(req reset.Request, end End)
}

// End is how a run ended.
type End struct {
	Final reset.Final
	// Tally counts every person's answers, earlier runs' included.
	Tally *reset.Tally
	// Outcomes are every answer of this run, for metrics.
	Outcomes []reset.Outcome
	// Stopped is a run cut short: ctx ended (shutdown, Ctrl-C) or another replica took the
	// request over. Nothing was finished; whoever runs the request next does the rest.
	Stopped bool
	// LeaseLost says the request was taken over by another replica while this one ran it.
	LeaseLost bool
}

// Config is what a Runner needs. Store may be nil: the run is then neither leased nor
// recorded (a command-line reset whose database cannot be opened still signs people out).
type Config struct {
	Store    Store
	Executor Executor
	// Find looks up people named but not yet found in Okta (a command-line batch).
	Find reset.Finder
	// Replica owns the leases of the runs it makes; it must differ between processes.
	Replica string
	// Lease is how long a run is promised to Replica between renewals (every third of it).
	Lease time.Duration
	// Workers bounds how many people of a batch are under way at once.
	Workers int
	Logger  *slog.Logger
	Now     func() time.Time
	// Finished hears every run that finished, for metrics; it may be nil.
	Finished func(final reset.Final, outcomes []reset.Outcome)
}

// Runner runs requests to their end. It is safe for concurrent use.
type Runner struct{ cfg Config }

// New fills cfg's defaults.
func New(cfg Config) *Runner {
	if cfg.Lease <= 0 {
		cfg.Lease = 30 * time.Second
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 16
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Runner{cfg: cfg}
}

// Replica is the owner name of this runner's leases.
func (r *Runner) Replica() string { return r.cfg.Replica }

// Approve moves a pending request to running under this runner's lease, and puts the
// approval on record. Of concurrent approvals on any replica exactly one wins; the others get
// store.ErrConflict with the request as it now stands.
func (r *Runner) Approve(ctx context.Context, req reset.Request, approver reset.Actor, detail string) (reset.Request, error) {
	now := r.cfg.Now()
	running, err := r.cfg.Store.Approve(ctx, req.ID, approver, now, r.cfg.Replica, r.cfg.Lease)
	if err != nil {
		return running, err
	}
	r.audit(ctx, store.Event{RequestID: req.ID, Kind: store.KindApproved, Actor: approver, Target: AuditTarget(req), Reason: req.Reason, Detail: detail})
	r.log(running).Info("request approved", "audit", "approved", "approver", approver.String())
	return running, nil
}

// Retry reopens a finished request whose systems failed for someone, under this runner's
// lease, with the failed answers cleared, and puts the retry on record; the caller runs it,
// and the run asks only what failed. Of concurrent retries one wins; the others get
// store.ErrConflict.
func (r *Runner) Retry(ctx context.Context, req reset.Request, by reset.Actor) (reset.Request, error) {
	running, err := r.cfg.Store.Reopen(ctx, req.ID, r.cfg.Replica, r.cfg.Now(), r.cfg.Lease)
	if err != nil {
		return running, err
	}
	r.audit(ctx, store.Event{RequestID: req.ID, Kind: store.KindRetried, Actor: by, Target: AuditTarget(req), Reason: req.Reason,
		Detail: "the failed systems, after " + string(req.State)})
	r.log(running).Info("request retried", "audit", "retried", "by", by.String(), "was", string(req.State))
	return running, nil
}

// TakeOver claims the running requests whose lease lapsed (their replica died or stopped) and
// puts each takeover on record; the caller runs them.
func (r *Runner) TakeOver(ctx context.Context) ([]reset.Request, error) {
	taken, err := r.cfg.Store.TakeOver(ctx, r.cfg.Replica, r.cfg.Lease)
	for _, req := range taken {
		r.audit(ctx, store.Event{RequestID: req.ID, Kind: store.KindTakenOver, Actor: reset.Actor{Name: r.cfg.Replica}, Target: AuditTarget(req),
			Detail: "lease of " + req.LeaseOwner + " lapsed"})
		r.log(req).Warn("took over an interrupted reset", "audit", "taken_over", "from", req.LeaseOwner)
	}
	return taken, err
}

// Run signs out everyone req names who has systems left to answer, under req's lease (req
// must be running and leased to this runner), stores every answer as it arrives, finishes the
// request and then announces its end. A run cut short (ctx ends, or the lease is lost) stores
// the sign-outs that happened, finishes nothing, and hands the request over: on
// interruption its lease is released so another replica takes it at once.
func (r *Runner) Run(ctx context.Context, req reset.Request, a Announcer) End {
	log := r.log(req)
	names := r.cfg.Executor.Names()
	done := r.stored(ctx, req)
	a.Started(req, done)

	people := req.People()
	var jobs []reset.Job
	var whom []reset.Target // whom[i] is jobs[i]'s person as the request names them
	tally := reset.NewTally(names)
	for _, t := range people {
		had := done[t.Key()]
		sel, left := remaining(names, req.Selection(), had)
		if !left {
			tally.Add(had)
			a.Person(t, reset.Result{Job: reset.Job{Target: t}, Outcomes: had}, false)
			continue
		}
		job := reset.Job{Target: t, Selection: sel}
		if t.OktaID == "" {
			job = reset.Job{Who: t.Key(), Selection: sel} // named, never looked up: found first
		}
		jobs, whom = append(jobs, job), append(whom, t)
	}

	runCtx, stop := r.leased(reset.WithRequestLogger(ctx, log), req)
	var mu sync.Mutex
	var heardNow []reset.Outcome
	record := func(t reset.Target, o reset.Outcome) {
		if answered(done[t.Key()], o.Provider) {
			return // final from the run that started it
		}
		rctx, cancel, ok := settled(runCtx, o.Status == reset.Failed)
		defer cancel()
		if !ok {
			return // the interruption's own failure: whoever runs the request next asks again
		}
		r.store(rctx, req, t, o)
		mu.Lock()
		defer mu.Unlock()
		heardNow = append(heardNow, o)
		a.Heard(t, o)
	}
	r.cfg.Executor.Batch(runCtx, jobs, r.cfg.Workers, r.cfg.Find, func(i int, o reset.Outcome) {
		record(whom[i], o)
	}, func(i int, res reset.Result) {
		t := whom[i]
		if res.Err != nil && runCtx.Err() == nil {
			// Nobody to sign out: every system counts it as failed, in Okta's words.
			res.Outcomes = nil
			for _, n := range names {
				o := reset.Outcome{Provider: n, Status: reset.Failed, Detail: "could not find them in Okta: " + res.Err.Error()}
				record(t, o)
				res.Outcomes = append(res.Outcomes, o)
			}
		}
		all := slices.Clone(done[t.Key()])
		cut := runCtx.Err() != nil && res.Err != nil
		for _, o := range res.Outcomes {
			if !answered(done[t.Key()], o.Provider) {
				all = append(all, o)
				cut = cut || (runCtx.Err() != nil && o.Status == reset.Failed)
			}
		}
		res.Outcomes = all
		if !cut {
			tally.Add(all)
		}
		mu.Lock()
		defer mu.Unlock()
		a.Person(t, res, cut)
	})
	held, lost := stop()
	end := End{Tally: tally, Outcomes: heardNow}
	if !held {
		end.Stopped, end.LeaseLost = true, lost
		if !lost {
			r.release(ctx, req)
		}
		return end
	}

	end.Final = tally.Final()
	if err := r.finish(ctx, req, end.Final); err != nil {
		// Not stored, so not told: whoever runs the request next finds every answer stored
		// and finishes it without asking any system again.
		log.Error("finish request", "error", err.Error())
		end.Stopped, end.LeaseLost = true, errors.Is(err, store.ErrLeaseLost)
		return end
	}
	req.State = reset.State(end.Final)
	r.audit(ctx, store.Event{RequestID: req.ID, Kind: store.KindFinished, Actor: req.Approver, Target: AuditTarget(req), Detail: finishedDetail(req, end)})
	log.Info("request finished", "audit", "finished", "result", string(end.Final), "people", tally.People, "troubled", tally.Troubled)
	if r.cfg.Finished != nil {
		r.cfg.Finished(end.Final, heardNow)
	}
	a.Finished(req, end)
	r.announced(ctx, req)
	return end
}

// AnnounceUnannounced claims the finished requests whose end nobody told (their replica died
// between storing the end and telling it) and tells each through the announcer announcer
// gives, from what the store holds: nothing is run again.
func (r *Runner) AnnounceUnannounced(ctx context.Context, announcer func(reset.Request) Announcer) error {
	claimed, err := r.cfg.Store.ClaimUnannounced(ctx, r.cfg.Replica, r.cfg.Lease)
	for _, req := range claimed {
		r.log(req).Warn("telling the end of a request whose replica stopped before it did", "audit", "announced_late", "state", string(req.State))
		a := announcer(req)
		done := r.stored(ctx, req)
		a.Started(req, done)
		tally := reset.NewTally(r.cfg.Executor.Names())
		for _, t := range req.People() {
			tally.Add(done[t.Key()])
			a.Person(t, reset.Result{Job: reset.Job{Target: t}, Outcomes: done[t.Key()]}, false)
		}
		a.Finished(req, End{Final: reset.Final(req.State), Tally: tally})
		r.announced(ctx, req)
	}
	return err
}

// finish stores req's end, if there is a store, trying again while the store does not answer;
// it gives up only when ctx ends or the lease is lost. The end is announced only once stored.
func (r *Runner) finish(ctx context.Context, req reset.Request, final reset.Final) error {
	if r.cfg.Store == nil {
		return nil
	}
	return r.persist(ctx, req, "finish request", func(ctx context.Context) error {
		return r.cfg.Store.Finish(ctx, req.ID, r.cfg.Replica, reset.State(final), r.cfg.Now(), r.cfg.Lease)
	})
}

// announced records that req's end was told, trying again while the store does not answer.
func (r *Runner) announced(ctx context.Context, req reset.Request) {
	if r.cfg.Store == nil {
		return
	}
	if err := r.persist(ctx, req, "record the announcement", func(ctx context.Context) error {
		return r.cfg.Store.Announced(ctx, req.ID, r.cfg.Replica, r.cfg.Now())
	}); err != nil {
		r.log(req).Error("record the announcement", "error", err.Error())
	}
}

// persist calls write until it succeeds, waiting a little longer each time (up to 5 s) while
// the store does not answer. It stops at once on an answer no retry changes (the lease is
// lost, the request is gone), and when ctx ends.
func (r *Runner) persist(ctx context.Context, req reset.Request, what string, write func(context.Context) error) error {
	wait := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := write(ctx)
		if err == nil || errors.Is(err, store.ErrLeaseLost) || errors.Is(err, store.ErrNotFound) || ctx.Err() != nil {
			return err
		}
		if attempt == 1 || attempt%10 == 0 {
			r.log(req).Warn(what+": the store did not take it; trying again", "attempt", attempt, "error", err.Error())
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (gave up: %w)", err, context.Cause(ctx))
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// stored is what earlier runs of req stored, by person key.
func (r *Runner) stored(ctx context.Context, req reset.Request) map[string][]reset.Outcome {
	if r.cfg.Store == nil {
		return map[string][]reset.Outcome{}
	}
	if req.Batch() {
		done, err := r.cfg.Store.PersonOutcomes(ctx, req.ID)
		if err != nil {
			r.log(req).Error("load stored outcomes", "error", err.Error())
			return map[string][]reset.Outcome{}
		}
		return done
	}
	had, err := r.cfg.Store.Outcomes(ctx, req.ID)
	if err != nil {
		r.log(req).Error("load stored outcomes", "error", err.Error())
	}
	return map[string][]reset.Outcome{req.Target.Key(): had}
}

// store keeps one answer, trying again while the store does not answer: an answer that is
// not stored would be asked again by whoever finishes the request.
func (r *Runner) store(ctx context.Context, req reset.Request, t reset.Target, o reset.Outcome) {
	if r.cfg.Store == nil {
		return
	}
	err := r.persist(ctx, req, "record outcome", func(ctx context.Context) error {
		if req.Batch() {
			return r.cfg.Store.RecordPersonOutcome(ctx, req.ID, t.Key(), o)
		}
		return r.cfg.Store.RecordOutcome(ctx, req.ID, o)
	})
	if err != nil {
		r.log(req).Error("record outcome", "person", t.Login, "provider", o.Provider, "error", err.Error())
	}
	target := t.Login
	if !req.Batch() {
		target = AuditTarget(req)
	}
	r.audit(ctx, store.Event{RequestID: req.ID, Kind: store.KindOutcome, Actor: req.Approver, Target: target,
		Detail: o.Provider + ": " + string(o.Status) + o.Names() + detailSuffix(o)})
}

// leased renews req's lease until stop is called and ends the returned context early if
// another replica took req over. stop reports whether this runner may still finish req (the
// lease was held throughout and ctx has not ended), and whether the lease was lost.
func (r *Runner) leased(ctx context.Context, req reset.Request) (context.Context, func() (held, lost bool)) {
	runCtx, cancel := context.WithCancel(ctx)
	if r.cfg.Store == nil {
		return runCtx, func() (bool, bool) { cancel(); return ctx.Err() == nil, false }
	}
	lostLease := make(chan struct{})
	kept := make(chan struct{})
	go func() {
		defer close(kept)
		err := store.KeepLease(runCtx, r.cfg.Lease/3, func(ctx context.Context) error {
			return r.cfg.Store.RenewLease(ctx, req.ID, r.cfg.Replica, r.cfg.Lease)
		}, func(err error) { r.log(req).Warn("renew lease", "error", err.Error()) })
		if errors.Is(err, store.ErrLeaseLost) {
			close(lostLease)
			cancel()
		}
	}()
	return runCtx, func() (bool, bool) {
		cancel()
		<-kept
		select {
		case <-lostLease:
			r.log(req).Warn("lease lost while running; another replica finishes this request", "audit", "lease_lost")
			return false, true
		default:
		}
		if ctx.Err() != nil {
			r.log(req).Warn("stopped before the reset finished; its lease is released for another replica", "audit", "interrupted")
			return false, false
		}
		return true, false
	}
}

// release gives up req's lease at once, so another replica finishes it without waiting for
// the lease to lapse.
func (r *Runner) release(ctx context.Context, req reset.Request) {
	if r.cfg.Store == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := r.cfg.Store.ReleaseLease(ctx, req.ID, r.cfg.Replica); err != nil {
		r.log(req).Error("release lease", "error", err.Error())
	}
}

func (r *Runner) audit(ctx context.Context, e store.Event) {
	if r.cfg.Store == nil {
		return
	}
	if e.At.IsZero() {
		e.At = r.cfg.Now()
	}
	if err := r.cfg.Store.Append(ctx, e); err != nil {
		r.cfg.Logger.Error("audit log append failed", "audit", e.Kind, "request", e.RequestID, "error", err.Error())
	}
}

// log is the logger of one request: every line names it.
func (r *Runner) log(req reset.Request) *slog.Logger { return r.cfg.Logger.With("request", req.ID) }

// settled gives the context to store an answer with, and false when it should not be
// stored. Once the run is cut short, a failure is the interruption's own, left for whoever
// runs the request next; a sign-out that did happen is still stored, on a context the
// interruption has not ended.
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

// remaining is the selection still to run for a person who already has answers had, and
// whether anything is left to run.
func remaining(names []string, sel reset.Selection, had []reset.Outcome) (reset.Selection, bool) {
	if len(had) == 0 {
		return sel, true
	}
	left := reset.Selection{}
	for _, n := range names {
		if sel != nil && !sel[n] {
			continue
		}
		if !answered(had, n) {
			left[n] = true
		}
	}
	return left, len(left) > 0
}

// answered reports whether system has an answer among had.
func answered(had []reset.Outcome, system string) bool {
	return slices.ContainsFunc(had, func(o reset.Outcome) bool { return o.Provider == system })
}

// AuditTarget names a request's target in the audit log: the person's login, or the batch.
func AuditTarget(req reset.Request) string {
	if req.Batch() || req.Target.Login == "" {
		return req.Target.String()
	}
	return req.Target.Login
}

// finishedDetail is the finished event's detail: the end, and for a batch every system's counts.
func finishedDetail(req reset.Request, end End) string {
	if !req.Batch() {
		return string(end.Final)
	}
	return fmt.Sprintf("%s: %s", end.Final, end.Tally.Line())
}

func detailSuffix(o reset.Outcome) string {
	if o.Detail == "" {
		return ""
	}
	return " — " + o.Detail
}
