package oktaclient

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/okta/okta-sdk-golang/v2/okta"

	"github.com/resetbot/resetbot/internal/provider/edge"
	"github.com/resetbot/resetbot/internal/reset"
)

// Okta error codes resetbot tells apart (developer.okta.com/docs/reference/error-codes).
const (
	CodeForbidden    = "E0000006" // you do not have permission to perform the requested action
	CodeNotFound     = "E0000007" // resource not found
	CodeInvalidToken = "E0000011" // invalid token provided
	CodeRateLimited  = "E0000047" // API call exceeded rate limit
)

// APIError is an Okta answer the guard took from the SDK before it could retry it or reduce
// it to bare text: any 429, and any refusal of the token endpoint.
type APIError struct {
	Status int
	Header http.Header
	// Code is Okta's errorCode (E0000047) or, from the token endpoint, the OAuth error
	// (invalid_client).
	Code string
	// Summary is Okta's own words: errorSummary, or error_description from the token endpoint.
	Summary string
	// TokenRequest says the service app was refused an access token.
	TokenRequest bool
}

func (e *APIError) Error() string {
	msg := e.Summary
	if e.TokenRequest && e.Code != "" {
		msg = strings.TrimSuffix(e.Code+": "+msg, ": ")
	}
	if msg == "" {
		msg = fmt.Sprintf("HTTP %d %s", e.Status, http.StatusText(e.Status))
	}
	if e.TokenRequest {
		return "okta refused the service app an access token: " + msg
	}
	return msg
}

// Classify turns what an SDK call returned into an error reading "<what>: <Okta's own words>",
// classified with reset's helpers so callers and the executor can tell the cases apart:
//
//   - E0000007 (or a 404 carrying an Okta error) is no account: errors.Is(err, reset.ErrNoAccount);
//   - 429 is retryable after X-Rate-Limit-Reset (or Retry-After); 5xx is retryable after
//     Retry-After only, since Okta sends X-Rate-Limit-Reset on every answer;
//   - 401 and 403 are permanent and name permission, what the operator must grant;
//   - no answer at all (broken connection, deadline) is left for reset.Classify to read;
//   - anything else is permanent.
//
// The text never holds credentials: URLs are shown without their query, where the SDK puts the
// signed client assertion.
func Classify(what, permission string, resp *okta.Response, err error) error {
	if err == nil {
		return nil
	}
	var (
		status int
		header http.Header
		code   string
		msg    string
		cause  error = err
		token  bool
		ae     *APIError
		oe     *okta.Error
		ue     *url.Error
	)
	switch {
	case errors.As(err, &ae):
		status, header, code, msg, cause, token = ae.Status, ae.Header, ae.Code, ae.Error(), ae, ae.TokenRequest
	case errors.As(err, &oe):
		code, msg, cause = oe.ErrorCode, oktaMessage(oe), oe
		if resp != nil && resp.Response != nil {
			status, header = resp.StatusCode, resp.Header
		}
		if msg == "" {
			msg = fmt.Sprintf("HTTP %d %s", status, http.StatusText(status))
		}
	case errors.As(err, &ue):
		msg, cause = fmt.Sprintf("%s %s: %v", ue.Op, redact(ue.URL), ue.Err), ue.Err
	default:
		msg = err.Error()
	}
	if status == 0 {
		status = codeStatus(code)
	}
	e := &callError{msg: what + ": " + msg, cause: cause}

	now := time.Now()
	switch {
	case status == 0:
		return e
	case code == CodeNotFound:
		return reset.NoAccountError(e)
	case status == http.StatusNotFound && (token || code == ""):
		// Not Okta saying "no such user": a wrong org URL must not read as "no account".
		e.msg += " (the answer did not come from Okta's API: is OKTA_ORG_URL right?)"
		return reset.PermanentError(status, e)
	case status == http.StatusTooManyRequests:
		return reset.HTTPError(status, edge.RetryAfter(header, now), permission, e)
	case status >= 500:
		return reset.HTTPError(status, edge.RetryAfter(http.Header{"Retry-After": header.Values("Retry-After")}, now), permission, e)
	default:
		return reset.HTTPError(status, 0, permission, e)
	}
}

// codeStatus gives the status of an Okta error code, for errors that arrive without one.
func codeStatus(code string) int {
	switch code {
	case CodeForbidden:
		return http.StatusForbidden
	case CodeNotFound:
		return http.StatusNotFound
	case CodeInvalidToken:
		return http.StatusUnauthorized
	case CodeRateLimited:
		return http.StatusTooManyRequests
	default:
		return 0
	}
}

// callError is a failed Okta call in resetbot's words, unwrapping to what caused it so
// errors.As and reset.Classify still see Okta's error, a context's end or a network failure.
type callError struct {
	msg   string
	cause error
}

func (e *callError) Error() string { return e.msg }
func (e *callError) Unwrap() error { return e.cause }

// oktaMessage is Okta's own text, without the SDK's "the API returned an error" preamble.
func oktaMessage(oe *okta.Error) string {
	msg := oe.ErrorSummary
	if msg == "" {
		msg = strings.TrimSpace(strings.Trim(oe.ErrorMessage+": "+oe.ErrorDescription, ": "))
	}
	var causes []string
	for _, c := range oe.ErrorCauses {
		if s, ok := c["errorSummary"].(string); ok && s != "" {
			causes = append(causes, s)
		}
	}
	if len(causes) > 0 {
		msg += " (" + strings.Join(causes, "; ") + ")"
	}
	return msg
}

// redact drops a URL's query, fragment and user info, keeping where the call went.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment, u.User = "", false, "", "", nil
	return u.String()
}
