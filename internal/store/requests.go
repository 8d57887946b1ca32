package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/resetbot/resetbot/internal/reset"
)

// requestColumns is the column list every request query reads, in scanRequest's order.
const requestColumns = `id, source, target_okta_id, target_login, target_email, target_name, target_status,
	reason, requester, approver, channel, message_ts, plan, providers, state,
	created_at, expires_at, updated_at, lease_owner, lease_until, targets,
	approvals, cancelled_by, note, announced_at, target_second_email, target_names`

// Create stores a new request. The caller chooses its ID (random and unguessable: it travels
// in Slack button values). A request whose ID, or whose event Source ("okta-event:<uuid>"), is
// already stored is refused with ErrDuplicate, so a re-delivered event starts nothing twice;
// Sources "slack" and "cli" may repeat. An empty State is stored as pending, a zero UpdatedAt
// as CreatedAt.
func (s *Store) Create(ctx context.Context, r reset.Request) error {
	if r.ID == "" {
		return errors.New("create request: no id given")
	}
	if r.State == "" {
		r.State = reset.Pending
	}
	if r.CreatedAt.IsZero() {
		return fmt.Errorf("create request %s: no creation time given", r.ID)
	}
	if r.UpdatedAt.IsZero() {
		r.UpdatedAt = r.CreatedAt
	}
	enc, err := encodeRequest(r)
	if err != nil {
		return fmt.Errorf("create request %s: %w", r.ID, err)
	}
	res, err := s.db.ExecContext(ctx, `INSERT INTO requests (`+requestColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27)
		ON CONFLICT DO NOTHING`,
		r.ID, r.Source, r.Target.OktaID, r.Target.Login, r.Target.Email, r.Target.DisplayName, r.Target.Status,
		r.Reason, enc[0], enc[1], r.Channel, r.MessageTS, enc[2], enc[3], string(r.State),
		s.at(r.CreatedAt), s.at(r.ExpiresAt), s.at(r.UpdatedAt), r.LeaseOwner, s.at(r.LeaseUntil), enc[4],
		enc[5], enc[6], r.Note, s.at(r.AnnouncedAt), r.Target.SecondEmail, enc[7])
	if err != nil {
		return fmt.Errorf("create request %s for %s: %w", r.ID, r.Target, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("create request %s: %w", r.ID, err)
	} else if n == 0 {
		return fmt.Errorf("create request %s from %s: %w", r.ID, r.Source, ErrDuplicate)
	}
	return nil
}

// Get returns the request with id, or ErrNotFound.
func (s *Store) Get(ctx context.Context, id string) (reset.Request, error) {
	r, err := scanRequest(s.db.QueryRowContext(ctx, `SELECT `+requestColumns+` FROM requests WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return reset.Request{}, fmt.Errorf("get request %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return reset.Request{}, fmt.Errorf("get request %s: %w", id, err)
	}
	return r, nil
}

// SetMessage records where the request's card was posted, so later steps can update it.
func (s *Store) SetMessage(ctx context.Context, id, channel, ts string) error {
	res, err := s.db.ExecContext(ctx, `UPDATE requests SET channel = $2, message_ts = $3 WHERE id = $1`, id, channel, ts)
	return s.changedOne(res, err, "set message of request "+id)
}

