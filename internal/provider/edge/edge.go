// Package edge holds what every provider needs at its HTTP edge: reading how long a rate
// limit asks us to wait, an HTTP client that keeps the proxy settings operators rely on and
// gives up on a server that never answers, and an OAuth token cache that fetches with the
// caller's context.
package edge

import (
	"crypto/x509"
	"net/http"
	"strconv"
	"time"
)

// RetryAfter reads how long the server asked us to wait: Retry-After in seconds or as an HTTP
// date, else Okta's X-Rate-Limit-Reset (the epoch second the window resets). Zero when the
// answer says nothing usable.
func RetryAfter(h http.Header, now time.Time) time.Duration {
	if h == nil {
		return 0
	}
	if v := h.Get("Retry-After"); v != "" {
		if secs, err := strconv.ParseFloat(v, 64); err == nil && secs >= 0 {
			return time.Duration(secs * float64(time.Second))
		}
		if at, err := http.ParseTime(v); err == nil {
			return max(at.Sub(now), 0)
		}
	}
	if v := h.Get("X-Rate-Limit-Reset"); v != "" {
		if epoch, err := strconv.ParseInt(v, 10, 64); err == nil {
			return max(time.Unix(epoch, 0).Sub(now), 0)
		}
	}
	return 0
}

// Client returns an HTTP client whose transport is Go's default one (so HTTPS_PROXY and
// NO_PROXY keep working) trusting roots in addition to the system's when roots is not nil.
// Tests and the demo pass the fakes' certificate pool; production passes nil.
func Client(roots *x509.CertPool) *http.Client {
	return &http.Client{Transport: Transport(roots)}
}

// responseHeaderTimeout is how long a server that took a request may go without answering
// its headers. Every provider answers a sign-out or a lookup within seconds; one silent for
// this long is hung, not slow.
const responseHeaderTimeout = 30 * time.Second

// Transport is the transport behind Client, and so behind every provider, the directory and
// Slack. It gives up on a request whose server sends no response headers within 30 s: a
// deadline on the caller's context is what normally ends a call, but not every request
// carries one (Okta's SDK sends a service app's token request without any), and a hung
// server must never hold a call, its goroutine and its place in a pacing queue for good.
func Transport(roots *x509.CertPool) *http.Transport {
	return transport(roots, responseHeaderTimeout)
}

// transport is Transport with the header timeout given, so tests need not wait 30 s.
func transport(roots *x509.CertPool, headerTimeout time.Duration) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	// A batch keeps several requests in flight to each system's one host; Go's default of
	// two idle connections per host would close the rest after each answer and pay a new TLS
	// handshake for nearly every request.
	t.MaxIdleConnsPerHost = 64
	t.ResponseHeaderTimeout = headerTimeout
	if roots != nil {
		if t.TLSClientConfig == nil {
			t.TLSClientConfig = newTLSConfig()
		}
		t.TLSClientConfig.RootCAs = roots
	}
	return t
}
