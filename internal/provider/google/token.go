package google

import (
	"context"
	"io"
	"net/http"

	"github.com/resetbot/resetbot/internal/provider/edge"
)

// maxBody bounds how much of a response the SDK reads: a Directory API answer is a few KB,
// and an error page from a misbehaving proxy must not fill memory.
const maxBody = 1 << 20

// bearer authorises every request with the cached token, fetched with the request's context.
type bearer struct {
	base   http.RoundTripper
	tokens *edge.TokenCache
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