// Approve moves a pending request to running, atomically: of any number of concurrent callers
// (on any connection, replica or process) exactly one wins. The winner gets the request as it
// now is, with approver and lease (owner, for lease on the database's clock) set. A request that is no longer
// pending, or whose ExpiresAt is not after now, is left alone: the caller gets ErrConflict
// (also ErrExpired for an expired one) together with the request as it stands, to say e.g.
// "already approved by X".
func (s *Store) Approve(ctx context.Context, id string, approver reset.Actor, now time.Time, owner string, lease time.Duration) (reset.Request, error) {
	who, err := json.Marshal(approver)
	if err != nil {
		return reset.Request{}, fmt.Errorf("approve request %s: %w", id, err)
	}
	clock, err := s.Clock(ctx)
	if err != nil {
		return reset.Request{}, fmt.Errorf("approve request %s: %w", id, err)
	}
	leaseUntil := clock.Add(lease)
	r, err := scanRequest(s.db.QueryRowContext(ctx, `UPDATE requests
		SET state = 'running', approver = $2, lease_owner = $3, lease_until = $4, updated_at = $5
		WHERE id = $1 AND state = 'pending' AND (expires_at IS NULL OR expires_at > $5)
		RETURNING `+requestColumns,
		id, string(who), owner, s.at(leaseUntil), s.at(now)))
	if errors.Is(err, sql.ErrNoRows) {
		return s.refuse(ctx, "approve", id, now)
	}
	if err != nil {
		return reset.Request{}, fmt.Errorf("approve request %s: %w", id, err)
	}
	return r, nil
}

// AddApproval records approver's approval of a pending, unexpired request that needs more than
// one, provided its approvals are still prior: of clicks racing to add the same approval,
// exactly one wins. Otherwise it returns ErrConflict with the request as it stands, so the
// caller can decide again.
func (s *Store) AddApproval(ctx context.Context, id string, prior []reset.Actor, approver reset.Actor, now time.Time) (reset.Request, error) {
	before, err := json.Marshal(approvalsOf(prior))
	if err != nil {
		return reset.Request{}, fmt.Errorf("approve request %s: %w", id, err)
	}
	after, err := json.Marshal(append(approvalsOf(prior), approver))
	if err != nil {
		return reset.Request{}, fmt.Errorf("approve request %s: %w", id, err)
	}
	r, err := scanRequest(s.db.QueryRowContext(ctx, `UPDATE requests SET approvals = $3, updated_at = $4
		WHERE id = $1 AND state = 'pending' AND approvals = $2 AND (expires_at IS NULL OR expires_at > $4)
		RETURNING `+requestColumns,
		id, string(before), string(after), s.at(now)))
	if errors.Is(err, sql.ErrNoRows) {
		got, err := s.refuse(ctx, "approve", id, now)
		var ce *conflictError
		if errors.As(err, &ce) && got.State == reset.Pending && !ce.expired {
			ce.changed = true // still pending: another approval landed first
		}
		return got, err
	}
	if err != nil {
		return reset.Request{}, fmt.Errorf("approve request %s: %w", id, err)
	}
	return r, nil
}

// approvalsOf is the one spelling of a list of approvals the approvals column compares.
func approvalsOf(as []reset.Actor) []reset.Actor {
	if as == nil {
		return []reset.Actor{}
	}
	return slices.Clone(as)
}

// Cancel moves a pending, unexpired request to cancelled and returns it. Otherwise it returns
// ErrConflict (or ErrExpired) with the request as it stands.
func (s *Store) Cancel(ctx context.Context, id string, by reset.Actor, now time.Time) (reset.Request, error) {
	who, err := json.Marshal(by)
	if err != nil {
		return reset.Request{}, fmt.Errorf("cancel request %s: %w", id, err)
	}
	r, err := scanRequest(s.db.QueryRowContext(ctx, `UPDATE requests
		SET state = 'cancelled', cancelled_by = $2, updated_at = $3
		WHERE id = $1 AND state = 'pending' AND (expires_at IS NULL OR expires_at > $3)
		RETURNING `+requestColumns,
		id, string(who), s.at(now)))
	if errors.Is(err, sql.ErrNoRows) {
		return s.refuse(ctx, "cancel", id, now)
	}
	if err != nil {
		return reset.Request{}, fmt.Errorf("cancel request %s: %w", id, err)
	}
	return r, nil
}

