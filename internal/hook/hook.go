// Package hook serves /hooks/okta, the event hook Okta calls when something happens to an
// account: a user suspended, a user reporting activity they did not do, an admin resetting a
// password. Each such event becomes a reset request — run at once, or waiting on a card for a
// responder — according to a per-event policy.
//
// Okta's contract shapes the handler: a one-time GET answers the verification challenge; every
// delivery is a POST authenticated only by a shared secret in a header of the operator's
// choosing; Okta waits 3 seconds and retries once. So a delivery is written to a durable inbox
// (the store) before it is answered 200, and a Worker, on whichever replica is alive, works on
// it after, trying again for as long as RetryFor allows: neither a failed first attempt nor a
// crash loses an event, and a redelivered event starts nothing twice (its uuid is the inbox's
// key). Anything else — a wrong secret, a malformed or huge body, a flood — gets a clear 4xx
// and touches nothing.
package hook

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/resetbot/resetbot/bot"
	"github.com/resetbot/resetbot/internal/reset"
	"github.com/resetbot/resetbot/internal/store"
)

// The Okta event types the hook acts on.
const (
	Suspend            = "user.lifecycle.suspend"
	SuspiciousActivity = "user.account.report_suspicious_activity_by_enduser"
	PasswordReset      = "user.account.reset_password"
)

// Policy is what an event does.
type Policy string

// The three policies.
const (
	// Auto resets at once; the card and the summary go to the alert channel.
	Auto Policy = "auto"
	// Approve posts a card in the alert channel that waits for a responder's Approve.
	Approve Policy = "approve"
	// Off ignores the event.
	Off Policy = "off"
)

// Submitter turns an event into a request; *bot.Bot satisfies it. Submit returns once the
// card is posted; a second submission with the same Source fails with bot.ErrDuplicate.
type Submitter interface {
	Submit(ctx context.Context, s bot.Submission) (reset.Request, error)
}

// Inbox keeps accepted events until a Worker has worked on them; *store.Store satisfies it.
// Enqueue writes every event of a delivery in one transaction and names those that were new
// (or that had failed for good and are queued again); an error means nothing was written.
type Inbox interface {
	Enqueue(ctx context.Context, events []store.InboxEvent) (queued []string, err error)
}

// Observer counts what the hook sees; *metrics.Metrics satisfies it. Its methods must be quick.
type Observer interface {
	// HookRequest counts an HTTP request by result: verified, accepted, unauthorized,
	// malformed, too_large, unsupported_media_type, method_not_allowed, busy, closed.
	HookRequest(result string)
	// HookEvent counts one event by type (one of the three above, or "other") and result:
	// queued, then auto or approve (also an auto event that Okta did not bear out), retried,
	// refused (a protected person) or failed; or, at the door, off, duplicate, ignored,
	// self_service, no_target, okta_failure, malformed (no uuid).
	HookEvent(eventType, result string)
	// InboxDepth reports how many events wait and how long the oldest has waited.
	InboxDepth(n int, oldest time.Duration)
}

// Config is what the handler needs; internal/app fills it from the configuration.
type Config struct {
	// Secret is compared, in constant time, with the value of Header on every delivery.
	Secret string
	// Header is the field Okta sends the secret in; default Authorization.
	Header string
	// Channel receives the cards.
	Channel string
	// Policies by Okta event type; an event type not in the map is ignored.
	Policies map[string]Policy
	Inbox    Inbox
	// Observer may be nil.
	Observer Observer
	Logger   *slog.Logger
	// MaxBody bounds a delivery's body; default 256 KiB, far above Okta's batches.
	MaxBody int64
	// Workers bounds how many deliveries are written at once; beyond it Okta is told to come
	// back later (429). Default 8.
	Workers int
	// WriteTimeout bounds writing a delivery to the inbox: Okta gives up on an answer after
	// 3 s, and a delivery it was not answered 200 for is delivered again. Default 2s.
	WriteTimeout time.Duration
}

// Handler is the /hooks/okta endpoint.
type Handler struct {
	cfg     Config
	log     *slog.Logger
	secret  [sha256.Size]byte
	slots   chan struct{}
	mu      sync.Mutex
	closed  bool
	sampled sampler
}

// sampler lets one log line a second through and counts the rest, so whoever floods an
// endpoint cannot flood the logs too.
type sampler struct {
	mu      sync.Mutex
	last    time.Time
	skipped int
}

// take reports whether a line may be written at now, and how many were held back before it.
func (s *sampler) take(now time.Time) (held int, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.last.IsZero() && now.Sub(s.last) < time.Second {
		s.skipped++
		return 0, false
	}
	held, s.skipped, s.last = s.skipped, 0, now
	return held, true
}

