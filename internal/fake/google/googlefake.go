// Package googlefake imitates the two Google services resetbot talks to: the OAuth token
// endpoint a service account exchanges a signed JWT at (domain-wide delegation), and the Admin
// SDK Directory API's users.get and users.signOut. It speaks their wire formats over real TLS so
// the real google.golang.org/api client and golang.org/x/oauth2 are what tests exercise.
//
// Like Google, it refuses a token whose requested scopes were not all delegated to the service
// account (401 unauthorized_client), refuses a subject that is not a user (400 invalid_grant),
// and answers 403 "Not Authorized to access this resource/api" when the impersonated user is not
// an admin.
package googlefake

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/resetbot/resetbot/internal/fake"
)

// The scopes resetbot needs, as Google spells them.
const (
	ScopeUserSecurity = "https://www.googleapis.com/auth/admin.directory.user.security"
	ScopeUserReadonly = "https://www.googleapis.com/auth/admin.directory.user.readonly"
	// scopeUser grants everything on users, reading and signing out included.
	scopeUser = "https://www.googleapis.com/auth/admin.directory.user"
)

const (
	jwtBearerGrant = "urn:ietf:params:oauth:grant-type:jwt-bearer"
	tokenLifetime  = 3599 * time.Second
	maxFormBytes   = 64 << 10
)

// Server is a fake Google: token endpoint at /token, Directory API under /admin/directory/v1/.
// Its operations, for faults and counts, are "token", "lookup" and "revoke".
type Server struct {
	*httptest.Server
	fake.Script

	key         *rsa.PrivateKey
	keyPEM      string
	keyID       string
	clientEmail string
	clientID    string

	mu        sync.Mutex
	users     map[string]*user // by lower-cased primary email
	delegated []string         // scopes the "admin console" granted the service account
	grants    map[string]grant // access token → what it allows
	signOuts  map[string]int   // by lower-cased primary email
}

type user struct {
	id      string
	primary string
	aliases []string
	admin   bool
}

type grant struct {
	subject string
	scopes  []string
	expiry  time.Time
}

// Start serves a fake Google over TLS with a freshly generated service-account key whose
// token_uri points at the fake, and delegates exactly the two scopes resetbot asks for.
func Start() *Server {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		// Only an invalid size fails, and there is no fake without a key.
		panic(fmt.Sprintf("googlefake: generate service-account key: %v", err))
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		panic(fmt.Sprintf("googlefake: encode service-account key: %v", err))
	}
	s := &Server{
		key:         key,
		keyPEM:      string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		keyID:       randomHex(20),
		clientEmail: "resetbot@resetbot-fake.iam.gserviceaccount.com",
		clientID:    "1" + strings.Repeat("0", 19) + "7",
		users:       map[string]*user{},
		delegated:   []string{ScopeUserSecurity, ScopeUserReadonly},
		grants:      map[string]grant{},
		signOuts:    map[string]int{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", s.token)
	mux.HandleFunc("GET /admin/directory/v1/users/{userKey}", s.lookup)
	mux.HandleFunc("POST /admin/directory/v1/users/{userKey}/signOut", s.revoke)
	s.Server = httptest.NewTLSServer(mux)
	return s
}

// Roots trusts the fake's TLS certificate, for edge.Client.
func (s *Server) Roots() *x509.CertPool { return fake.Roots(s.Server) }

// APIURL is the base to give the provider as GOOGLE_API_URL.
func (s *Server) APIURL() string { return s.URL + "/" }

// ClientID is the service account's OAuth client id, the one an admin authorises for
// domain-wide delegation.
func (s *Server) ClientID() string { return s.clientID }

// AddUser adds a Workspace user reachable by its primary email, any alias, or its id.
func (s *Server) AddUser(email string, aliases ...string) { s.add(email, false, aliases) }

// AddAdmin adds a super admin, whom the service account can impersonate.
func (s *Server) AddAdmin(email string) { s.add(email, true, nil) }

func (s *Server) add(email string, admin bool, aliases []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[strings.ToLower(email)] = &user{id: randomDigits(21), primary: email, aliases: aliases, admin: admin}
}

// Delegate replaces the scopes the service account was granted domain-wide delegation for;
// Start grants exactly ScopeUserSecurity and ScopeUserReadonly.
func (s *Server) Delegate(scopes ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delegated = append([]string(nil), scopes...)
}

// SignOuts counts the users.signOut calls that signed out the user with this primary email.
func (s *Server) SignOuts(email string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.signOuts[strings.ToLower(email)]
}

// CredentialsJSON is the service-account key file, as the Cloud console downloads it, with
// token_uri pointing at this fake.
func (s *Server) CredentialsJSON() []byte {
	b, _ := json.MarshalIndent(map[string]string{
		"type":                        "service_account",
		"project_id":                  "resetbot-fake",
		"private_key_id":              s.keyID,
		"private_key":                 s.keyPEM,
		"client_email":                s.clientEmail,
		"client_id":                   s.clientID,
		"auth_uri":                    "https://accounts.google.com/o/oauth2/auth",
		"token_uri":                   s.URL + "/token",
		"auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
		"client_x509_cert_url":        "https://www.googleapis.com/robot/v1/metadata/x509/" + s.clientEmail,
		"universe_domain":             "googleapis.com",
	}, "", "  ")
	return b
}

// token is Google's OAuth 2.0 token endpoint for the JWT bearer grant.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	// Read the form before any scripted delay: the server notices a client that gave up only
	// once the request body is consumed.
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	formErr := r.ParseForm()
	if !s.play(w, r, "token") {
		return
	}
	if formErr != nil {
		writeTokenError(w, http.StatusBadRequest, "invalid_request", "Could not parse the request body.")
		return
	}
	if gt := r.PostForm.Get("grant_type"); gt != jwtBearerGrant {
		writeTokenError(w, http.StatusBadRequest, "unsupported_grant_type", "Invalid grant_type: "+gt)
		return
	}
	claims, ok := s.verify(r.PostForm.Get("assertion"))
	if !ok {
		writeTokenError(w, http.StatusBadRequest, "invalid_grant", "Invalid JWT Signature.")
		return
	}
	now := time.Now()
	if claims.Aud != s.URL+"/token" || claims.Exp < now.Unix() || claims.Exp-claims.Iat > 3600 || claims.Iat > now.Add(5*time.Minute).Unix() {
		writeTokenError(w, http.StatusBadRequest, "invalid_grant",
			"Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.")
		return
	}
	requested := strings.Fields(claims.Scope)

	s.mu.Lock()
	defer s.mu.Unlock()
	if claims.Sub != "" && s.find(claims.Sub) == nil {
		writeTokenError(w, http.StatusBadRequest, "invalid_grant", "Invalid email or User ID")
		return
	}
	if len(requested) == 0 || slices.ContainsFunc(requested, func(sc string) bool { return !slices.Contains(s.delegated, sc) }) {
		writeTokenError(w, http.StatusUnauthorized, "unauthorized_client",
			"Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.")
		return
	}
	access := "ya29.fake-" + randomHex(24)
	s.grants[access] = grant{subject: claims.Sub, scopes: requested, expiry: now.Add(tokenLifetime)}
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": access,
		"expires_in":   int(tokenLifetime.Seconds()),
		"token_type":   "Bearer",
	})
}

