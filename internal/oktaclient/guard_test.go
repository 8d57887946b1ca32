package oktaclient

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
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
