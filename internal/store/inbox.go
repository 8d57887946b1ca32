package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// InboxEvent is an Okta event accepted for work: written before Okta hears 200, so neither a
// crash nor a failed first attempt loses it.
type InboxEvent struct {
	// UUID is the event's own id; a redelivery carries the same one.
	UUID      string
	EventType string
	// Payload is what to do, as the hook decided it; the store keeps it as it is.
	Payload []byte
	// State is pending until the event is done, ignored or failed for good.
	State      string
	Attempts   int
	ReceivedAt time.Time
	// Reason is the last failure, or why the event ended as it did.
	Reason    string
	RequestID string
}

// The states of an inbox event.
const (
	EventPending = "pending"
	EventDone    = "done"
	EventIgnored = "ignored"
	EventFailed  = "failed"
)

// Enqueue writes events to the inbox in one transaction, and reports which were new. An event
// already there (a redelivery) is left as it is unless it failed for good: then it is queued
// again, since a uuid counts as consumed only once its card or reset exists. When Enqueue
// returns an error nothing was written, and Okta should be told to deliver again.
func (s *Store) Enqueue(ctx context.Context, events []InboxEvent) (queued []string, err error) {
	now, err := s.Clock(ctx)
	if err != nil {
		return nil, fmt.Errorf("queue okta events: %w", err)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("queue okta events: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	for _, e := range events {
		res, err := tx.ExecContext(ctx, `INSERT INTO inbox (uuid, event_type, payload, state, received_at, next_at)
			VALUES ($1, $2, $3, 'pending', $4, $4)
			ON CONFLICT (uuid) DO UPDATE SET state = 'pending', attempts = 0, payload = excluded.payload,
				received_at = excluded.received_at, next_at = excluded.next_at, reason = '', lease_owner = '', lease_until = NULL
			WHERE inbox.state = 'failed'`,
			e.UUID, e.EventType, string(e.Payload), s.at(now))
		if err != nil {
			return nil, fmt.Errorf("queue okta event %s: %w", e.UUID, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return nil, fmt.Errorf("queue okta event %s: %w", e.UUID, err)
		} else if n > 0 {
			queued = append(queued, e.UUID)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("queue okta events: %w", err)
	}
	return queued, nil
}

// TakeEvents gives owner, for lease on the database's clock, up to limit pending events that
// are due and that nobody else holds. Of replicas racing, each event goes to exactly one.
func (s *Store) TakeEvents(ctx context.Context, owner string, lease time.Duration, limit int) ([]InboxEvent, error) {
	now, err := s.Clock(ctx)
	if err != nil {
		return nil, fmt.Errorf("take okta events: %w", err)
	}
	rows, err := s.db.QueryContext(ctx, `UPDATE inbox SET lease_owner = $1, lease_until = $3
		WHERE uuid IN (SELECT uuid FROM inbox WHERE state = 'pending' AND next_at <= $2
			AND (lease_until IS NULL OR lease_until <= $2) ORDER BY next_at LIMIT $4)
		AND state = 'pending' AND (lease_until IS NULL OR lease_until <= $2)
		RETURNING `+inboxColumns, owner, s.at(now), s.at(now.Add(lease)), limit)
	if err != nil {
		return nil, fmt.Errorf("take okta events: %w", err)
	}
	defer rows.Close()
	var got []InboxEvent
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return nil, fmt.Errorf("take okta events: %w", err)
		}
		got = append(got, e)
	}
	return got, rows.Err()
}

// EventEnded records how an event owner holds ended: done (with the request it made),
// ignored, or failed for good, with the reason. ErrLeaseLost means owner no longer holds it.
func (s *Store) EventEnded(ctx context.Context, uuid, owner, state, reason, requestID string) error {
	switch state {
	case EventDone, EventIgnored, EventFailed:
	default:
		return fmt.Errorf("end okta event %s: %q is not an end (want done, ignored or failed)", uuid, state)
	}
	res, err := s.db.ExecContext(ctx, `UPDATE inbox SET state = $3, reason = $4, request_id = $5, attempts = attempts + 1,
			lease_owner = '', lease_until = NULL
		WHERE uuid = $1 AND state = 'pending' AND lease_owner = $2`, uuid, owner, state, reason, requestID)
	return eventChanged(res, err, "end okta event "+uuid)
}

// EventRetry puts an event owner holds back in the queue, to be tried again after wait on the
// database's clock, with the reason it failed this time.
func (s *Store) EventRetry(ctx context.Context, uuid, owner string, wait time.Duration, reason string) error {
	now, err := s.Clock(ctx)
	if err != nil {
		return fmt.Errorf("retry okta event %s: %w", uuid, err)
	}
	res, err := s.db.ExecContext(ctx, `UPDATE inbox SET attempts = attempts + 1, next_at = $3, reason = $4,
			lease_owner = '', lease_until = NULL
		WHERE uuid = $1 AND state = 'pending' AND lease_owner = $2`, uuid, owner, s.at(now.Add(wait)), reason)
	return eventChanged(res, err, "retry okta event "+uuid)
}

// Event returns the inbox event with uuid, or ErrNotFound.
func (s *Store) Event(ctx context.Context, uuid string) (InboxEvent, error) {
	e, err := scanEvent(s.db.QueryRowContext(ctx, `SELECT `+inboxColumns+` FROM inbox WHERE uuid = $1`, uuid))
	if errors.Is(err, sql.ErrNoRows) {
		return InboxEvent{}, fmt.Errorf("okta event %s: %w", uuid, ErrNotFound)
	}
	return e, err
}

// InboxDepth is how many events wait to be worked on, and when the oldest of them arrived
// (zero when none waits), for /metrics.
func (s *Store) InboxDepth(ctx context.Context) (int, time.Time, error) {
	var n int
	var oldest time.Time
	err := s.db.QueryRowContext(ctx, `SELECT count(*), min(received_at) FROM inbox WHERE state = 'pending'`).Scan(&n, stamp{&oldest})
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("measure the okta event inbox: %w", err)
	}
	return n, oldest, nil
}

const inboxColumns = `uuid, event_type, payload, state, attempts, received_at, reason, request_id`

func scanEvent(row scanner) (InboxEvent, error) {
	var e InboxEvent
	var payload string
	if err := row.Scan(&e.UUID, &e.EventType, &payload, &e.State, &e.Attempts, stamp{&e.ReceivedAt}, &e.Reason, &e.RequestID); err != nil {
		return InboxEvent{}, err
	}
	e.Payload = []byte(payload)
	return e, nil
}

// eventChanged turns an inbox update that changed nothing into ErrLeaseLost.
func eventChanged(res sql.Result, err error, what string) error {
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	} else if n == 0 {
		return fmt.Errorf("%s: %w: another replica holds it, or it ended", what, ErrLeaseLost)
	}
	return nil
}
