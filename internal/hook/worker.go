package hook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/resetbot/resetbot/bot"
	"github.com/resetbot/resetbot/internal/directory"
	"github.com/resetbot/resetbot/internal/reset"
	"github.com/resetbot/resetbot/internal/store"
)

// WorkStore is what a Worker needs of the store; *store.Store satisfies it. TakeEvents hands
// each event to one worker at a time, under a lease on the database's clock, so every replica
// may run a Worker and an event held by a replica that died goes to another.
type WorkStore interface {
	TakeEvents(ctx context.Context, owner string, lease time.Duration, limit int) ([]store.InboxEvent, error)
	EventEnded(ctx context.Context, uuid, owner, state, reason, requestID string) error
	EventRetry(ctx context.Context, uuid, owner string, wait time.Duration, reason string) error
	InboxDepth(ctx context.Context) (int, time.Time, error)
	Append(ctx context.Context, e store.Event) error
}

// WorkerConfig is what a Worker needs.
type WorkerConfig struct {
	Store     WorkStore
	Submitter Submitter
	// Observer may be nil.
	Observer Observer
	Logger   *slog.Logger
	// Replica names this process as the holder of the events it works on.
	Replica string
	// Poll is how often the inbox is looked at; default 1s.
	Poll time.Duration
	// EventTimeout bounds the work on one event (finding the person, posting the card); the
	// reset itself runs under the bot. Default 30s.
	EventTimeout time.Duration
	// RetryFor is how long after its arrival an event that keeps failing is tried again
	// before it is recorded as failed; default an hour.
	RetryFor time.Duration
	// Backoff is the first wait before trying a failed event again; each later one doubles,
	// up to five minutes. Default 2s.
	Backoff time.Duration
	Now     func() time.Time
}

// Worker works on the events in the inbox until its context ends.
type Worker struct {
	cfg WorkerConfig
	log *slog.Logger
}

