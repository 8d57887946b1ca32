// Package graphfake imitates the two Microsoft services resetbot talks to for Microsoft 365:
// the Entra ID (Azure AD) v2.0 token service an app uses for the client-credential flow, and
// the slice of Microsoft Graph v1.0 that looks users up and revokes their sign-in sessions. One
// HTTPS server serves both, on different paths, so the real azidentity/MSAL and the Graph SDK's
// request adapter run against it unchanged: AuthorityHost() is what AZURE_AUTHORITY_HOST points at, GraphURL()
// what MSGRAPH_API_URL points at.
//
// It imports neither of those SDKs: it speaks HTTP and JSON only, so packages that use it in
// their tests do not pay for compiling them.
package graphfake

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/resetbot/resetbot/internal/fake"
)

// Default credentials of a fresh server; SetCredentials changes them.
const (
	DefaultTenantID     = "5f0a9c2e-7d41-4b8e-9a63-2c1d8e4f7b90"
	DefaultClientID     = "b7e3d1a4-26c9-4f85-8e0b-91a2c3d4e5f6"
	DefaultClientSecret = "fake~Qx8.graph-secret-9Zr2"
)

// GraphResource is the resource the token service issues Graph tokens for: a client-credential
// request must ask for GraphResource + "/.default", whatever host Graph is reached at.
const GraphResource = "https://graph.microsoft.com"

// Operation names recorded in the Script and accepted by Fail.
const (
	OpOpenID = "openid" // GET /{tenant}/v2.0/.well-known/openid-configuration
	OpToken  = "token"  // POST /{tenant}/oauth2/v2.0/token
	OpLookup = "lookup" // GET /v1.0/users/{id}
	OpRevoke = "revoke" // POST /v1.0/users/{id}/revokeSignInSessions
	OpList   = "list"   // GET /v1.0/users
)

// Server is a running fake of Entra ID and Microsoft Graph.
type Server struct {
	*httptest.Server
	fake.Script

	mu           sync.Mutex
	tenantID     string
	clientID     string
	clientSecret string
	users        []*user // in creation order, which is the order GET /users lists them in
	tokens       map[string]bool
}

type user struct {
	id, upn     string
	mail        string   // the primary address; the UPN when none was given
	proxies     []string // proxyAddresses, "SMTP:primary" and "smtp:alias"
	revocations int
}