// New checks cfg and fills defaults.
func New(cfg Config) (*Handler, error) {
	if cfg.Secret == "" {
		return nil, errors.New("okta hook: no secret given: every delivery must be authenticated")
	}
	if cfg.Inbox == nil || cfg.Channel == "" {
		return nil, errors.New("okta hook: an Inbox and a Channel are required")
	}
	if cfg.Header == "" {
		cfg.Header = "Authorization"
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = 256 << 10
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 8
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = 2 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Handler{
		cfg: cfg, log: cfg.Logger, secret: sha256.Sum256([]byte(cfg.Secret)),
		slots: make(chan struct{}, cfg.Workers),
	}, nil
}

// ServeHTTP answers Okta's verification GET and accepts event deliveries by POST.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		h.verify(w, r)
	case http.MethodPost:
		h.deliver(w, r)
	default:
		w.Header().Set("Allow", "GET, POST")
		h.refuse(w, r, http.StatusMethodNotAllowed, "method_not_allowed", "use POST for deliveries, GET for the verification")
	}
}

// Close stops taking deliveries: Okta is answered 503 and delivers again later, to a replica
// still running. What was accepted is in the inbox already, for any replica's Worker.
func (h *Handler) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
}

// verify answers the one-time verification: Okta sends a challenge in a header, with the
// configured secret as on every delivery, and expects the challenge back as
// {"verification": "…"}. Without the secret it is refused: an echo service open to anyone
// would let a stranger register this endpoint as a hook of their own org.
func (h *Handler) verify(w http.ResponseWriter, r *http.Request) {
	if !h.authentic(r) {
		h.unauthorized(w, r)
		return
	}
	challenge := r.Header.Get("X-Okta-Verification-Challenge")
	if challenge == "" || len(challenge) > 1024 {
		h.refuse(w, r, http.StatusBadRequest, "malformed", "a GET here is Okta's verification: the X-Okta-Verification-Challenge header is missing or too long")
		return
	}
	h.observeRequest("verified")
	h.log.Info("okta event hook verified", "audit", "hook_verified", "remote", r.RemoteAddr)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{"verification": challenge})
}

// deliver authenticates, reads and parses a delivery, answers at once and works after.
func (h *Handler) deliver(w http.ResponseWriter, r *http.Request) {
	if !h.authentic(r) {
		h.unauthorized(w, r)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			h.refuse(w, r, http.StatusUnsupportedMediaType, "unsupported_media_type", "deliveries are application/json")
			return
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.MaxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			h.refuse(w, r, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("the body is larger than %d bytes", h.cfg.MaxBody))
			return
		}
		h.refuse(w, r, http.StatusBadRequest, "malformed", "the body could not be read")
		return
	}
	d, err := parse(body)
	if err != nil {
		h.refuse(w, r, http.StatusBadRequest, "malformed", err.Error())
		return
	}
	h.mu.Lock()
	closed := h.closed
	h.mu.Unlock()
	if closed {
		w.Header().Set("Retry-After", "10")
		h.refuse(w, r, http.StatusServiceUnavailable, "closed", "resetbot is shutting down")
		return
	}
	select {
	case h.slots <- struct{}{}:
		defer func() { <-h.slots }()
	default:
		w.Header().Set("Retry-After", "5")
		h.refuse(w, r, http.StatusTooManyRequests, "busy", "too many deliveries are being worked on; try again shortly")
		return
	}
	var queue []store.InboxEvent
	decided := map[string]event{}
	for _, ev := range d.Data.Events {
		sub, ok := h.decide(ev)
		if !ok {
			continue
		}
		payload, err := json.Marshal(job{Submission: sub, Delivery: d.EventID})
		if err != nil {
			h.outcome(ev, ev.EventType, "malformed", "the event cannot be kept: "+err.Error())
			continue
		}
		queue = append(queue, store.InboxEvent{UUID: ev.UUID, EventType: ev.EventType, Payload: payload})
		decided[ev.UUID] = ev
	}
	if len(queue) > 0 {
		ctx, cancel := context.WithTimeout(r.Context(), h.cfg.WriteTimeout)
		queued, err := h.cfg.Inbox.Enqueue(ctx, queue)
		cancel()
		if err != nil {
			// Not written, so not accepted: Okta delivers it again.
			h.log.Error("okta events not queued; asking Okta to deliver them again", "audit", "hook_unstored",
				"delivery", d.EventID, "events", len(queue), "error", err.Error())
			w.Header().Set("Retry-After", "10")
			h.refuse(w, r, http.StatusServiceUnavailable, "store_unavailable", "the events could not be stored; deliver them again")
			return
		}
		for _, e := range queue {
			ev := decided[e.UUID]
			if !slices.Contains(queued, e.UUID) {
				h.outcome(ev, ev.EventType, "duplicate", "already received: Okta delivered this event again")
				continue
			}
			h.log.Info("okta event queued", "audit", "hook_queued", "event_type", ev.EventType, "uuid", ev.UUID,
				"actor", ev.Actor.name(), "delivery", d.EventID)
			h.observeEvent(ev.EventType, "queued")
		}
	}
	h.observeRequest("accepted")
	w.WriteHeader(http.StatusOK)
}