// NewWorker fills cfg's defaults.
func NewWorker(cfg WorkerConfig) *Worker {
	if cfg.Poll <= 0 {
		cfg.Poll = time.Second
	}
	if cfg.EventTimeout <= 0 {
		cfg.EventTimeout = 30 * time.Second
	}
	if cfg.RetryFor <= 0 {
		cfg.RetryFor = time.Hour
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = 2 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Worker{cfg: cfg, log: cfg.Logger}
}

// maxBackoff caps the wait between two attempts at one event.
const maxBackoff = 5 * time.Minute

// Run takes due events from the inbox and works on them, one at a time, until ctx ends.
func (w *Worker) Run(ctx context.Context) {
	t := time.NewTicker(w.cfg.Poll)
	defer t.Stop()
	for {
		w.drain(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// drain works on every due event there is, and reports the inbox's depth.
func (w *Worker) drain(ctx context.Context) {
	for ctx.Err() == nil {
		// The lease outlives the work's own deadline, so an event is never worked on twice at
		// once; a worker that dies leaves it to another after the lease.
		events, err := w.cfg.Store.TakeEvents(ctx, w.cfg.Replica, 2*w.cfg.EventTimeout, 8)
		if err != nil {
			w.log.Warn("take okta events from the inbox", "error", err.Error())
			break
		}
		for _, e := range events {
			w.work(ctx, e)
		}
		if len(events) == 0 {
			break
		}
	}
	if n, oldest, err := w.cfg.Store.InboxDepth(ctx); err == nil && w.cfg.Observer != nil {
		age := time.Duration(0)
		if !oldest.IsZero() {
			age = max(w.cfg.Now().Sub(oldest), 0)
		}
		w.cfg.Observer.InboxDepth(n, age)
	}
}

// work submits one event and records how it went: done once its card or reset exists,
// ignored when the policy refuses it, tried again later when something it needs failed, and
// failed for good after RetryFor or when retrying cannot help.
func (w *Worker) work(ctx context.Context, e store.InboxEvent) {
	defer func() {
		if p := recover(); p != nil {
			// The panic's value only: the event's text stays out of the logs. Its lease lapses,
			// and it is tried again.
			w.log.Error("okta event worker panicked", "uuid", e.UUID, "panic", fmt.Sprint(p))
		}
	}()
	var j job
	if err := json.Unmarshal(e.Payload, &j); err != nil {
		w.end(ctx, e, j, store.EventFailed, "the stored event cannot be read: "+err.Error(), "")
		return
	}
	sctx, cancel := context.WithTimeout(ctx, w.cfg.EventTimeout)
	req, err := w.cfg.Submitter.Submit(sctx, j.Submission)
	cancel()
	switch {
	case err == nil:
		result := Approve
		if req.State == reset.Running {
			result = Auto
		}
		w.end(ctx, e, j, store.EventDone, string(result), req.ID)
		w.observe(e, string(result))
	case errors.Is(err, bot.ErrDuplicate):
		// Its card or reset exists: an earlier attempt made it before its worker stopped.
		w.end(ctx, e, j, store.EventDone, "its request already exists", "")
		w.observe(e, "duplicate")
	case errors.Is(err, bot.ErrRefused):
		w.end(ctx, e, j, store.EventIgnored, err.Error(), "")
		w.observe(e, "refused")
	case errors.Is(err, directory.ErrNotFound) && !errors.Is(err, context.DeadlineExceeded):
		w.end(ctx, e, j, store.EventFailed, err.Error(), "")
		w.observe(e, "failed")
	case ctx.Err() != nil:
		// Shutting down: the event stays queued, and its lease lets another replica have it.
	default:
		wait := min(w.cfg.Backoff<<min(e.Attempts, 20), maxBackoff)
		if w.cfg.Now().Add(wait).Sub(e.ReceivedAt) > w.cfg.RetryFor {
			w.end(ctx, e, j, store.EventFailed, fmt.Sprintf("still failing after %s: %v", w.cfg.RetryFor, err), "")
			w.observe(e, "failed")
			return
		}
		w.log.Warn("okta event failed; trying again later", "audit", "hook_retry", "event_type", e.EventType, "uuid", e.UUID,
			"attempt", e.Attempts+1, "wait", wait, "error", err.Error())
		if rerr := w.cfg.Store.EventRetry(ctx, e.UUID, w.cfg.Replica, wait, err.Error()); rerr != nil {
			w.log.Error("put an okta event back in the inbox", "uuid", e.UUID, "error", rerr.Error())
		}
		w.observe(e, "retried")
	}
}

// end records an event's end in the inbox and in the audit log.
func (w *Worker) end(ctx context.Context, e store.InboxEvent, j job, state, reason, requestID string) {
	level := slog.LevelInfo
	if state == store.EventFailed {
		level = slog.LevelError
	}
	w.log.Log(ctx, level, "okta event ended", "audit", "hook_"+state, "event_type", e.EventType, "uuid", e.UUID,
		"request", requestID, "attempts", e.Attempts+1, "reason", reason)
	if err := w.cfg.Store.EventEnded(ctx, e.UUID, w.cfg.Replica, state, reason, requestID); err != nil {
		w.log.Error("record the end of an okta event", "uuid", e.UUID, "error", err.Error())
	}
	detail := fmt.Sprintf("%s: %s %s", state, e.EventType, e.UUID)
	if reason != "" {
		detail += ": " + reason
	}
	if err := w.cfg.Store.Append(ctx, store.Event{At: w.cfg.Now(), RequestID: requestID, Kind: store.KindEvent,
		Actor: j.Submission.Requester, Target: j.Submission.Who, Reason: j.Submission.Reason, Detail: detail}); err != nil {
		w.log.Error("audit log append failed", "audit", store.KindEvent, "uuid", e.UUID, "error", err.Error())
	}
}

func (w *Worker) observe(e store.InboxEvent, result string) {
	if w.cfg.Observer != nil {
		w.cfg.Observer.HookEvent(e.EventType, result)
	}
}