// Withdraw cancels a pending request that never reached anyone (its card could not be posted)
// and frees its event source, so the same Okta event can make its request again once Slack
// takes cards again: an event counts as consumed only when its card or reset exists.
func (s *Store) Withdraw(ctx context.Context, id string, by reset.Actor, now time.Time) (reset.Request, error) {
	who, err := json.Marshal(by)
	if err != nil {
		return reset.Request{}, fmt.Errorf("withdraw request %s: %w", id, err)
	}
	r, err := scanRequest(s.db.QueryRowContext(ctx, `UPDATE requests
		SET state = 'cancelled', cancelled_by = $2, updated_at = $3, announced_at = $3,
			source = CASE WHEN source IN ('', 'slack', 'cli') THEN source ELSE source || ':withdrawn:' || id END
		WHERE id = $1 AND state = 'pending'
		RETURNING `+requestColumns,
		id, string(who), s.at(now)))
	if errors.Is(err, sql.ErrNoRows) {
		return s.refuse(ctx, "withdraw", id, now)
	}
	if err != nil {
		return reset.Request{}, fmt.Errorf("withdraw request %s: %w", id, err)
	}
	return r, nil
}

// ExpireDue moves every pending request whose ExpiresAt is at or before now to expired and
// returns the ones this call changed. Replicas may sweep at once: each request is expired by
// exactly one of them, so each expiry is announced once.
func (s *Store) ExpireDue(ctx context.Context, now time.Time) ([]reset.Request, error) {
	got, err := s.queryRequests(ctx, `UPDATE requests SET state = 'expired', updated_at = $1
		WHERE state = 'pending' AND expires_at IS NOT NULL AND expires_at <= $1
		RETURNING `+requestColumns, s.at(now))
	if err != nil {
		return nil, fmt.Errorf("expire due requests: %w", err)
	}
	return got, nil
}

// RecordOutcome stores what one system said about a request, replacing what it said before
// (a retry of the same provider overwrites its earlier outcome).
func (s *Store) RecordOutcome(ctx context.Context, id string, o reset.Outcome) error {
	return s.recordOutcome(ctx, id, "", o)
}

// RecordPersonOutcome stores what one system said about one person of a batch, by the
// person's Okta id, replacing what it said before.
func (s *Store) RecordPersonOutcome(ctx context.Context, id, person string, o reset.Outcome) error {
	if person == "" {
		return fmt.Errorf("record outcome of request %s: no person named", id)
	}
	return s.recordOutcome(ctx, id, person, o)
}

// recordOutcome writes to outcomes, or to person_outcomes when person is set.
func (s *Store) recordOutcome(ctx context.Context, id, person string, o reset.Outcome) error {
	if o.Provider == "" {
		return fmt.Errorf("record outcome of request %s: no provider named", id)
	}
	table, key, args := "outcomes", "request_id, provider", []any{id, o.Provider}
	if person != "" {
		table, key, args = "person_outcomes", "request_id, person, provider", []any{id, person, o.Provider}
	}
	tried, err := json.Marshal(append([]string{}, o.Tried...))
	if err != nil {
		return fmt.Errorf("record %s outcome of request %s: %w", o.Provider, id, err)
	}
	n := len(args)
	args = append(args, string(o.Status), o.Detail, o.Retryable, o.Attempts, int64(o.Duration), o.As, string(tried))
	_, err = s.db.ExecContext(ctx, fmt.Sprintf(`INSERT INTO %[1]s (%[2]s, status, detail, retryable, attempts, duration_ns, found_as, tried)
		VALUES (%[3]s)
		ON CONFLICT (%[2]s) DO UPDATE SET status = excluded.status, detail = excluded.detail,
			retryable = excluded.retryable, attempts = excluded.attempts, duration_ns = excluded.duration_ns,
			found_as = excluded.found_as, tried = excluded.tried`,
		table, key, placeholders(n+7)), args...)
	if err != nil {
		// Requests are never deleted, so the foreign key fails only for an unknown id.
		if _, getErr := s.Get(ctx, id); errors.Is(getErr, ErrNotFound) {
			return fmt.Errorf("record %s outcome of request %s: %w", o.Provider, id, ErrNotFound)
		}
		return fmt.Errorf("record %s outcome of request %s: %w", o.Provider, id, err)
	}
	return nil
}

