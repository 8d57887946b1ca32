package microsoft

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	azruntime "github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	abstractions "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"

	"github.com/resetbot/resetbot/internal/provider/edge"
	"github.com/resetbot/resetbot/internal/reset"
)

// op is one kind of Graph call: it decides the words an error starts with and the permission
// a 401 or 403 names.
type op int

const (
	opLookup op = iota
	opRevoke
	opCheck
)

func (o op) action(upn string) string {
	switch o {
	case opLookup:
		return "look up microsoft 365 account for " + upn
	case opRevoke:
		return "revoke microsoft 365 sessions for " + upn
	default:
		return "check microsoft 365"
	}
}

func (o op) permission() string {
	if o == opRevoke {
		return "the Microsoft Graph application permission User.RevokeSessions.All, with admin consent"
	}
	return "the Microsoft Graph application permission User.Read.All, with admin consent"
}

// classify turns what the SDKs returned into the executor's vocabulary. It is the only place
// that reads SDK errors:
//   - token service failures (*azidentity.AuthenticationFailedError) are never "no account":
//     429 and 5xx are retryable, anything else names the credential setting to fix;
//   - Graph errors (*odataerrors.ODataError) carry Graph's own code and message: 404 /
//     Request_ResourceNotFound is no account, 429 and 5xx retryable after Retry-After, 401 and
//     403 permanent naming the permission the call needs;
//   - anything else (a dropped connection, the context ending) keeps its cause for
//     reset.Classify.
func classify(ctx context.Context, o op, upn string, err error) error {
	if err == nil {
		return nil
	}
	action := o.action(upn)

	var authErr *azidentity.AuthenticationFailedError
	if errors.As(err, &authErr) {
		resp := authErr.RawResponse
		if resp == nil {
			msg := credentialMessage(authErr)
			switch {
			case ctx.Err() != nil:
				return fmt.Errorf("%s: getting a Microsoft Graph token: %s: %w", action, msg, ctx.Err())
			case strings.Contains(msg, "server response error"): // MSAL's words for a transport failure
				return reset.RetryableError(0, 0, "connection", fmt.Errorf("%s: getting a Microsoft Graph token: %s", action, msg))
			default:
				return reset.PermanentError(0, fmt.Errorf("%s: getting a Microsoft Graph token: %s (check AZURE_AUTHORITY_HOST and AZURE_TENANT_ID)", action, msg))
			}
		}
		code, codes, desc := tokenServiceError(resp)
		e := fmt.Errorf("%s: getting a Microsoft Graph token: %s", action, desc)
		switch {
		case resp.StatusCode == http.StatusTooManyRequests:
			return reset.RetryableError(resp.StatusCode, edge.RetryAfter(resp.Header, time.Now()), "rate_limited", e)
		case resp.StatusCode >= 500:
			return reset.RetryableError(resp.StatusCode, edge.RetryAfter(resp.Header, time.Now()), "server_error", e)
		}
		hint := "check AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET"
		switch {
		case code == "invalid_tenant" || slices.Contains(codes, 90002):
			hint = "check AZURE_TENANT_ID and AZURE_AUTHORITY_HOST"
		case code == "invalid_client":
			hint = "check AZURE_CLIENT_SECRET: it must be the secret's value, not its id, and not expired"
		case code == "unauthorized_client":
			hint = "check AZURE_CLIENT_ID: no such app is registered in tenant AZURE_TENANT_ID"
		case code == "":
			hint = "this is not an Entra ID token service answer: check AZURE_AUTHORITY_HOST"
		case code == "invalid_scope" || code == "invalid_resource":
			hint = "check MSGRAPH_API_URL: the token must be asked for the Graph resource's /.default scope"
		}
		return reset.PermanentError(resp.StatusCode, fmt.Errorf("%w (%s)", e, hint))
	}

	var (
		status int
		code   string
		text   string
		header http.Header
	)
	var odataErr *odataerrors.ODataError
	var apiErr *abstractions.ApiError
	switch {
	case errors.As(err, &odataErr):
		status, header = odataErr.ResponseStatusCode, httpHeader(odataErr.ResponseHeaders)
		code, text = graphError(odataErr)
	case errors.As(err, &apiErr):
		status, header, text = apiErr.ResponseStatusCode, httpHeader(apiErr.ResponseHeaders), apiErr.Error()
	default:
		return fmt.Errorf("%s: %w", action, err)
	}
	e := fmt.Errorf("%s: %s", action, text)
	switch {
	case o == opCheck && (status == http.StatusNotFound || code == "Request_ResourceNotFound"):
		return reset.PermanentError(status, fmt.Errorf("%w (check MSGRAPH_API_URL)", e))
	case code == "Request_ResourceNotFound":
		return reset.NoAccountError(e)
	}
	return reset.HTTPError(status, edge.RetryAfter(header, time.Now()), o.permission(), e)
}

// tokenServiceError reads the OAuth error Entra ID answered with: its code, its AADSTS numbers
// and its description without the trace and correlation ids. The secret is never in it.
func tokenServiceError(resp *http.Response) (code string, codes []int, desc string) {
	var body struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
		Codes       []int  `json:"error_codes"`
	}
	if raw, err := azruntime.Payload(resp); err == nil {
		_ = json.Unmarshal(raw, &body)
	}
	desc, _, _ = strings.Cut(body.Description, " Trace ID:")
	desc = strings.TrimSpace(desc)
	switch {
	case desc == "" && body.Error == "":
		desc = "HTTP " + resp.Status
	case desc == "":
		desc = body.Error
	case body.Error != "" && !strings.HasPrefix(desc, body.Error):
		desc = body.Error + ": " + desc
	}
	return body.Error, body.Codes, desc
}

// credentialMessage is azidentity's message for a failure without a response, on one line and
// without its troubleshooting link.
func credentialMessage(err *azidentity.AuthenticationFailedError) string {
	msg, _, _ := strings.Cut(err.Error(), "To troubleshoot, visit")
	return strings.Join(strings.Fields(msg), " ")
}

// graphError reads Graph's code and message; ODataError.Error would panic on a body without a
// message.
func graphError(e *odataerrors.ODataError) (code, text string) {
	var msg string
	if main := e.GetErrorEscaped(); main != nil {
		if c := main.GetCode(); c != nil {
			code = *c
		}
		if m := main.GetMessage(); m != nil {
			msg = *m
		}
	}
	switch {
	case code != "" && msg != "":
		return code, code + ": " + msg
	case msg != "":
		return code, msg
	case code != "":
		return code, code
	default:
		return code, fmt.Sprintf("HTTP %d %s", e.ResponseStatusCode, http.StatusText(e.ResponseStatusCode))
	}
}

func httpHeader(rh *abstractions.ResponseHeaders) http.Header {
	if rh == nil {
		return nil
	}
	h := http.Header{}
	for _, k := range rh.ListKeys() {
		for _, v := range rh.Get(k) {
			h.Add(k, v)
		}
	}
	return h
}
