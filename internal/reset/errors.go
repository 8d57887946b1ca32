package reset

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"
)

// Kind says what the executor may do about a provider error. Providers decide it once, at
// their edge, from their SDK's error; the executor only reads it.
type Kind int

const (
	// Permanent errors fail at once: retrying cannot change a 401, 403 or a malformed request.
	Permanent Kind = iota
	// Retryable errors (429, 5xx, broken connections) may succeed on a later attempt.
	Retryable
	// NotFound means the person has no account in that system, which is not a failure.
	NotFound
)

func (k Kind) String() string {
	switch k {
	case Retryable:
		return "retryable"
	case NotFound:
		return "not found"
	default:
		return "permanent"
	}
}

// Error is a provider error classified at the provider's edge.
type Error struct {
	Kind Kind
	// RetryAfter is the wait the provider asked for (Retry-After, X-Rate-Limit-Reset); zero
	// when it said nothing and the executor's backoff decides.
	RetryAfter time.Duration
	// Status is the HTTP status, when there was one.
	Status int
	// Reason is a short machine word for metrics and logs: "rate_limited", "server_error".
	Reason string
	Err    error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// ErrNoAccount is matched by errors.Is for any NotFound provider error.
var ErrNoAccount = errors.New("no account")

// Is lets errors.Is(err, ErrNoAccount) answer for classified not-found errors.
func (e *Error) Is(target error) bool { return target == ErrNoAccount && e.Kind == NotFound }

// NoAccountError wraps err as "this person has no account here".
func NoAccountError(err error) error {
	return &Error{Kind: NotFound, Status: 404, Reason: "not_found", Err: err}
}

// PermanentError wraps err as one retrying cannot fix.
func PermanentError(status int, err error) error {
	return &Error{Kind: Permanent, Status: status, Reason: "permanent", Err: err}
}

// RetryableError wraps err as one a later attempt may fix, after at least wait.
func RetryableError(status int, wait time.Duration, reason string, err error) error {
	return &Error{Kind: Retryable, Status: status, RetryAfter: wait, Reason: reason, Err: err}
}

// Classify reads the kind of any error. Unclassified network failures are retryable, since a
// dropped connection says nothing about whether the request can succeed; anything else
// unclassified is permanent, so an unknown failure is never retried blindly.
func Classify(err error) (kind Kind, wait time.Duration, reason string) {
	var pe *Error
	if errors.As(err, &pe) {
		return pe.Kind, pe.RetryAfter, pe.Reason
	}
	if errors.Is(err, context.Canceled) {
		return Permanent, 0, "cancelled"
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return Retryable, 0, "timeout"
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return Retryable, 0, "connection"
	}
	return Permanent, 0, "permanent"
}

// HTTPError classifies an HTTP answer the way every provider needs it: 404 is no account,
// 429 and 5xx are retryable (waiting at least retryAfter), 401 and 403 are permanent and name
// the permission the operator must grant, anything else is permanent.
func HTTPError(status int, retryAfter time.Duration, permission string, err error) error {
	switch {
	case status == 404:
		return NoAccountError(err)
	case status == 429:
		return RetryableError(status, retryAfter, "rate_limited", err)
	case status >= 500:
		return RetryableError(status, retryAfter, "server_error", err)
	case status == 401:
		return PermanentError(status, fmt.Errorf("%w (credentials rejected; the app needs %s)", err, permission))
	case status == 403:
		return PermanentError(status, fmt.Errorf("%w (permission denied; grant %s)", err, permission))
	default:
		return PermanentError(status, err)
	}
}