func placeholders(n int) string {
	p := make([]string, n)
	for i := range p {
		p[i] = fmt.Sprintf("$%d", i+1)
	}
	return strings.Join(p, ", ")
}

// Outcomes returns what each system said about a request, by provider name. A request with
// no outcome yet (or no such request) has none.
func (s *Store) Outcomes(ctx context.Context, id string) ([]reset.Outcome, error) {
	var got []reset.Outcome
	err := s.scanOutcomes(ctx, id, `SELECT '', provider, status, detail, retryable, attempts, duration_ns, found_as, tried
		FROM outcomes WHERE request_id = $1 ORDER BY provider`, func(_ string, o reset.Outcome) { got = append(got, o) })
	return got, err
}

// PersonOutcomes returns what each system said about each person of a batch, by the person's
// Okta id; people no system has answered for yet are absent.
func (s *Store) PersonOutcomes(ctx context.Context, id string) (map[string][]reset.Outcome, error) {
	got := map[string][]reset.Outcome{}
	err := s.scanOutcomes(ctx, id, `SELECT person, provider, status, detail, retryable, attempts, duration_ns, found_as, tried
		FROM person_outcomes WHERE request_id = $1 ORDER BY person, provider`, func(person string, o reset.Outcome) {
		got[person] = append(got[person], o)
	})
	return got, err
}

func (s *Store) scanOutcomes(ctx context.Context, id, query string, each func(person string, o reset.Outcome)) error {
	rows, err := s.db.QueryContext(ctx, query, id)
	if err != nil {
		return fmt.Errorf("list outcomes of request %s: %w", id, err)
	}
	defer rows.Close()
	for rows.Next() {
		var o reset.Outcome
		var person string
		var duration int64
		var tried string
		if err := rows.Scan(&person, &o.Provider, &o.Status, &o.Detail, &o.Retryable, &o.Attempts, &duration, &o.As, &tried); err != nil {
			return fmt.Errorf("list outcomes of request %s: %w", id, err)
		}
		if err := json.Unmarshal([]byte(tried), &o.Tried); err != nil {
			return fmt.Errorf("list outcomes of request %s: %w", id, err)
		}
		if len(o.Tried) == 0 {
			o.Tried = nil
		}
		o.Duration = time.Duration(duration)
		each(person, o)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("list outcomes of request %s: %w", id, err)
	}
	return nil
}

// Finish ends a running request in final (done, partial or failed). Only the lease owner may:
// anyone else gets ErrLeaseLost, and so does an owner whose request another replica took over
// or that already ended. The owner keeps the request, for announce on the database's clock,
// to tell people its end and then call Announced; should it die first, ClaimUnannounced hands
// the telling to another replica once that lapses.
func (s *Store) Finish(ctx context.Context, id, owner string, final reset.State, now time.Time, announce time.Duration) error {
	switch final {
	case reset.StateDone, reset.StatePartial, reset.StateFailed:
	default:
		return fmt.Errorf("finish request %s: %q is not a final state (want done, partial or failed)", id, final)
	}
	clock, err := s.Clock(ctx)
	if err != nil {
		return fmt.Errorf("finish request %s: %w", id, err)
	}
	res, err := s.db.ExecContext(ctx, `UPDATE requests
		SET state = $3, lease_until = $5, updated_at = $4
		WHERE id = $1 AND state = 'running' AND lease_owner = $2`,
		id, owner, string(final), s.at(now), s.at(clock.Add(announce)))
	return s.leaseChanged(ctx, res, err, "finish request "+id, id)
}

