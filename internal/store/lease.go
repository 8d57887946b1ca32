package store

import (
	"context"
	"errors"
	"time"
)

// KeepLease calls renew every interval (a second when interval is not positive) until ctx ends,
// returning nil, or until renew reports the lease lost, returning ErrLeaseLost. Whoever runs a
// request, a bot replica or a command, keeps its lease this way: a renewal that fails for any
// other reason goes to failed and is tried again within a second, so when the database comes
// back its owner renews before another replica finds the lease lapsed.
func KeepLease(ctx context.Context, interval time.Duration, renew func(context.Context) error, failed func(error)) error {
	if interval <= 0 {
		interval = time.Second
	}
	t := time.NewTimer(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if ctx.Err() != nil {
			return nil // a tick and the end arrived together
		}
		err := renew(ctx)
		next := interval
		switch {
		case errors.Is(err, ErrLeaseLost):
			return ErrLeaseLost
		case err != nil && ctx.Err() == nil:
			failed(err)
			next = min(interval, time.Second)
		}
		t.Reset(next)
	}
}
