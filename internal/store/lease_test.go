package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestKeepLeaseRenewsThroughFailuresUntilTheLeaseIsLost(t *testing.T) {
	t.Parallel()
	transient := errors.New("database is locked")
	answers := []error{transient, nil, ErrLeaseLost, nil}
	calls := 0
	var reported []error
	err := KeepLease(t.Context(), time.Millisecond, func(context.Context) error {
		calls++
		return answers[calls-1]
	}, func(err error) { reported = append(reported, err) })
	if !errors.Is(err, ErrLeaseLost) || calls != 3 {
		t.Errorf("KeepLease = %v after %d renewals, want ErrLeaseLost after 3", err, calls)
	}
	if len(reported) != 1 || !errors.Is(reported[0], transient) {
		t.Errorf("reported %v, want the one failed renewal", reported)
	}
}

func TestKeepLeaseEndsWithItsContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	calls := 0
	err := KeepLease(ctx, time.Millisecond, func(context.Context) error {
		calls++
		if calls == 2 {
			cancel() // the run finished while this renewal was under way
			return context.Canceled
		}
		return nil
	}, func(err error) { t.Errorf("a renewal cut short by the run's end was reported: %v", err) })
	if err != nil || calls != 2 {
		t.Errorf("KeepLease = %v after %d renewals, want nil after 2", err, calls)
	}
}
