// Package zoomfake imitates the parts of Zoom resetbot uses: the Server-to-Server OAuth token
// endpoint (grant_type=account_credentials) and the users API (get, list, revoke SSO token),
// with Zoom's own JSON bodies, error codes and rate-limit headers, over real TLS.
package zoomfake

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/resetbot/resetbot/internal/fake"
)

const (
	tokenLifetime = 3599 * time.Second
	grantedScopes = "user:write:admin user:read:admin"
	maxFormBytes  = 64 << 10
)

// Server is a fake Zoom: the token endpoint at /oauth/token and the API under /v2. Its
// operations, for faults and counts, are "token", "lookup", "revoke" and "list".
type Server struct {
	*httptest.Server
	fake.Script

	accountID    string
	clientID     string
	clientSecret string

	mu          sync.Mutex
	users       map[string]user      // by lower-cased email
	tokens      map[string]time.Time // access token → expiry
	revocations map[string]int       // by lower-cased email
}

type user struct {
	id    string
	email string
}

// Start serves a fake Zoom over TLS with freshly made app credentials.
func Start() *Server {
	s := &Server{
		accountID:    "acct" + randomHex(8),
		clientID:     "client" + randomHex(8),
		clientSecret: "secret" + randomHex(16),
		users:        map[string]user{},
		tokens:       map[string]time.Time{},
		revocations:  map[string]int{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /oauth/token", s.token)
	mux.HandleFunc("GET /v2/users", s.list)
	mux.HandleFunc("GET /v2/users/{userId}", s.lookup)
	mux.HandleFunc("DELETE /v2/users/{userId}/token", s.revoke)
	s.Server = httptest.NewTLSServer(mux)
	return s
}

// Roots trusts the fake's TLS certificate, for edge.Client.
func (s *Server) Roots() *x509.CertPool { return fake.Roots(s.Server) }

// APIURL is the REST base to configure as ZOOM_API_URL.
func (s *Server) APIURL() string { return s.URL + "/v2" }

// OAuthURL is the token endpoint to configure as ZOOM_OAUTH_URL.
func (s *Server) OAuthURL() string { return s.URL + "/oauth/token" }

// AccountID, ClientID and ClientSecret are the app credentials the fake accepts.
func (s *Server) AccountID() string    { return s.accountID }
func (s *Server) ClientID() string     { return s.clientID }
func (s *Server) ClientSecret() string { return s.clientSecret }

// AddUser adds a Zoom user, found by email (any case) or by id.
func (s *Server) AddUser(email string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[strings.ToLower(email)] = user{id: randomID(), email: email}
}

// Revocations counts the SSO-token revocations that reached the user with this email.
func (s *Server) Revocations(email string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.revocations[strings.ToLower(email)]
}

// token is Zoom's OAuth endpoint for Server-to-Server apps: Basic auth with the client id and
// secret, grant_type=account_credentials and the account_id, in the body or the query.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	// Read the form before any scripted delay: the server notices a client that gave up only
	// once the request body is consumed.
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	formErr := r.ParseForm()
	if !s.play(w, r, "token") {
		return
	}
	if formErr != nil {
		writeTokenError(w, http.StatusBadRequest, "invalid_request", "Invalid request")
		return
	}
	id, secret, ok := r.BasicAuth()
	if !ok || id != s.clientID || secret != s.clientSecret {
		writeTokenError(w, http.StatusUnauthorized, "invalid_client", "Invalid client_id or client_secret")
		return
	}
	if gt := r.Form.Get("grant_type"); gt != "account_credentials" {
		writeTokenError(w, http.StatusBadRequest, "unsupported_grant_type", "unsupported grant type")
		return
	}
	if r.Form.Get("account_id") != s.accountID {
		writeTokenError(w, http.StatusBadRequest, "invalid_request", "Invalid account_id")
		return
	}
	access := "eyJzdiI6IjAwMDAwMSJ9.fake-" + randomHex(24)
	s.mu.Lock()
	s.tokens[access] = time.Now().Add(tokenLifetime)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": access,
		"token_type":   "bearer",
		"expires_in":   int(tokenLifetime.Seconds()),
		"scope":        grantedScopes,
		"api_url":      "https://api.zoom.us",
	})
}