// Announced records that owner told people the end of a finished request, and gives up the
// request. ErrLeaseLost means another replica claimed the telling (this one stalled past its
// lease) or it was already told.
func (s *Store) Announced(ctx context.Context, id, owner string, now time.Time) error {
	res, err := s.db.ExecContext(ctx, `UPDATE requests SET announced_at = $3, lease_owner = '', lease_until = NULL
		WHERE id = $1 AND lease_owner = $2 AND announced_at IS NULL AND state IN ('done', 'partial', 'failed')`,
		id, owner, s.at(now))
	if err != nil {
		return fmt.Errorf("record the announcement of request %s: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("record the announcement of request %s: %w", id, err)
	} else if n == 0 {
		return fmt.Errorf("record the announcement of request %s: %w", id, ErrLeaseLost)
	}
	return nil
}

// ClaimUnannounced gives owner, for lease on the database's clock, every finished request
// whose end nobody told: its finisher died between storing the end and announcing it. Of
// replicas racing, each request goes to exactly one.
func (s *Store) ClaimUnannounced(ctx context.Context, owner string, lease time.Duration) ([]reset.Request, error) {
	now, err := s.Clock(ctx)
	if err != nil {
		return nil, fmt.Errorf("claim unannounced requests for %s: %w", owner, err)
	}
	got, err := s.queryRequests(ctx, `UPDATE requests SET lease_owner = $1, lease_until = $3
		WHERE state IN ('done', 'partial', 'failed') AND announced_at IS NULL AND (lease_until IS NULL OR lease_until <= $2)
		RETURNING `+requestColumns, owner, s.at(now), s.at(now.Add(lease)))
	if err != nil {
		return nil, fmt.Errorf("claim unannounced requests for %s: %w", owner, err)
	}
	return got, nil
}

// Reopen runs the failed part of a finished request again: a partial or failed request whose
// end was told goes back to running, leased to owner for lease, and its failed answers are
// cleared in the same transaction, so the run asks again only the systems that failed, for
// the people they failed for. Of concurrent calls exactly one wins; the others get
// ErrConflict with the request as it stands.
func (s *Store) Reopen(ctx context.Context, id, owner string, now time.Time, lease time.Duration) (reset.Request, error) {
	clock, err := s.Clock(ctx)
	if err != nil {
		return reset.Request{}, fmt.Errorf("reopen request %s: %w", id, err)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return reset.Request{}, fmt.Errorf("reopen request %s: %w", id, err)
	}
	defer func() { _ = tx.Rollback() }()
	r, err := scanRequest(tx.QueryRowContext(ctx, `UPDATE requests
		SET state = 'running', lease_owner = $2, lease_until = $3, updated_at = $4, announced_at = NULL
		WHERE id = $1 AND state IN ('partial', 'failed') AND announced_at IS NOT NULL
		RETURNING `+requestColumns, id, owner, s.at(clock.Add(lease)), s.at(now)))
	if errors.Is(err, sql.ErrNoRows) {
		_ = tx.Rollback()
		got, err := s.Get(ctx, id)
		if err != nil {
			return reset.Request{}, fmt.Errorf("reopen request: %w", err)
		}
		return got, fmt.Errorf("reopen request %s: %w: it is %s", id, ErrConflict, got.State)
	}
	if err != nil {
		return reset.Request{}, fmt.Errorf("reopen request %s: %w", id, err)
	}
	for _, table := range []string{"outcomes", "person_outcomes"} {
		if _, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE request_id = $1 AND status = 'failed'`, id); err != nil {
			return reset.Request{}, fmt.Errorf("reopen request %s: clear failed answers: %w", id, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return reset.Request{}, fmt.Errorf("reopen request %s: %w", id, err)
	}
	return r, nil
}

// Leases are measured on the database's clock, never a replica's: a replica whose clock runs
// ahead must not see another's live lease as lapsed. PostgreSQL's now() is that clock; an
// SQLite file lives on one host, whose clock every process on it shares.

// Clock is the database's time.
func (s *Store) Clock(ctx context.Context) (time.Time, error) {
	if s.backend == SQLite {
		return time.Now().UTC(), nil
	}
	var now time.Time
	if err := s.db.QueryRowContext(ctx, `SELECT now()`).Scan(&now); err != nil {
		return time.Time{}, fmt.Errorf("read the database's clock: %w", err)
	}
	return now.UTC(), nil
}

// RenewLease extends owner's lease on a running request to lease from now on the database's
// clock. ErrLeaseLost means another replica took the request over (or it ended): the caller
// must stop working on it.
func (s *Store) RenewLease(ctx context.Context, id, owner string, lease time.Duration) error {
	now, err := s.Clock(ctx)
	if err != nil {
		return fmt.Errorf("renew lease on request %s: %w", id, err)
	}
	res, err := s.db.ExecContext(ctx, `UPDATE requests SET lease_until = $3
		WHERE id = $1 AND state = 'running' AND lease_owner = $2`,
		id, owner, s.at(now.Add(lease)))
	return s.leaseChanged(ctx, res, err, "renew lease on request "+id, id)
}

// TakeOver gives owner every running request whose lease lapsed on the database's clock (its
// replica died or shut down) with a lease of its own, and returns them. Replicas racing to take
// over each get a disjoint share: every request is taken by exactly one.
func (s *Store) TakeOver(ctx context.Context, owner string, lease time.Duration) ([]reset.Request, error) {
	now, err := s.Clock(ctx)
	if err != nil {
		return nil, fmt.Errorf("take over lapsed requests for %s: %w", owner, err)
	}
	got, err := s.queryRequests(ctx, `UPDATE requests SET lease_owner = $1, lease_until = $3, updated_at = $2
		WHERE state = 'running' AND (lease_until IS NULL OR lease_until <= $2)
		RETURNING `+requestColumns, owner, s.at(now), s.at(now.Add(lease)))
	if err != nil {
		return nil, fmt.Errorf("take over lapsed requests for %s: %w", owner, err)
	}
	return got, nil
}

// ReleaseLeases ends owner's leases now, for a graceful shutdown: its running requests can be
// taken over at once instead of when the leases would have run out. Owner keeps them until
// another replica takes them.
func (s *Store) ReleaseLeases(ctx context.Context, owner string) error {
	now, err := s.Clock(ctx)
	if err == nil {
		_, err = s.db.ExecContext(ctx, `UPDATE requests SET lease_until = $2, updated_at = $2
			WHERE state = 'running' AND lease_owner = $1`, owner, s.at(now))
	}
	if err != nil {
		return fmt.Errorf("release leases of %s: %w", owner, err)
	}
	return nil
}

// ReleaseLease ends owner's lease on one running request now, so another replica takes it
// over at once: the run was cut short (a command interrupted with Ctrl-C). Owner keeps the
// request until then.
func (s *Store) ReleaseLease(ctx context.Context, id, owner string) error {
	now, err := s.Clock(ctx)
	if err == nil {
		_, err = s.db.ExecContext(ctx, `UPDATE requests SET lease_until = $3, updated_at = $3
			WHERE id = $1 AND state = 'running' AND lease_owner = $2`, id, owner, s.at(now))
	}
	if err != nil {
		return fmt.Errorf("release lease on request %s: %w", id, err)
	}
	return nil
}

// Recent returns up to limit requests, newest first (limit 0 or less means 50).
func (s *Store) Recent(ctx context.Context, limit int) ([]reset.Request, error) {
	if limit <= 0 {
		limit = 50
	}
	got, err := s.queryRequests(ctx, `SELECT `+requestColumns+` FROM requests
		ORDER BY created_at DESC, id DESC LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("list recent requests: %w", err)
	}
	return got, nil
}

// refuse explains why a compare-and-swap on a pending request changed nothing: the request is
// missing, no longer pending, or expired.
func (s *Store) refuse(ctx context.Context, op, id string, now time.Time) (reset.Request, error) {
	r, err := s.Get(ctx, id)
	if err != nil {
		return reset.Request{}, fmt.Errorf("%s request: %w", op, err)
	}
	return r, &conflictError{op: op, id: id, state: r.State, expired: r.State == reset.Pending && !r.ExpiresAt.IsZero() && !now.Before(r.ExpiresAt)}
}

// conflictError is ErrConflict with the state found, and ErrExpired too when that is why.
type conflictError struct {
	op, id  string
	state   reset.State
	expired bool
	// changed is a pending request whose approvals moved on since the caller read them.
	changed bool
}

func (e *conflictError) Error() string {
	if e.expired {
		return fmt.Sprintf("%s request %s: %s before it was approved", e.op, e.id, ErrExpired)
	}
	if e.changed {
		return fmt.Sprintf("%s request %s: %s: another approval was recorded first", e.op, e.id, ErrConflict)
	}
	return fmt.Sprintf("%s request %s: %s: it is %s, not pending", e.op, e.id, ErrConflict, e.state)
}

func (e *conflictError) Is(target error) bool {
	return target == ErrConflict || (e.expired && target == ErrExpired)
}

// changedOne turns an UPDATE that should change exactly one request into ErrNotFound when it
// changed none.
func (s *Store) changedOne(res sql.Result, err error, what string) error {
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if n == 0 {
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	return nil
}

// leaseChanged turns a lease update that changed nothing into ErrNotFound or ErrLeaseLost.
func (s *Store) leaseChanged(ctx context.Context, res sql.Result, err error, what, id string) error {
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if n > 0 {
		return nil
	}
	r, err := s.Get(ctx, id)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if r.State != reset.Running {
		return fmt.Errorf("%s: %w: it is %s", what, ErrLeaseLost, r.State)
	}
	return fmt.Errorf("%s: %w: %s runs it now", what, ErrLeaseLost, r.LeaseOwner)
}

func (s *Store) queryRequests(ctx context.Context, query string, args ...any) ([]reset.Request, error) {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var got []reset.Request
	for rows.Next() {
		r, err := scanRequest(rows)
		if err != nil {
			return nil, err
		}
		got = append(got, r)
	}
	return got, rows.Err()
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

func scanRequest(row scanner) (reset.Request, error) {
	var r reset.Request
	var requester, approver, plan, providers, targets, approvals, cancelledBy, names string
	err := row.Scan(&r.ID, &r.Source, &r.Target.OktaID, &r.Target.Login, &r.Target.Email, &r.Target.DisplayName, &r.Target.Status,
		&r.Reason, &requester, &approver, &r.Channel, &r.MessageTS, &plan, &providers, &r.State,
		stamp{&r.CreatedAt}, stamp{&r.ExpiresAt}, stamp{&r.UpdatedAt}, &r.LeaseOwner, stamp{&r.LeaseUntil}, &targets,
		&approvals, &cancelledBy, &r.Note, stamp{&r.AnnouncedAt}, &r.Target.SecondEmail, &names)
	if err != nil {
		return reset.Request{}, err
	}
	for _, f := range []struct {
		name string
		raw  string
		into any
	}{
		{"requester", requester, &r.Requester},
		{"approver", approver, &r.Approver},
		{"plan", plan, &r.Plan},
		{"providers", providers, &r.Providers},
		{"targets", targets, &r.Targets},
		{"approvals", approvals, &r.Approvals},
		{"cancelled_by", cancelledBy, &r.CancelledBy},
		{"target_names", names, &r.Target.Names},
	} {
		if err := json.Unmarshal([]byte(f.raw), f.into); err != nil {
			return reset.Request{}, fmt.Errorf("decode stored %s of request %s: %w", f.name, r.ID, err)
		}
	}
	if len(r.Approvals) == 0 {
		r.Approvals = nil
	}
	return r, nil
}

// encodeRequest gives the JSON columns of r: requester, approver, plan, providers, targets,
// approvals, cancelled_by, target_names.
func encodeRequest(r reset.Request) ([8]string, error) {
	var out [8]string
	for i, v := range []any{r.Requester, r.Approver, r.Plan, r.Providers, r.Targets, approvalsOf(r.Approvals), r.CancelledBy, r.Target.Names} {
		b, err := json.Marshal(v)
		if err != nil {
			return out, err
		}
		out[i] = string(b)
	}
	return out, nil
}
