package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/resetbot/resetbot/internal/reset"
)

// The kinds of audit events resetbot writes.
const (
	KindRequested = "requested"
	KindRefused   = "refused"
	KindApproved  = "approved"
	KindCancelled = "cancelled"
	KindExpired   = "expired"
	KindOutcome   = "outcome"
	KindFinished  = "finished"
	KindTakenOver = "taken_over"
	// KindRetried is a finished request whose failed systems are run again.
	KindRetried = "retried"
	// KindEvent is how an Okta event ended: done (with its request), ignored or failed.
	KindEvent = "event"
)

// Event is one line of the audit log: who did what to whom, when and why.
type Event struct {
	// ID is assigned by the store; it orders events appended at the same instant.
	ID int64
	At time.Time
	// RequestID is empty for an event that never became a request, such as a refused ask.
	RequestID string
	Kind      string
	Actor     reset.Actor
	// Target names the person being signed out as the actor gave it (email, login or id).
	Target string
	Reason string
	// Detail is free text: the refusal code, a provider's outcome line, the final state.
	Detail string
}

// Append adds an event to the audit log. The log is append-only: the store has no method to
// change or remove an event, and the database itself refuses UPDATE and DELETE on it. A zero
// At is taken as the current time.
func (s *Store) Append(ctx context.Context, e Event) error {
	if e.Kind == "" {
		return errors.New("append audit event: no kind given")
	}
	if e.At.IsZero() {
		e.At = time.Now()
	}
	actor, err := json.Marshal(e.Actor)
	if err != nil {
		return fmt.Errorf("append %s audit event: %w", e.Kind, err)
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO audit (at, request_id, kind, actor, target, reason, detail)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		s.at(e.At), e.RequestID, e.Kind, string(actor), e.Target, e.Reason, e.Detail)
	if err != nil {
		return fmt.Errorf("append %s audit event for request %q: %w", e.Kind, e.RequestID, err)
	}
	return nil
}

// Filter selects audit events; zero fields select everything.
type Filter struct {
	// Since keeps events at or after this time.
	Since time.Time
	// Target keeps events naming this person, case-insensitively: events whose Target is it,
	// and every event of a request whose target has it as email, Okta login or Okta id.
	Target    string
	RequestID string
	// Limit keeps only the newest Limit events (still returned oldest first); 0 keeps all.
	Limit int
}

// Audit returns the events f selects, oldest first.
func (s *Store) Audit(ctx context.Context, f Filter) ([]Event, error) {
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	if !f.Since.IsZero() {
		where = append(where, "at >= "+arg(s.at(f.Since)))
	}
	if f.RequestID != "" {
		where = append(where, "request_id = "+arg(f.RequestID))
	}
	if f.Target != "" {
		t := arg(strings.ToLower(f.Target))
		where = append(where, fmt.Sprintf(`(lower(target) = %[1]s OR request_id IN (SELECT id FROM requests
			WHERE lower(target_email) = %[1]s OR lower(target_login) = %[1]s OR lower(target_okta_id) = %[1]s))`, t))
	}
	query := `SELECT id, at, request_id, kind, actor, target, reason, detail FROM audit`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	if f.Limit > 0 {
		query = `SELECT * FROM (` + query + ` ORDER BY at DESC, id DESC LIMIT ` + arg(f.Limit) + `) AS newest`
	}
	query += ` ORDER BY at, id`

	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("read audit log: %w", err)
	}
	defer rows.Close()
	var got []Event
	for rows.Next() {
		var e Event
		var actor string
		if err := rows.Scan(&e.ID, stamp{&e.At}, &e.RequestID, &e.Kind, &actor, &e.Target, &e.Reason, &e.Detail); err != nil {
			return nil, fmt.Errorf("read audit log: %w", err)
		}
		if err := json.Unmarshal([]byte(actor), &e.Actor); err != nil {
			return nil, fmt.Errorf("read audit log: decode actor of event %d: %w", e.ID, err)
		}
		got = append(got, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read audit log: %w", err)
	}
	return got, nil
}
