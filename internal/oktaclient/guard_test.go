package oktaclient

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/okta/okta-sdk-golang/v2/okta"

	oktafake "github.com/resetbot/resetbot/internal/fake/okta"
	"github.com/resetbot/resetbot/internal/provider/edge"
)

// TestGuardReshapesTheTokenRequest sends the token request exactly as the SDK builds it
// (parameters in the URL, no context) and shows what reaches Okta and what the SDK gets back.
func TestGuardReshapesTheTokenRequest(t *testing.T) {
	t.Parallel()
	srv := oktafake.Start()
	t.Cleanup(srv.Close)
	keyPEM := srv.NewServiceApp("0oaguard")
	block, _ := pem.Decode(keyPEM)
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	pkcs1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key.(*rsa.PrivateKey))})
	signer, err := okta.CreateKeySigner(string(pkcs1), "")
	if err != nil {
		t.Fatal(err)
	}
	assertion, err := okta.CreateClientAssertion(srv.URL, "0oaguard", signer)
	if err != nil {
		t.Fatal(err)
	}
	q := url.Values{
		"grant_type":            {"client_credentials"},
		"scope":                 {ScopeUsersRead},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion":      {assertion},
	}
	req, err := http.NewRequest(http.MethodPost, srv.URL+tokenPath+"?"+q.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")

	client := &http.Client{Transport: &guard{next: edge.Transport(srv.Roots())}}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("token request: %v", err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if body.AccessToken == "" || body.ExpiresIn != 3300 {
		t.Errorf("token answer = %+v, want a token the SDK keeps for 3300 s of Okta's 3600", body)
	}
	if got := srv.AssertionsInURL(); got != 0 {
		t.Errorf("%d token requests carried the assertion in the URL", got)
	}
	if !strings.Contains(req.URL.RawQuery, "client_assertion") {
		t.Error("the guard modified the caller's request")
	}
}

func TestLifetime(t *testing.T) {
	t.Parallel()
	for seconds, want := range map[int]int{3600: 3300, 360: 60, 359: 179, 60: 30, 6: 3, 4: 3, 1: 3} {
		if got := lifetime(seconds); got != want {
			t.Errorf("lifetime(%d) = %d, want %d", seconds, got, want)
		}
	}
}

// answer is a transport that answers every request with its header.
type answer http.Header

func (a answer) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: http.StatusOK, Header: http.Header(a).Clone(), Body: http.NoBody, Request: r}, nil
}

func TestGuardReportsOnlyWindowsOktaSent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		remaining []string // X-Rate-Limit-Remaining, absent when nil
		reset     []string // X-Rate-Limit-Reset, absent when nil
		want      bool
	}{
		{name: "both headers", remaining: []string{"17"}, reset: []string{"1795000000"}, want: true},
		{name: "none left is reported", remaining: []string{"0"}, reset: []string{"1795000000"}, want: true},
		{name: "no remaining", reset: []string{"1795000000"}},
		{name: "no reset", remaining: []string{"17"}},
		{name: "remaining is not a number", remaining: []string{"plenty"}, reset: []string{"1795000000"}},
		{name: "remaining below zero", remaining: []string{"-1"}, reset: []string{"1795000000"}},
		{name: "reset as a date", remaining: []string{"17"}, reset: []string{"Sun, 29 Nov 2026 09:01:00 GMT"}},
		{name: "reset of zero", remaining: []string{"17"}, reset: []string{"0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := http.Header{}
			if tt.remaining != nil {
				h["X-Rate-Limit-Remaining"] = tt.remaining
			}
			if tt.reset != nil {
				h["X-Rate-Limit-Reset"] = tt.reset
			}
			var heard []string
			g := &guard{next: answer(h), observe: func(_ Bucket, w Window) {
				heard = append(heard, fmt.Sprintf("%d until %d", w.Remaining, w.Reset.Unix()))
			}}
			req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "https://example.okta.com/api/v1/users/00u1", nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := g.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			switch {
			case tt.want && (len(heard) != 1 || heard[0] != tt.remaining[0]+" until "+tt.reset[0]):
				t.Errorf("observer heard %v, want %s until %s", heard, tt.remaining[0], tt.reset[0])
			case !tt.want && len(heard) != 0:
				t.Errorf("observer heard %v from an answer without a readable window", heard)
			}
		})
	}
}

func TestBucketOf(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		method, path string
		want         Bucket
	}{
		{http.MethodPost, "/oauth2/v1/token", BucketToken},
		{http.MethodDelete, "/api/v1/users/00u1/sessions", BucketSessions},
		{http.MethodGet, "/api/v1/users/00u1", BucketDirectory},
		{http.MethodGet, "/api/v1/groups/00g1/users", BucketDirectory},
		{http.MethodGet, "/api/v1/meta/schemas/user/default", BucketMeta},
	} {
		req, err := http.NewRequestWithContext(t.Context(), tt.method, "https://example.okta.com"+tt.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := bucketOf(req); got != tt.want {
			t.Errorf("%s %s: bucket %q, want %q", tt.method, tt.path, got, tt.want)
		}
	}
}
