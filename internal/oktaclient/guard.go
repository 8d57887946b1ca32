package oktaclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// tokenPath is where the SDK asks for a service app's access token.
const tokenPath = "/oauth2/v1/token"

// uncancellableTimeout bounds a request that carries no way to be cancelled. The SDK builds
// its token request without a context; left alone, a token endpoint that never answers would
// hold a reset past every deadline.
const uncancellableTimeout = 20 * time.Second

// maxErrorBody caps how much of an error answer or a token answer is read.
const maxErrorBody = 64 << 10

// tokenMargin is how long before Okta's expiry a service app's access token is replaced. The
// SDK keeps a token until two seconds before it expires, so a call could leave with a token
// that dies on the way and fail as "credentials rejected".
const tokenMargin = 5 * time.Minute

// guard sits between the SDK and the network and undoes what okta-sdk-golang v2 does that no
// option reaches (read requestExecutor.go there):
//
//   - it retries a 429 itself, and when it gives up returns a bare "too many requests" with the
//     answer drained, losing the X-Rate-Limit-Reset the executor must honour. The guard turns
//     every 429 into an *APIError carrying status, headers and Okta's error before the SDK
//     sees it, so the SDK returns at once;
//   - it retries a connection closed before Okta answered (io.EOF) with no limit and no pause
//     until the context ends. The guard hands such failures back as a connection error that is
//     no longer io.EOF, so the executor's retry policy applies instead;
//   - its service-app token request has no context, carries the signed client assertion in the
//     URL (where proxies and access logs keep it) and loses the status of a refusal. The guard
//     bounds requests that cannot be cancelled, moves the token request's parameters into the
//     form body where OAuth puts them, turns a token refusal into an *APIError, and lowers
//     the expires_in the SDK caches the token for by tokenMargin.
//
// It is also where every Okta answer passes, so it reports each answer's rate-limit window to
// observe (Config.RateObserver) before anything else happens to the answer.
type guard struct {
	next    http.RoundTripper
	observe func(b Bucket, w Window)
}

// RoundTrip implements http.RoundTripper.
func (g *guard) RoundTrip(req *http.Request) (*http.Response, error) {
	next := g.next
	if next == nil {
		next = http.DefaultTransport
	}
	token := req.Method == http.MethodPost && strings.HasSuffix(req.URL.Path, tokenPath)
	out, cancel := req, context.CancelFunc(nil)
	if req.Context().Done() == nil {
		var ctx context.Context
		ctx, cancel = context.WithTimeout(req.Context(), uncancellableTimeout)
		out = req.Clone(ctx)
	}
	if token && req.URL.RawQuery != "" && req.Body == nil {
		if out == req {
			out = req.Clone(req.Context())
		}
		formBody(out)
	}
	done := func() {
		if cancel != nil {
			cancel()
		}
	}

	resp, err := next.RoundTrip(out)
	if err != nil {
		done()
		if errors.Is(err, io.EOF) {
			return nil, &connectionError{err: err}
		}
		return nil, err
	}
	g.report(req, resp.Header)
	if resp.StatusCode == http.StatusTooManyRequests || token && (resp.StatusCode < 200 || resp.StatusCode > 299) {
		apiErr := readAPIError(resp, token)
		done()
		return nil, apiErr
	}
	if token {
		err := shortenLifetime(resp)
		done()
		return resp, err
	}
	if cancel != nil {
		resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	}
	return resp, nil
}

// report passes an answer's X-Rate-Limit-Remaining and X-Rate-Limit-Reset (epoch seconds) to
// observe. A missing or unreadable header says nothing, and nothing is reported: a guessed
// window would pace Okta calls by a number Okta never sent.
func (g *guard) report(req *http.Request, h http.Header) {
	if g.observe == nil {
		return
	}
	remaining, err1 := strconv.Atoi(strings.TrimSpace(h.Get("X-Rate-Limit-Remaining")))
	reset, err2 := strconv.ParseInt(strings.TrimSpace(h.Get("X-Rate-Limit-Reset")), 10, 64)
	if err1 != nil || err2 != nil || remaining < 0 || reset <= 0 {
		return
	}
	limit, err := strconv.Atoi(strings.TrimSpace(h.Get("X-Rate-Limit-Limit")))
	if err != nil || limit < remaining {
		limit = 0 // not known
	}
	g.observe(bucketOf(req), Window{Limit: limit, Remaining: remaining, Reset: time.Unix(reset, 0)})
}