// Start starts a TLS server with the default credentials and no users.
func Start() *Server {
	s := &Server{
		tenantID:     DefaultTenantID,
		clientID:     DefaultClientID,
		clientSecret: DefaultClientSecret,
		tokens:       map[string]bool{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{tenant}/v2.0/.well-known/openid-configuration", s.openIDConfiguration)
	mux.HandleFunc("POST /{tenant}/oauth2/v2.0/token", s.token)
	mux.HandleFunc("GET /v1.0/users", s.listUsers)
	mux.HandleFunc("GET /v1.0/users/{id}", s.getUser)
	mux.HandleFunc("POST /v1.0/users/{id}/revokeSignInSessions", s.revokeSignInSessions)
	mux.HandleFunc("/", s.unknownSegment)
	s.Server = httptest.NewTLSServer(mux)
	return s
}

// Roots trusts the server's certificate, for edge.Client.
func (s *Server) Roots() *x509.CertPool { return fake.Roots(s.Server) }

// AuthorityHost is the value for AZURE_AUTHORITY_HOST.
func (s *Server) AuthorityHost() string { return s.URL + "/" }

// GraphURL is the value for MSGRAPH_API_URL.
func (s *Server) GraphURL() string { return s.URL + "/v1.0" }

// TenantID is the tenant the token service knows.
func (s *Server) TenantID() string { s.mu.Lock(); defer s.mu.Unlock(); return s.tenantID }

// ClientID is the registered app's client id.
func (s *Server) ClientID() string { s.mu.Lock(); defer s.mu.Unlock(); return s.clientID }

// ClientSecret is the registered app's client secret.
func (s *Server) ClientSecret() string { s.mu.Lock(); defer s.mu.Unlock(); return s.clientSecret }

// SetCredentials replaces the tenant and the registered app, e.g. to rotate a secret. Tokens
// issued before stay valid, as they do in Entra ID until they expire.
func (s *Server) SetCredentials(tenantID, clientID, clientSecret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tenantID, s.clientID, s.clientSecret = tenantID, clientID, clientSecret
}

// AddUser seeds a member with the given user principal name and returns its object id. Adding
// an existing UPN (case-insensitively, as Graph compares them) returns the existing id.
func (s *Server) AddUser(upn string) string {
	return s.AddMailbox(upn, "")
}

// AddMailbox seeds a member whose mail is mail (the UPN when empty) and whose proxy addresses
// are mail and aliases: a person renamed, or on a second domain, found by an address that is not
// their UPN. It returns the object id; an existing UPN returns the existing id unchanged.
func (s *Server) AddMailbox(upn, mail string, aliases ...string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.find(upn); u != nil {
		return u.id
	}
	if mail == "" {
		mail = upn
	}
	u := &user{id: newGUID(), upn: upn, mail: mail, proxies: []string{"SMTP:" + mail}}
	for _, a := range aliases {
		u.proxies = append(u.proxies, "smtp:"+a)
	}
	s.users = append(s.users, u)
	return u.id
}

// Revocations reports how many times the sessions of upn were revoked successfully.
func (s *Server) Revocations(upn string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.find(upn); u != nil {
		return u.revocations
	}
	return 0
}

// find looks a user up by object id or UPN; callers hold mu.
func (s *Server) find(key string) *user {
	for _, u := range s.users {
		if strings.EqualFold(u.upn, key) || strings.EqualFold(u.id, key) {
			return u
		}
	}
	return nil
}

// begin records the call, waits the programmed latency and answers a programmed fault in the
// system's own error shape. It reports whether the handler should serve the call.
func (s *Server) begin(w http.ResponseWriter, r *http.Request, op string) bool {
	f, ok := s.Play(w, r, op)
	if !ok || f.Status == 0 {
		return ok
	}
	switch op {
	case OpOpenID, OpToken:
		code, aadsts, msg := aadFault(f.Status)
		if f.Message != "" {
			msg = f.Message
		}
		s.aadError(w, f.Status, code, aadsts, msg)
	default:
		code, msg := graphFault(f.Status, r.PathValue("id"))
		if f.Message != "" {
			msg = f.Message
		}
		graphError(w, r, f.Status, code, msg)
	}
	return false
}

// openIDConfiguration answers tenant discovery, which MSAL reads to find the token endpoint
// and checks the issuer of against the authority it was given.
func (s *Server) openIDConfiguration(w http.ResponseWriter, r *http.Request) {
	if !s.begin(w, r, OpOpenID) {
		return
	}
	tenant := r.PathValue("tenant")
	if !strings.EqualFold(tenant, s.TenantID()) {
		s.aadError(w, http.StatusBadRequest, "invalid_tenant", 90002, tenantNotFound(tenant))
		return
	}
	base := s.URL + "/" + tenant
	writeJSON(w, http.StatusOK, "application/json; charset=utf-8", map[string]any{
		"token_endpoint":                        base + "/oauth2/v2.0/token",
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
		"jwks_uri":                              base + "/discovery/v2.0/keys",
		"response_modes_supported":              []string{"query", "fragment", "form_post"},
		"subject_types_supported":               []string{"pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
		"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
		"issuer":                                base + "/v2.0",
		"request_uri_parameter_supported":       false,
		"userinfo_endpoint":                     s.URL + "/oidc/userinfo",
		"authorization_endpoint":                base + "/oauth2/v2.0/authorize",
		"device_authorization_endpoint":         base + "/oauth2/v2.0/devicecode",
		"http_logout_supported":                 true,
		"frontchannel_logout_supported":         true,
		"end_session_endpoint":                  base + "/oauth2/v2.0/logout",
		"tenant_region_scope":                   "EU",
		"cloud_instance_name":                   "microsoftonline.com",
		"cloud_graph_host_name":                 "graph.windows.net",
		"msgraph_host":                          "graph.microsoft.com",
		"rbac_url":                              "https://pas.windows.net",
	})
}

// token is the v2.0 token endpoint for the client-credential grant with a client secret.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if !s.begin(w, r, OpToken) {
		return
	}
	if err := r.ParseForm(); err != nil {
		s.aadError(w, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'.")
		return
	}
	clientID, secret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	if id, pw, ok := r.BasicAuth(); ok {
		clientID, secret = id, pw
	}
	s.mu.Lock()
	tenantID, wantID, wantSecret := s.tenantID, s.clientID, s.clientSecret
	s.mu.Unlock()
	tenant := r.PathValue("tenant")
	grant := r.PostForm.Get("grant_type")
	switch {
	case !strings.EqualFold(tenant, tenantID):
		s.aadError(w, http.StatusBadRequest, "invalid_request", 90002, tenantNotFound(tenant))
	case grant != "client_credentials":
		s.aadError(w, http.StatusBadRequest, "unsupported_grant_type", 70003, fmt.Sprintf("The app requested an unsupported grant type '%s'.", grant))
	case clientID != wantID:
		s.aadError(w, http.StatusBadRequest, "unauthorized_client", 700016, fmt.Sprintf(
			"Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.",
			clientID, tenantID))
	case secret != wantSecret:
		s.aadError(w, http.StatusUnauthorized, "invalid_client", 7000215, fmt.Sprintf(
			"Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'.",
			clientID))
	default:
		if code, aadsts, msg := checkScope(r.PostForm.Get("scope"), tenantID); code != "" {
			s.aadError(w, http.StatusBadRequest, code, aadsts, msg)
			return
		}
		tok := "eyJ0eXAiOiJKV1QifQ." + rand.Text() + "." + rand.Text()
		s.mu.Lock()
		s.tokens[tok] = true
		s.mu.Unlock()
		w.Header().Set("Cache-Control", "no-store, no-cache")
		writeJSON(w, http.StatusOK, "application/json; charset=utf-8", map[string]any{
			"token_type":     "Bearer",
			"expires_in":     3599,
			"ext_expires_in": 3599,
			"access_token":   tok,
		})
	}
}

// checkScope accepts what a client-credential request may ask for: the Graph resource's
// .default, optionally with the OIDC scopes MSAL may add. It returns the AAD error otherwise.
func checkScope(scope, tenantID string) (code string, aadsts int, msg string) {
	graph := false
	for _, sc := range strings.Fields(scope) {
		switch {
		case sc == "openid" || sc == "profile" || sc == "offline_access":
		case !strings.HasSuffix(sc, "/.default"):
			return "invalid_scope", 1002012, fmt.Sprintf("The provided value for scope %s is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).", sc)
		case strings.EqualFold(strings.TrimSuffix(sc, "/.default"), GraphResource):
			graph = true
		default:
			return "invalid_resource", 500011, fmt.Sprintf("The resource principal named %s was not found in the tenant named %s. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.", strings.TrimSuffix(sc, "/.default"), tenantID)
		}
	}
	if !graph {
		return "invalid_request", 900144, "The request body must contain the following parameter: 'scope'."
	}
	return "", 0, ""
}

// authorized checks the bearer token as Graph does, answering 401 when it is not one this
// fake issued.
func (s *Server) authorized(w http.ResponseWriter, r *http.Request) bool {
	auth := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok || tok == "" {
		graphError(w, r, http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token is empty.")
		return false
	}
	s.mu.Lock()
	valid := s.tokens[tok]
	s.mu.Unlock()
	if !valid {
		graphError(w, r, http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token validation failure. Invalid audience.")
		return false
	}
	return true
}

// userFields are the properties the fake can return; the first block is Graph's default set.
var userFields = []string{"businessPhones", "displayName", "givenName", "jobTitle", "mail",
	"mobilePhone", "officeLocation", "preferredLanguage", "surname", "userPrincipalName", "id"}

// getUser is GET /users/{id | userPrincipalName}.
func (s *Server) getUser(w http.ResponseWriter, r *http.Request) {
	if !s.begin(w, r, OpLookup) || !s.authorized(w, r) {
		return
	}
	fields, ok := selected(w, r)
	if !ok {
		return
	}
	key := r.PathValue("id")
	s.mu.Lock()
	u := s.find(key)
	var body map[string]any
	if u != nil {
		body = u.json(fields)
	}
	s.mu.Unlock()
	if u == nil {
		graphError(w, r, http.StatusNotFound, "Request_ResourceNotFound", notFound(key))
		return
	}
	body["@odata.context"] = s.URL + "/v1.0/$metadata#users" + selectSuffix(r) + "/$entity"
	writeJSON(w, http.StatusOK, odataJSON, body)
}

// listUsers is GET /users with $top, $select and the $skiptoken of its own nextLink.
func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) {
	if !s.begin(w, r, OpList) || !s.authorized(w, r) {
		return
	}
	fields, ok := selected(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	top := 100
	if v := q.Get("$top"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 999 {
			graphError(w, r, http.StatusBadRequest, "Request_UnsupportedQuery", "Invalid page size specified: '"+v+"'. Must be between 1 and 999 inclusive.")
			return
		}
		top = n
	}
	skip, _ := strconv.Atoi(q.Get("$skiptoken"))
	match := func(*user) bool { return true }
	if f, ok := q["$filter"]; ok {
		if match, ok = addressFilter(f[0]); !ok {
			graphError(w, r, http.StatusBadRequest, "Request_UnsupportedQuery", "Unsupported or invalid query filter clause specified for property 'mail' of resource 'User'.")
			return
		}
	}
	s.mu.Lock()
	var users []*user
	for _, u := range s.users {
		if match(u) {
			users = append(users, u)
		}
	}
	all := len(users)
	value := []map[string]any{}
	for i := max(skip, 0); i < all && len(value) < top; i++ {
		value = append(value, users[i].json(fields))
	}
	s.mu.Unlock()
	body := map[string]any{
		"@odata.context": s.URL + "/v1.0/$metadata#users" + selectSuffix(r),
		"value":          value,
	}
	if next := max(skip, 0) + len(value); next < all {
		q.Set("$skiptoken", strconv.Itoa(next))
		body["@odata.nextLink"] = s.URL + "/v1.0/users?" + q.Encode()
	}
	writeJSON(w, http.StatusOK, odataJSON, body)
}

// revokeSignInSessions is POST /users/{id}/revokeSignInSessions.
func (s *Server) revokeSignInSessions(w http.ResponseWriter, r *http.Request) {
	if !s.begin(w, r, OpRevoke) || !s.authorized(w, r) {
		return
	}
	key := r.PathValue("id")
	s.mu.Lock()
	u := s.find(key)
	if u != nil {
		u.revocations++
	}
	s.mu.Unlock()
	if u == nil {
		graphError(w, r, http.StatusNotFound, "Request_ResourceNotFound", notFound(key))
		return
	}
	writeJSON(w, http.StatusOK, odataJSON, map[string]any{
		"@odata.context": s.URL + "/v1.0/$metadata#Edm.Boolean",
		"value":          true,
	})
}

// unknownSegment answers paths the fake does not serve the way Graph does: 400, never 404, so
// a wrong URL is not mistaken for a missing user.
func (s *Server) unknownSegment(w http.ResponseWriter, r *http.Request) {
	seg := r.URL.Path
	if i := strings.LastIndex(seg, "/"); i >= 0 {
		seg = seg[i+1:]
	}
	graphError(w, r, http.StatusBadRequest, "BadRequest", fmt.Sprintf("Resource not found for the segment '%s'.", seg))
}

// addressFilter reads the one $filter resetbot sends, `mail eq 'a' or
// proxyAddresses/any(x:x eq 'smtp:a')`, string literals with ” for a quote, and gives the
// users it matches: Graph compares both case-insensitively, and the smtp: prefix of a proxy
// address in any case. Any other filter is refused, as Graph refuses what it does not support.
func addressFilter(f string) (func(*user) bool, bool) {
	left, right, ok := strings.Cut(f, " or ")
	if !ok {
		return nil, false
	}
	mail, ok := strings.CutPrefix(left, "mail eq ")
	if !ok {
		return nil, false
	}
	mail, ok = literal(mail)
	if !ok {
		return nil, false
	}
	inner, ok := strings.CutPrefix(right, "proxyAddresses/any(")
	if !ok || !strings.HasSuffix(inner, ")") {
		return nil, false
	}
	v, expr, ok := strings.Cut(strings.TrimSuffix(inner, ")"), ":")
	if !ok {
		return nil, false
	}
	proxy, ok := strings.CutPrefix(expr, v+" eq ")
	if !ok {
		return nil, false
	}
	if proxy, ok = literal(proxy); !ok {
		return nil, false
	}
	return func(u *user) bool {
		if strings.EqualFold(u.mail, mail) {
			return true
		}
		return slices.ContainsFunc(u.proxies, func(p string) bool { return strings.EqualFold(p, proxy) })
	}, true
}

// literal reads an OData string literal: quoted, with ” for each quote inside.
func literal(s string) (string, bool) {
	if len(s) < 2 || s[0] != '\'' || s[len(s)-1] != '\'' {
		return "", false
	}
	inner := s[1 : len(s)-1]
	if strings.Count(inner, "'")%2 != 0 || strings.Contains(strings.ReplaceAll(inner, "''", ""), "'") {
		return "", false
	}
	return strings.ReplaceAll(inner, "''", "'"), true
}

func (u *user) json(fields []string) map[string]any {
	all := map[string]any{
		"businessPhones": []string{}, "displayName": displayName(u.upn), "givenName": nil,
		"jobTitle": nil, "mail": u.mail, "mobilePhone": nil, "officeLocation": nil,
		"preferredLanguage": nil, "surname": nil, "userPrincipalName": u.upn, "id": u.id,
	}
	out := make(map[string]any, len(fields))
	for _, f := range fields {
		out[f] = all[f]
	}
	return out
}

// selected reads $select, answering 400 as Graph does for a property users do not have.
func selected(w http.ResponseWriter, r *http.Request) ([]string, bool) {
	v := r.URL.Query().Get("$select")
	if v == "" {
		return userFields, true
	}
	var fields []string
	for f := range strings.SplitSeq(v, ",") {
		f = strings.TrimSpace(f)
		i := slices.IndexFunc(userFields, func(k string) bool { return strings.EqualFold(k, f) })
		if i < 0 {
			graphError(w, r, http.StatusBadRequest, "BadRequest", fmt.Sprintf("Could not find a property named '%s' on type 'microsoft.graph.user'.", f))
			return nil, false
		}
		fields = append(fields, userFields[i])
	}
	return fields, true
}

func selectSuffix(r *http.Request) string {
	if v := r.URL.Query().Get("$select"); v != "" {
		return "(" + v + ")"
	}
	return ""
}

func displayName(upn string) string {
	name, _, _ := strings.Cut(upn, "@")
	return name
}

const odataJSON = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"

// graphError writes Graph's error body, with the request ids Graph puts in headers and body.
func graphError(w http.ResponseWriter, r *http.Request, status int, code, message string) {
	reqID := newGUID()
	clientReqID := r.Header.Get("client-request-id")
	if clientReqID == "" {
		clientReqID = reqID
	}
	w.Header().Set("request-id", reqID)
	w.Header().Set("client-request-id", clientReqID)
	writeJSON(w, status, "application/json", map[string]any{
		"error": map[string]any{
			"code":    code,
			"message": message,
			"innerError": map[string]any{
				"date":              time.Now().UTC().Format("2006-01-02T15:04:05"),
				"request-id":        reqID,
				"client-request-id": clientReqID,
			},
		},
	})
}

// aadError writes the token service's OAuth error body.
func (s *Server) aadError(w http.ResponseWriter, status int, code string, aadsts int, message string) {
	traceID, corrID := newGUID(), newGUID()
	now := time.Now().UTC()
	writeJSON(w, status, "application/json; charset=utf-8", map[string]any{
		"error": code,
		"error_description": fmt.Sprintf("AADSTS%d: %s Trace ID: %s Correlation ID: %s Timestamp: %s",
			aadsts, message, traceID, corrID, now.Format("2006-01-02 15:04:05Z")),
		"error_codes":    []int{aadsts},
		"timestamp":      now.Format("2006-01-02 15:04:05Z"),
		"trace_id":       traceID,
		"correlation_id": corrID,
		"error_uri":      s.URL + "/error?code=" + url.QueryEscape(strconv.Itoa(aadsts)),
	})
}

// graphFault is Graph's code and message for a programmed status.
func graphFault(status int, id string) (code, message string) {
	switch {
	case status == http.StatusBadRequest:
		return "BadRequest", "Invalid request."
	case status == http.StatusUnauthorized:
		return "InvalidAuthenticationToken", "Access token validation failure. Invalid audience."
	case status == http.StatusForbidden:
		return "Authorization_RequestDenied", "Insufficient privileges to complete the operation."
	case status == http.StatusNotFound:
		return "Request_ResourceNotFound", notFound(id)
	case status == http.StatusTooManyRequests:
		return "TooManyRequests", "Please retry again later."
	case status == http.StatusServiceUnavailable:
		return "serviceNotAvailable", "The service is not available. Try the request again after a delay. There may be a Retry-After header."
	case status == http.StatusInternalServerError:
		return "generalException", "An unspecified error has occurred."
	default:
		return "UnknownError", http.StatusText(status)
	}
}

// aadFault is the token service's error for a programmed status.
func aadFault(status int) (code string, aadsts int, message string) {
	switch {
	case status == http.StatusUnauthorized:
		return "invalid_client", 7000215, "Invalid client secret provided."
	case status == http.StatusTooManyRequests || status >= 500:
		return "temporarily_unavailable", 90033, "A transient error has occurred. Please try again."
	default:
		return "invalid_request", 900144, "The request is not valid."
	}
}

func notFound(id string) string {
	return fmt.Sprintf("Resource '%s' does not exist or one of its queried reference-property objects are not present.", id)
}

func tenantNotFound(tenant string) string {
	return fmt.Sprintf("Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.", tenant)
}

func writeJSON(w http.ResponseWriter, status int, contentType string, body any) {
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// newGUID returns a random version-4 UUID, the shape of every id Entra ID and Graph hand out.
func newGUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
