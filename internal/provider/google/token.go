package google

import (
	"context"
	"io"
	"net/http"
	"sync"
	"time"

	"golang.org/x/oauth2"
)

// refreshMargin is how long before expiry a cached token is replaced, so a reset never waits
// on a token fetch that could have happened on an earlier call.
const refreshMargin = 5 * time.Minute

// maxBody bounds how much of a response the SDK reads: a Directory API answer is a few KB,
// and an error page from a misbehaving proxy must not fill memory.
const maxBody = 1 << 20

// tokenCache holds one access token and fetches a new one ahead of its expiry. Unlike
// oauth2.ReuseTokenSource it fetches with the caller's context, so a token endpoint that hangs
// ends with the reset's deadline instead of holding the reset past it.
type tokenCache struct {
	fetch  func(context.Context) (*oauth2.Token, error)
	margin time.Duration
	now    func() time.Time

	// fetching is held by the one caller fetching; others wait for it or for their context.
	fetching chan struct{}

	mu      sync.Mutex
	tok     *oauth2.Token
	fetched time.Time
}

func newTokenCache(fetch func(context.Context) (*oauth2.Token, error)) *tokenCache {
	return &tokenCache{fetch: fetch, margin: refreshMargin, now: time.Now, fetching: make(chan struct{}, 1)}
}

// Token returns the cached token while it is fresh, else fetches a new one.
func (c *tokenCache) Token(ctx context.Context) (*oauth2.Token, error) {
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
func (c *tokenCache) Forget() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tok = nil
}

// fresh returns the cached token unless it expires within the margin. A token living less
// than twice the margin is refreshed at half its life, so it is still reused.
func (c *tokenCache) fresh() *oauth2.Token {
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

// bearer authorises every request with the cached token, fetched with the request's context.
type bearer struct {
	base   http.RoundTripper
	tokens *tokenCache
}

func (b *bearer) RoundTrip(req *http.Request) (*http.Response, error) {
	tok, err := b.tokens.Token(req.Context())
	if err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	r := req.Clone(req.Context())
	tok.SetAuthHeader(r)
	res, err := b.base.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	res.Body = limitedBody{Reader: io.LimitReader(res.Body, maxBody), Closer: res.Body}
	return res, nil
}

type limitedBody struct {
	io.Reader
	io.Closer
}

// boundTransport sends every request with ctx. x/oauth2/jwt posts its assertion without the
// caller's context, so without it a token fetch could not be cancelled.
type boundTransport struct {
	ctx  context.Context
	base http.RoundTripper
}

func (t boundTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	return t.base.RoundTrip(req.WithContext(t.ctx))
}

// boundClient is hc with every request bound to ctx.
func boundClient(ctx context.Context, hc *http.Client) *http.Client {
	c := *hc
	base := hc.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	c.Transport = boundTransport{ctx: ctx, base: base}
	return &c
}