// lookup is GET /users/{userId}.
func (s *Server) lookup(w http.ResponseWriter, r *http.Request) {
	if !s.play(w, r, "lookup") {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.authorized(w, r) {
		return
	}
	u, ok := s.find(r.PathValue("userId"))
	if !ok {
		writeAPIError(w, http.StatusNotFound, 1001, "User does not exist: "+r.PathValue("userId"))
		return
	}
	writeJSON(w, http.StatusOK, s.resource(u))
}

// revoke is DELETE /users/{userId}/token: 204 and no body.
func (s *Server) revoke(w http.ResponseWriter, r *http.Request) {
	if !s.play(w, r, "revoke") {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.authorized(w, r) {
		return
	}
	u, ok := s.find(r.PathValue("userId"))
	if !ok {
		writeAPIError(w, http.StatusNotFound, 1001, "User does not exist: "+r.PathValue("userId"))
		return
	}
	s.revocations[strings.ToLower(u.email)]++
	w.WriteHeader(http.StatusNoContent)
}

// list is GET /users, one page.
func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	if !s.play(w, r, "list") {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.authorized(w, r) {
		return
	}
	size := 30
	if n, err := strconv.Atoi(r.URL.Query().Get("page_size")); err == nil && n > 0 && n <= 300 {
		size = n
	}
	users := []map[string]any{}
	for _, u := range s.users {
		if len(users) == size {
			break
		}
		users = append(users, s.resource(u))
	}
	pages := (len(s.users) + size - 1) / size
	writeJSON(w, http.StatusOK, map[string]any{
		"next_page_token": "",
		"page_count":      max(pages, 1),
		"page_number":     1,
		"page_size":       size,
		"total_records":   len(s.users),
		"users":           users,
	})
}

// authorized answers 401 with code 124 like Zoom when the bearer token is missing, unknown
// or expired. s.mu must be held.
func (s *Server) authorized(w http.ResponseWriter, r *http.Request) bool {
	access, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	exp, known := s.tokens[access]
	if !ok || !known || time.Now().After(exp) {
		writeAPIError(w, http.StatusUnauthorized, 124, "Invalid access token.")
		return false
	}
	return true
}

// find resolves a userId as Zoom does: an email (any case) or the user's id. s.mu must be
// held.
func (s *Server) find(id string) (user, bool) {
	if u, ok := s.users[strings.ToLower(id)]; ok {
		return u, true
	}
	for _, u := range s.users {
		if u.id == id {
			return u, true
		}
	}
	return user{}, false
}

func (s *Server) resource(u user) map[string]any {
	first, _, _ := strings.Cut(u.email, "@")
	return map[string]any{
		"id":           u.id,
		"first_name":   first,
		"last_name":    "",
		"display_name": first,
		"email":        u.email,
		"type":         2,
		"role_name":    "Member",
		"status":       "active",
		"account_id":   s.accountID,
		"timezone":     "UTC",
		"verified":     1,
		"created_at":   "2024-01-01T00:00:00Z",
	}
}

// play records the call and applies the scripted fault with Zoom's own body; it reports
// whether the handler should go on serving.
func (s *Server) play(w http.ResponseWriter, r *http.Request, op string) bool {
	f, ok := s.Play(w, r, op)
	if !ok || f.Status == 0 {
		return ok
	}
	if op == "token" {
		code, reason := "invalid_request", "Bad Request"
		switch {
		case f.Status == http.StatusUnauthorized:
			code, reason = "invalid_client", "Invalid client_id or client_secret"
		case f.Status == http.StatusTooManyRequests:
			code, reason = "too_many_requests", "Too many requests. Please try again later."
		case f.Status >= 500:
			code, reason = "server_error", "Internal Server Error"
		}
		if f.Message != "" {
			reason = f.Message
		}
		writeTokenError(w, f.Status, code, reason)
		return false
	}
	code, msg := f.Status, "Bad Request"
	switch {
	case f.Status == http.StatusNotFound:
		code, msg = 1001, "User does not exist: "+r.PathValue("userId")
	case f.Status == http.StatusUnauthorized:
		code, msg = 124, "Invalid access token."
	case f.Status == http.StatusForbidden:
		scope := "user:write:admin"
		if op != "revoke" {
			scope = "user:read:admin"
		}
		code, msg = 4711, "Invalid access token, does not contain scopes:["+scope+"]."
	case f.Status == http.StatusTooManyRequests:
		msg = "You have reached the maximum per-second rate limit for this API. Try again later."
		if w.Header().Get("X-RateLimit-Type") == "" {
			w.Header().Set("X-RateLimit-Category", "Light")
			w.Header().Set("X-RateLimit-Type", "QPS")
			w.Header().Set("X-RateLimit-Limit", "80")
			w.Header().Set("X-RateLimit-Remaining", "0")
		}
	case f.Status >= 500:
		msg = "Internal Server Error"
	}
	if f.Message != "" {
		msg = f.Message
	}
	writeAPIError(w, f.Status, code, msg)
	return false
}

func writeAPIError(w http.ResponseWriter, status, code int, msg string) {
	writeJSON(w, status, map[string]any{"code": code, "message": msg})
}

// writeTokenError is Zoom's OAuth error: it says why in "reason".
func writeTokenError(w http.ResponseWriter, status int, code, reason string) {
	writeJSON(w, status, map[string]string{"reason": reason, "error": code})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// randomID looks like Zoom's 22-character user ids.
func randomID() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"
	b := make([]byte, 22)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[b[i]%byte(len(alphabet))]
	}
	return string(b)
}