type claimSet struct {
	Iss   string `json:"iss"`
	Scope string `json:"scope"`
	Aud   string `json:"aud"`
	Exp   int64  `json:"exp"`
	Iat   int64  `json:"iat"`
	Sub   string `json:"sub"`
}

// verify checks the assertion's RS256 signature against the generated key and its issuer.
func (s *Server) verify(assertion string) (claimSet, bool) {
	var c claimSet
	parts := strings.Split(assertion, ".")
	if len(parts) != 3 {
		return c, false
	}
	var header struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
	}
	if !decodeSegment(parts[0], &header) || header.Alg != "RS256" || (header.Kid != "" && header.Kid != s.keyID) {
		return c, false
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return c, false
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if rsa.VerifyPKCS1v15(&s.key.PublicKey, crypto.SHA256, sum[:], sig) != nil {
		return c, false
	}
	if !decodeSegment(parts[1], &c) || c.Iss != s.clientEmail {
		return c, false
	}
	return c, true
}

func decodeSegment(seg string, v any) bool {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	return err == nil && json.Unmarshal(b, v) == nil
}

// lookup is users.get: the user resource, trimmed to the fields the caller asked for.
func (s *Server) lookup(w http.ResponseWriter, r *http.Request) {
	if !s.play(w, r, "lookup") {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.authorize(w, r, ScopeUserReadonly, ScopeUserSecurity) {
		return
	}
	u := s.find(r.PathValue("userKey"))
	if u == nil {
		writeAPIError(w, http.StatusNotFound, "")
		return
	}
	res := map[string]any{
		"kind":         "admin#directory#user",
		"id":           u.id,
		"etag":         `"` + randomHex(8) + `"`,
		"primaryEmail": u.primary,
		"isAdmin":      u.admin,
		"suspended":    false,
		"archived":     false,
		"orgUnitPath":  "/",
	}
	if len(u.aliases) > 0 {
		res["aliases"] = u.aliases
	}
	writeJSON(w, http.StatusOK, partial(res, r.URL.Query().Get("fields")))
}

// revoke is users.signOut: every web and device session of the user ends; 204 and no body.
func (s *Server) revoke(w http.ResponseWriter, r *http.Request) {
	if !s.play(w, r, "revoke") {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.authorize(w, r, ScopeUserSecurity) {
		return
	}
	u := s.find(r.PathValue("userKey"))
	if u == nil {
		writeAPIError(w, http.StatusNotFound, "")
		return
	}
	s.signOuts[strings.ToLower(u.primary)]++
	w.WriteHeader(http.StatusNoContent)
}

// authorize answers like the Directory API when the bearer token is missing, unknown or
// expired (401), when the impersonated user is no admin (403 forbidden), or when the token
// lacks every scope in anyOf (403 insufficientPermissions). s.mu must be held.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request, anyOf ...string) bool {
	access, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	g, known := s.grants[access]
	if !ok || !known || time.Now().After(g.expiry) {
		writeAPIError(w, http.StatusUnauthorized, "")
		return false
	}
	if u := s.find(g.subject); u == nil || !u.admin {
		writeAPIError(w, http.StatusForbidden, "")
		return false
	}
	if !slices.ContainsFunc(g.scopes, func(sc string) bool { return sc == scopeUser || slices.Contains(anyOf, sc) }) {
		writeJSON(w, http.StatusForbidden, apiErrorBody(http.StatusForbidden, "Request had insufficient authentication scopes.",
			"insufficientPermissions", "PERMISSION_DENIED"))
		return false
	}
	return true
}

// find resolves a userKey the way the Directory API does: primary email or alias (any case),
// or the user's unique id. s.mu must be held.
func (s *Server) find(key string) *user {
	if u, ok := s.users[strings.ToLower(key)]; ok {
		return u
	}
	for _, u := range s.users {
		if u.id == key || slices.ContainsFunc(u.aliases, func(a string) bool { return strings.EqualFold(a, key) }) {
			return u
		}
	}
	return nil
}

// play records the call and applies the scripted fault, answering with Google's own error
// body; it reports whether the handler should go on serving.
func (s *Server) play(w http.ResponseWriter, r *http.Request, op string) bool {
	f, ok := s.Play(w, r, op)
	if !ok || f.Status == 0 {
		return ok
	}
	if op == "token" {
		code, desc := tokenErrorFor(f.Status)
		if f.Message != "" {
			desc = f.Message
		}
		writeTokenError(w, f.Status, code, desc)
		return false
	}
	writeAPIError(w, f.Status, f.Message)
	return false
}

// tokenErrorFor is what Google's token endpoint says with a given status.
func tokenErrorFor(status int) (code, desc string) {
	switch {
	case status == http.StatusUnauthorized:
		return "unauthorized_client", "Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested."
	case status == http.StatusTooManyRequests:
		return "rate_limit_exceeded", "Rate Limit Exceeded"
	case status >= 500:
		return "internal_failure", "Backend Error"
	default:
		return "invalid_grant", "Bad Request"
	}
}

func writeTokenError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

// writeAPIError writes the Directory API's JSON error for status, with message (or the one
// Google uses for that status).
func writeAPIError(w http.ResponseWriter, status int, message string) {
	msg, reason := "Bad Request", "badRequest"
	switch {
	case status == http.StatusNotFound:
		msg, reason = "Resource Not Found: userKey", "notFound"
	case status == http.StatusUnauthorized:
		msg, reason = "Invalid Credentials", "authError"
	case status == http.StatusForbidden:
		msg, reason = "Not Authorized to access this resource/api", "forbidden"
	case status == http.StatusTooManyRequests:
		msg, reason = "Rate Limit Exceeded", "rateLimitExceeded"
	case status == http.StatusServiceUnavailable:
		msg, reason = "The service is currently unavailable.", "backendError"
	case status >= 500:
		msg, reason = "Internal error encountered.", "backendError"
	}
	if message != "" {
		msg = message
	}
	writeJSON(w, status, apiErrorBody(status, msg, reason, ""))
}

func apiErrorBody(status int, msg, reason, grpcStatus string) map[string]any {
	body := map[string]any{
		"code":    status,
		"message": msg,
		"errors":  []map[string]string{{"message": msg, "domain": "global", "reason": reason}},
	}
	if grpcStatus != "" {
		body["status"] = grpcStatus
	}
	return map[string]any{"error": body}
}

// partial keeps the top-level fields named in a "fields" selector (the SDK's Fields option);
// nested selectors keep the whole top-level field.
func partial(res map[string]any, fields string) map[string]any {
	if fields == "" {
		return res
	}
	out := map[string]any{}
	for f := range strings.SplitSeq(fields, ",") {
		name, _, _ := strings.Cut(strings.TrimSpace(f), "/")
		name, _, _ = strings.Cut(name, "(")
		if v, ok := res[name]; ok {
			out[name] = v
		}
	}
	return out
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func randomDigits(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = '0' + b[i]%10
	}
	if b[0] == '0' {
		b[0] = '1'
	}
	return string(b)
}
