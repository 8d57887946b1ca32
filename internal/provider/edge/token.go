package edge

import (
	"context"
	"sync"
	"time"

	"golang.org/x/oauth2"
)

// refreshMargin is how long before expiry a cached token is replaced, so a reset never waits
// on a token fetch that could have happened on an earlier call.
const refreshMargin = 5 * time.Minute

// TokenCache holds one access token and fetches a new one ahead of its expiry. Unlike
// oauth2.ReuseTokenSource it fetches with the caller's context, so a token endpoint that hangs
// ends with the reset's deadline instead of holding the reset past it. Only one caller fetches
// at a time; the others wait for its token or for their own context. It is safe for concurrent
// use.
type TokenCache struct {
	fetch  func(context.Context) (*oauth2.Token, error)
	margin time.Duration
	now    func() time.Time

	// fetching is held by the one caller fetching; others wait for it or for their context.
	fetching chan struct{}

	mu      sync.Mutex
	tok     *oauth2.Token
	fetched time.Time
}

// NewTokenCache returns an empty cache that calls fetch, with the caller's context, whenever
// it needs a token. A failed fetch is not remembered: the next call fetches again.
func NewTokenCache(fetch func(context.Context) (*oauth2.Token, error)) *TokenCache {
	return &TokenCache{fetch: fetch, margin: refreshMargin, now: time.Now, fetching: make(chan struct{}, 1)}
}

// Token returns the cached token while it is fresh, else fetches a new one.
func (c *TokenCache) Token(ctx context.Context) (*oauth2.Token, error) {
	if tok := c.fresh(); tok != nil {
		return tok, nil
	}
	select {
	case c.fetching <- struct{}{}:
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
	defer func() { <-c.fetching }()
	if tok := c.fresh(); tok != nil { // fetched by someone else while we waited
		return tok, nil
	}
	tok, err := c.fetch(ctx)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tok, c.fetched = tok, c.now()
	return tok, nil
}

// Forget drops the cached token after the API rejected it, so the next call fetches anew
// instead of failing with the same token until it expires.
func (c *TokenCache) Forget() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tok = nil
}

// fresh returns the cached token unless it expires within the margin. A token living less
// than twice the margin is refreshed at half its life, so it is still reused.
func (c *TokenCache) fresh() *oauth2.Token {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tok == nil || c.tok.AccessToken == "" {
		return nil
	}
	if c.tok.Expiry.IsZero() {
		return c.tok
	}
	margin := min(c.margin, c.tok.Expiry.Sub(c.fetched)/2)
	if c.now().Add(margin).Before(c.tok.Expiry) {
		return c.tok
	}
	return nil
}
