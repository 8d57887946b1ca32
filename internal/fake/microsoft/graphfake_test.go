package graphfake_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/resetbot/resetbot/internal/fake"
	graphfake "github.com/resetbot/resetbot/internal/fake/microsoft"
	"github.com/resetbot/resetbot/internal/provider/edge"
)

// call sends one request and decodes the JSON answer; the SDK-level behaviour is tested in
// internal/provider/microsoft, this pins the wire format other packages' demos rely on.
func call(t *testing.T, srv *graphfake.Server, method, path, token string, form url.Values) (int, map[string]any) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := edge.Client(srv.Roots()).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("%s %s: body is not JSON: %v", method, path, err)
	}
	return resp.StatusCode, out
}

func tokenForm(srv *graphfake.Server, secret string) url.Values {
	return url.Values{
		"grant_type": {"client_credentials"}, "client_id": {srv.ClientID()}, "client_secret": {secret},
		"scope": {"https://graph.microsoft.com/.default"},
	}
}

func graphCode(body map[string]any) string {
	e, _ := body["error"].(map[string]any)
	code, _ := e["code"].(string)
	return code
}

func TestWireFormat(t *testing.T) {
	t.Parallel()
	srv := graphfake.Start()
	t.Cleanup(srv.Close)
	srv.AddUser("alice@example.com")
	srv.AddUser("bob@example.com")
	tokenPath := "/" + srv.TenantID() + "/oauth2/v2.0/token"

	status, body := call(t, srv, "POST", tokenPath, "", tokenForm(srv, "wrong"))
	if status != http.StatusUnauthorized || body["error"] != "invalid_client" ||
		!strings.HasPrefix(body["error_description"].(string), "AADSTS7000215: ") {
		t.Errorf("wrong secret: %d %v", status, body)
	}

	status, body = call(t, srv, "POST", tokenPath, "", tokenForm(srv, srv.ClientSecret()))
	token, _ := body["access_token"].(string)
	if status != http.StatusOK || body["token_type"] != "Bearer" || body["expires_in"] != 3599.0 || token == "" {
		t.Fatalf("token: %d %v", status, body)
	}

	status, body = call(t, srv, "GET", "/v1.0/users/alice@example.com", "", nil)
	if status != http.StatusUnauthorized || graphCode(body) != "InvalidAuthenticationToken" {
		t.Errorf("no bearer: %d %v", status, body)
	}

	status, body = call(t, srv, "GET", "/v1.0/users/ALICE@example.com?$select=id,userPrincipalName", token, nil)
	if status != http.StatusOK || body["userPrincipalName"] != "alice@example.com" || body["id"] == "" || body["mail"] != nil {
		t.Errorf("lookup with $select: %d %v", status, body)
	}

	status, body = call(t, srv, "GET", "/v1.0/users?$top=1&$select=id", token, nil)
	if value, _ := body["value"].([]any); status != http.StatusOK || len(value) != 1 || body["@odata.nextLink"] == nil {
		t.Errorf("list one of two: %d %v", status, body)
	}

	status, body = call(t, srv, "POST", "/v1.0/users/carol@example.com/revokeSignInSessions", token, nil)
	if status != http.StatusNotFound || graphCode(body) != "Request_ResourceNotFound" {
		t.Errorf("revoke a stranger: %d %v", status, body)
	}

	srv.Fail(graphfake.OpRevoke, fake.Fault{Status: http.StatusTooManyRequests, Header: http.Header{"Retry-After": {"3"}}})
	status, body = call(t, srv, "POST", "/v1.0/users/alice@example.com/revokeSignInSessions", token, nil)
	if status != http.StatusTooManyRequests || graphCode(body) != "TooManyRequests" {
		t.Errorf("scripted 429: %d %v", status, body)
	}
	status, body = call(t, srv, "POST", "/v1.0/users/alice@example.com/revokeSignInSessions", token, nil)
	if status != http.StatusOK || body["value"] != true {
		t.Errorf("revoke: %d %v", status, body)
	}
	if got := srv.Revocations("alice@example.com"); got != 1 {
		t.Errorf("revocations = %d, want 1 (the 429 must not count)", got)
	}

	// A wrong URL must not look like a missing user.
	status, body = call(t, srv, "GET", "/v1.0/usrs/alice@example.com", token, nil)
	if status != http.StatusBadRequest || graphCode(body) != "BadRequest" {
		t.Errorf("unknown segment: %d %v", status, body)
	}
}