// authentic compares the secret in constant time; hashing first keeps the comparison's time
// independent of the lengths as well.
func (h *Handler) authentic(r *http.Request) bool {
	got := r.Header.Values(h.cfg.Header)
	if len(got) != 1 {
		return false
	}
	sum := sha256.Sum256([]byte(got[0]))
	return subtle.ConstantTimeCompare(sum[:], h.secret[:]) == 1
}

// refuse answers a request the hook will not act on, logs why (never the secret) and counts it.
func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, status int, result, why string) {
	h.observeRequest(result)
	h.log.Warn("okta hook request refused", "audit", "hook_refused", "status", status, "result", result,
		"reason", why, "remote", r.RemoteAddr)
	http.Error(w, why, status)
}

// unauthorized refuses a request without the secret. Anyone on the internet can send these,
// so they are not decisions for the audit log, and their log lines are sampled: a flood costs
// one line a second, with the count of those not written.
func (h *Handler) unauthorized(w http.ResponseWriter, r *http.Request) {
	h.observeRequest("unauthorized")
	if n, ok := h.sampled.take(time.Now()); ok {
		h.log.Warn("okta hook request without the secret refused", "status", http.StatusUnauthorized,
			"header", h.cfg.Header, "remote", r.RemoteAddr, "refused_since_last_line", n)
	}
	http.Error(w, "missing or wrong secret in "+h.cfg.Header, http.StatusUnauthorized)
}

// job is what the inbox keeps of one event: the submission the hook decided on.
type job struct {
	Submission bot.Submission `json:"submission"`
	Delivery   string         `json:"delivery,omitempty"`
}

// decide settles at the door what an event does: nothing (logged and counted here), or a
// submission for the Worker.
func (h *Handler) decide(ev event) (bot.Submission, bool) {
	kind := ev.EventType
	policy, known := h.cfg.Policies[kind]
	switch {
	case !known:
		h.outcome(ev, "other", "ignored", "not an event resetbot acts on")
		return bot.Submission{}, false
	case policy == Off:
		h.outcome(ev, kind, "off", "its policy is off")
		return bot.Submission{}, false
	case ev.UUID == "":
		h.outcome(ev, kind, "malformed", "the event has no uuid, so a redelivery could not be told apart")
		return bot.Submission{}, false
	case ev.Outcome.Result == "FAILURE":
		h.outcome(ev, kind, "okta_failure", "Okta reports the action itself failed")
		return bot.Submission{}, false
	}
	target, ok := ev.user()
	if !ok {
		h.outcome(ev, kind, "no_target", "the event names no user")
		return bot.Submission{}, false
	}
	if kind == PasswordReset && ev.Actor.same(target) {
		h.outcome(ev, kind, "self_service", "the user reset their own password")
		return bot.Submission{}, false
	}
	who := target.ID
	if who == "" {
		who = target.AlternateID
	}
	reason := ev.DisplayMessage
	if reason == "" {
		reason = kind
	}
	confirms, happened := confirmation(kind)
	return bot.Submission{
		Who:      who,
		Reason:   reason,
		Confirms: confirms,
		Event:    happened,
		Source:   "okta-event:" + ev.UUID,
		// Only a Name: an Okta login here would make the event's actor — for a report of
		// suspicious activity, the possibly compromised user — count as the requester, who
		// may cancel the card, and would hide the event from the card and the audit log.
		Requester: reset.Actor{Name: fmt.Sprintf("okta event %s by %s", kind, ev.Actor.name())},
		Channel:   h.cfg.Channel,
		Auto:      policy == Auto,
	}, true
}

// confirmation is what Okta's record of a person shows once an event of kind really happened
// (the statuses), and how a card says what the event claimed. A report of suspicious activity
// changes nothing in the record, so nothing confirms it and it always waits for a responder.
func confirmation(kind string) (statuses []string, happened string) {
	switch kind {
	case Suspend:
		return []string{"SUSPENDED"}, "suspended"
	case PasswordReset:
		// An admin's reset leaves the user in recovery, or with a temporary password that
		// must be changed.
		return []string{"RECOVERY", "PASSWORD_EXPIRED"}, "made to reset their password"
	default:
		return nil, "reported as compromised"
	}
}

// outcome puts a decision on record, then counts it: whoever sees the count can read why.
func (h *Handler) outcome(ev event, label, result, why string) {
	h.log.Info("okta event not acted on", "audit", "hook_"+result, "event_type", ev.EventType, "uuid", ev.UUID,
		"actor", ev.Actor.name(), "reason", why)
	h.observeEvent(label, result)
}

func (h *Handler) observeRequest(result string) {
	if h.cfg.Observer != nil {
		h.cfg.Observer.HookRequest(result)
	}
}

func (h *Handler) observeEvent(eventType, result string) {
	if h.cfg.Observer != nil {
		h.cfg.Observer.HookEvent(eventType, result)
	}
}