// Window is what an Okta answer says of the rate-limit window it was counted in.
type Window struct {
	// Limit is the window's size (X-Rate-Limit-Limit); 0 when the answer did not say.
	Limit int
	// Remaining more requests are allowed until Reset.
	Remaining int
	Reset     time.Time
}

// Bucket names the Okta rate-limit bucket an answer was counted in, as far as resetbot tells
// them apart. Okta counts endpoints in separate buckets, each with its own window, so a
// window read off one endpoint says nothing of another's.
type Bucket string

const (
	// BucketSessions is DELETE /api/v1/users/{id}/sessions: signing people out.
	BucketSessions Bucket = "sessions"
	// BucketToken is the service app's token endpoint.
	BucketToken Bucket = "token"
	// BucketDirectory is every read of people and groups: users by id or login, user search,
	// groups and members.
	BucketDirectory Bucket = "directory"
	// BucketMeta is /api/v1/meta/*, the user schema among them: Okta counts it apart from
	// the reads of people, so its window says nothing of theirs.
	BucketMeta Bucket = "meta"
)

func bucketOf(req *http.Request) Bucket {
	switch {
	case strings.HasSuffix(req.URL.Path, tokenPath):
		return BucketToken
	case req.Method == http.MethodDelete && strings.HasSuffix(req.URL.Path, "/sessions"):
		return BucketSessions
	case strings.HasPrefix(req.URL.Path, "/api/v1/meta/"):
		return BucketMeta
	default:
		return BucketDirectory
	}
}

// shortenLifetime reads a token answer and lowers its expires_in by tokenMargin, so the SDK's
// cache lets the token go while it still has minutes to live. An answer it cannot read is
// passed on unchanged, for the SDK to judge.
func shortenLifetime(resp *http.Response) error {
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	resp.Body.Close()
	if err != nil {
		return err
	}
	var body map[string]json.RawMessage
	var expiresIn int
	if json.Unmarshal(raw, &body) == nil && json.Unmarshal(body["expires_in"], &expiresIn) == nil {
		body["expires_in"], _ = json.Marshal(lifetime(expiresIn))
		if b, err := json.Marshal(body); err == nil {
			raw = b
		}
	}
	resp.Body = io.NopCloser(bytes.NewReader(raw))
	resp.ContentLength = int64(len(raw))
	resp.Header.Set("Content-Length", strconv.Itoa(len(raw)))
	return nil
}

// lifetime is the expires_in handed to the SDK for a token Okta says lives seconds: tokenMargin
// less while at least a minute remains, else half. Never under 3: the SDK caches for
// expires_in-2 seconds, and a cache time of zero or less means five minutes or forever there.
func lifetime(seconds int) int {
	margin := int(tokenMargin / time.Second)
	if seconds-margin >= 60 {
		return seconds - margin
	}
	return max(seconds/2, 3)
}

// formBody moves a token request's query parameters into its form body.
func formBody(r *http.Request) {
	form := r.URL.RawQuery
	r.URL.RawQuery = ""
	r.Body = io.NopCloser(strings.NewReader(form))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(form)), nil }
	r.ContentLength = int64(len(form))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
}

// readAPIError reads Okta's error body (errorCode/errorSummary, or the OAuth error and
// error_description of the token endpoint) and closes it.
func readAPIError(resp *http.Response, token bool) *APIError {
	defer resp.Body.Close()
	var body struct {
		ErrorCode        string `json:"errorCode"`
		ErrorSummary     string `json:"errorSummary"`
		Error            string `json:"error"`
		ErrorDescription string `json:"error_description"`
	}
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	_ = json.Unmarshal(raw, &body)
	e := &APIError{Status: resp.StatusCode, Header: resp.Header.Clone(), TokenRequest: token,
		Code: body.ErrorCode, Summary: body.ErrorSummary}
	if e.Code == "" {
		e.Code = body.Error
	}
	if e.Summary == "" {
		e.Summary = body.ErrorDescription
	}
	return e
}

// connectionError is a connection that ended before Okta answered. It is a net.Error, so
// reset.Classify calls it retryable, but deliberately not io.EOF, which the SDK would retry
// on its own without limit.
type connectionError struct{ err error }

func (e *connectionError) Error() string {
	return "the connection closed before Okta answered (" + e.err.Error() + ")"
}

// Timeout implements net.Error.
func (e *connectionError) Timeout() bool { return false }

// Temporary implements net.Error.
func (e *connectionError) Temporary() bool { return true }

// cancelOnClose releases a request's bounding context once its body is done with.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelOnClose) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}
