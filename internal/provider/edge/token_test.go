package edge

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// countingCache is a TokenCache on a clock the test moves, counting fetches.
func countingCache(lifetime time.Duration) (*TokenCache, *time.Time, *int) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	fetches := 0
	c := NewTokenCache(func(context.Context) (*oauth2.Token, error) {
		fetches++
		return &oauth2.Token{AccessToken: "tok", Expiry: now.Add(lifetime)}, nil
	})
	c.now = func() time.Time { return now }
	return c, &now, &fetches
}

func TestTokenCacheRefreshesAheadOfExpiry(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		lifetime time.Duration
		after    time.Duration
		fetches  int
	}{
		{"hour token reused mid-life", time.Hour, 50 * time.Minute, 1},
		{"hour token replaced within the margin", time.Hour, 56 * time.Minute, 2},
		{"short token reused before half its life", 2 * time.Minute, 30 * time.Second, 1},
		{"short token replaced after half its life", 2 * time.Minute, 61 * time.Second, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, now, fetches := countingCache(tt.lifetime)
			if _, err := c.Token(t.Context()); err != nil {
				t.Fatal(err)
			}
			*now = now.Add(tt.after)
			if _, err := c.Token(t.Context()); err != nil {
				t.Fatal(err)
			}
			if *fetches != tt.fetches {
				t.Errorf("fetches = %d, want %d", *fetches, tt.fetches)
			}
		})
	}
}

func TestTokenCacheForgetsRejectedToken(t *testing.T) {
	t.Parallel()
	c, _, fetches := countingCache(time.Hour)
	_, _ = c.Token(t.Context())
	c.Forget()
	_, _ = c.Token(t.Context())
	if *fetches != 2 {
		t.Errorf("fetches = %d, want 2", *fetches)
	}
}

func TestTokenCacheDoesNotKeepFailures(t *testing.T) {
	t.Parallel()
	fail := true
	c := NewTokenCache(func(context.Context) (*oauth2.Token, error) {
		if fail {
			fail = false
			return nil, errors.New("token endpoint down")
		}
		return &oauth2.Token{AccessToken: "tok", Expiry: time.Now().Add(time.Hour)}, nil
	})
	if _, err := c.Token(t.Context()); err == nil {
		t.Fatal("first Token succeeded, want the fetch error")
	}
	if tok, err := c.Token(t.Context()); err != nil || tok.AccessToken != "tok" {
		t.Errorf("second Token = %v, %v; want a fresh token", tok, err)
	}
}

func TestTokenCacheWaitingCallerHonoursContext(t *testing.T) {
	t.Parallel()
	c, _, fetches := countingCache(time.Hour)
	c.fetching <- struct{}{} // another caller is fetching and does not finish
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := c.Token(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Token = %v, want context.Canceled", err)
	}
	if *fetches != 0 {
		t.Errorf("fetches = %d, want 0", *fetches)
	}
}

func TestTokenCacheFetchesOnceForConcurrentCallers(t *testing.T) {
	t.Parallel()
	var fetches atomic.Int32
	entered, release := make(chan struct{}), make(chan struct{})
	c := NewTokenCache(func(context.Context) (*oauth2.Token, error) {
		if fetches.Add(1) == 1 {
			close(entered)
			<-release
		}
		return &oauth2.Token{AccessToken: "tok", Expiry: time.Now().Add(time.Hour)}, nil
	})
	const callers = 8
	toks := make(chan string, callers)
	var wg sync.WaitGroup
	get := func() {
		defer wg.Done()
		tok, err := c.Token(t.Context())
		if err != nil {
			toks <- err.Error()
			return
		}
		toks <- tok.AccessToken
	}
	wg.Add(callers)
	go get()
	<-entered // the first caller is fetching; the rest find the slot taken or the token cached
	for range callers - 1 {
		go get()
	}
	close(release)
	wg.Wait()
	close(toks)
	for tok := range toks {
		if tok != "tok" {
			t.Errorf("Token = %q, want tok", tok)
		}
	}
	if n := fetches.Load(); n != 1 {
		t.Errorf("fetches = %d, want 1", n)
	}
}
