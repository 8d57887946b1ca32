package googlefake_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"golang.org/x/oauth2"
	googleoauth "golang.org/x/oauth2/google"

	googlefake "github.com/resetbot/resetbot/internal/fake/google"
	"github.com/resetbot/resetbot/internal/provider/edge"
)

// The token endpoint behaves like Google's for delegated service accounts.
func TestTokenEndpoint(t *testing.T) {
	t.Parallel()
	other := googlefake.Start()
	t.Cleanup(other.Close)
	tests := []struct {
		name     string
		scopes   []string
		subject  string
		foreign  bool // sign with another fake's key
		wantCode string
		wantHTTP int
	}{
		{name: "exactly the delegated scopes", scopes: []string{googlefake.ScopeUserSecurity, googlefake.ScopeUserReadonly}, subject: "admin@example.com"},
		{name: "one delegated scope", scopes: []string{googlefake.ScopeUserSecurity}, subject: "admin@example.com"},
		{
			name:    "a scope beyond the delegation, like the SDK's default list",
			scopes:  []string{googlefake.ScopeUserSecurity, googlefake.ScopeUserReadonly, "https://www.googleapis.com/auth/cloud-platform"},
			subject: "admin@example.com", wantCode: "unauthorized_client", wantHTTP: 401,
		},
		{name: "unknown subject", scopes: []string{googlefake.ScopeUserSecurity}, subject: "ghost@example.com", wantCode: "invalid_grant", wantHTTP: 400},
		{name: "key the fake did not issue", scopes: []string{googlefake.ScopeUserSecurity}, subject: "admin@example.com", foreign: true, wantCode: "invalid_grant", wantHTTP: 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := googlefake.Start()
			t.Cleanup(srv.Close)
			srv.AddAdmin("admin@example.com")
			key := srv.CredentialsJSON()
			jc, err := googleoauth.JWTConfigFromJSON(key, tt.scopes...)
			if err != nil {
				t.Fatal(err)
			}
			if tt.foreign {
				fk, _ := googleoauth.JWTConfigFromJSON(other.CredentialsJSON())
				jc.PrivateKey = fk.PrivateKey
			}
			jc.Subject = tt.subject
			ctx := context.WithValue(t.Context(), oauth2.HTTPClient, edge.Client(srv.Roots()))
			tok, err := jc.TokenSource(ctx).Token()
			if tt.wantCode == "" {
				if err != nil || !strings.HasPrefix(tok.AccessToken, "ya29.") {
					t.Fatalf("Token = %v, %v; want an access token", tok, err)
				}
				return
			}
			var re *oauth2.RetrieveError
			if !errors.As(err, &re) || re.Response.StatusCode != tt.wantHTTP || !strings.Contains(string(re.Body), `"error":"`+tt.wantCode+`"`) {
				t.Fatalf("Token error = %v, want HTTP %d %s", err, tt.wantHTTP, tt.wantCode)
			}
			if n := srv.Count("token"); n != 1 {
				t.Errorf("token calls = %d, want 1", n)
			}
		})
	}
}
