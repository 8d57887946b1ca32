package edge

import (
	"context"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestAServerThatNeverAnswersIsGivenUp: a server that takes the request and sends no headers
// fails the request with a timeout once the header timeout passes, even when the caller set
// no deadline of its own.
func TestAServerThatNeverAnswersIsGivenUp(t *testing.T) {
	t.Parallel()
	hung := make(chan struct{})
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select { // never answers; ends when the client gives up or the test does
		case <-r.Context().Done():
		case <-hung:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(hung) }) // before Close, which waits for the handler

	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	client := &http.Client{Transport: transport(roots, 100*time.Millisecond)}
	// The test's own bound, far past the header timeout; only a failing test reaches it.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(req)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("a server that never answered gave %s, want a timeout", resp.Status)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || ctx.Err() != nil {
		t.Errorf("error = %v, want the transport's header timeout before the caller's deadline", err)
	}
}

// TestTransportKeepsTheProxyAndTimesOutHeaders: the production transport still reads
// HTTPS_PROXY and NO_PROXY, and gives up on a server silent for responseHeaderTimeout.
func TestTransportKeepsTheProxyAndTimesOutHeaders(t *testing.T) {
	t.Parallel()
	tr := Transport(nil)
	if tr.Proxy == nil {
		t.Error("no proxy function: HTTPS_PROXY and NO_PROXY would be ignored")
	}
	if tr.ResponseHeaderTimeout != responseHeaderTimeout {
		t.Errorf("ResponseHeaderTimeout = %v, want %v", tr.ResponseHeaderTimeout, responseHeaderTimeout)
	}
}
