// Package oktafake imitates the slice of Okta's API resetbot uses: users looked up by id or
// login, user search (search= and filter=, one comparison or several joined by or), a user's groups with Link pagination, clearing a
// user's sessions, the default user type's profile schema with each attribute's permissions,
// and the org authorization server's token endpoint for an OAuth service app
// authenticating with a private-key JWT. It speaks Okta's wire format over real TLS (the SDK
// insists on https) so the real okta-sdk-golang client is what tests exercise.
//
// Like Okta, it accepts "Authorization: SSWS <token>" or "Bearer <access token it issued>",
// refuses anything else with 401 E0000011, refuses a bearer token lacking the scope an
// endpoint needs with 403 and a WWW-Authenticate insufficient_scope challenge, and answers
// errors with Okta's JSON error body.
//
// Like Okta it counts requests per endpoint (one bucket per operation, see Server) in fixed
// windows that start on the clock's whole seconds, and every answer announces the bucket's
// window as Okta does: X-Rate-Limit-Limit, X-Rate-Limit-Remaining (what is left after this
// request) and X-Rate-Limit-Reset (the epoch second the window ends). The announcement is
// exact, so a client that starts no more requests than Remaining before Reset never gets a 429.
// By default a bucket holds 600 requests a minute, announced but not enforced; SetRateLimit
// enforces a per-second window, and SetSharedRateLimit one window counting several operations,
// as an org whose reads and sign-outs fall in one bucket does.
package oktafake

import (
	"cmp"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/resetbot/resetbot/internal/fake"
)

// The OAuth scopes Okta's management API knows, as far as resetbot is concerned.
const (
	ScopeUsersRead   = "okta.users.read"
	ScopeUsersManage = "okta.users.manage"
	ScopeGroupsRead  = "okta.groups.read"
	// ScopeSchemasRead (or ScopeSchemasManage) reads the user schema.
	ScopeSchemasRead   = "okta.schemas.read"
	ScopeSchemasManage = "okta.schemas.manage"
)

const (
	clientCredentials = "client_credentials"
	jwtBearer         = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
	maxFormBytes      = 64 << 10
	maxPageSize       = 200
	// defaultLimit and defaultWindow are the window a bucket announces until SetRateLimit gives
	// it one: 600 requests a minute, Okta's limit for its users endpoints in many orgs.
	defaultLimit  = 600
	defaultWindow = time.Minute
)

// User is an Okta user as seeded by a test or the demo.
type User struct {
	// ID is Okta's id (00u…); AddUser makes one when empty.
	ID string
	// Status is the lifecycle status; AddUser sets ACTIVE when empty.
	Status      string
	Login       string
	Email       string
	FirstName   string
	LastName    string
	DisplayName string
	// SecondEmail is the profile's secondEmail; null when empty, as Okta renders it.
	SecondEmail string
	// Attributes are custom profile attributes (an operator's msUpn, say), rendered beside
	// the base ones.
	Attributes map[string]string
}

// Revocation is one DELETE /api/v1/users/{id}/sessions that cleared a user's sessions.
type Revocation struct {
	UserID string
	// OAuthTokens is whether the call asked for Okta-issued OAuth tokens to be revoked too
	// (oauthTokens=true); without it those tokens survive the reset.
	OAuthTokens bool
}

// Server is a fake Okta org. Its operations, for faults, counts and rate-limit buckets, are
// "token" (POST /oauth2/v1/token), "lookup" (GET /api/v1/users/{id|login}), "search" (GET
// /api/v1/users), "groups" (GET /api/v1/users/{id}/groups and GET /api/v1/groups), "members"
// (GET /api/v1/groups/{id}/users), "revoke" (DELETE /api/v1/users/{id}/sessions) and "schema"
// (GET /api/v1/meta/schemas/user/default, see schema.go); a request no endpoint matched counts
// in bucket "unrouted".
type Server struct {
	*httptest.Server
	fake.Script

	mu          sync.Mutex
	token       string // SSWS API token; empty refuses every SSWS call
	tokenOwner  string // the user id /users/me answers for an SSWS call
	clientID    string
	publicKey   crypto.PublicKey
	granted     []string
	tokenTTL    time.Duration
	grants      map[string]grant
	users       []*User
	created     map[string]time.Time
	groups      []group
	members     map[string]map[string]bool // user id → group ids
	pageSize    int
	revocations []Revocation
	schema      []*schemaAttribute // the default user type's profile attributes
	searches    []string
	longestURL  int
	refused     map[string]int // requests a full enforced window refused, by operation
	inURL       int
	unrouted    []string
	buckets     map[string]*bucket
	now         func() time.Time // nil means time.Now
}

// bucket is one operation's rate-limit count, in fixed windows of length starting on whole
// multiples of it.
type bucket struct {
	limit   int
	length  time.Duration
	enforce bool
	start   time.Time // of the window being counted
	used    int
}

// group is an Okta group; typ is OKTA_GROUP, APP_GROUP (imported from a directory such as
// Google or Active Directory) or BUILT_IN.
type group struct{ id, name, typ string }

type grant struct {
	scopes []string
	expiry time.Time
}

// Start serves a fake Okta org over TLS. It has no users, no groups and no credentials:
// call SetToken and/or SetServiceApp (or NewServiceApp) before using it.
func Start() *Server {
	s := &Server{
		granted:  []string{ScopeUsersRead, ScopeUsersManage, ScopeGroupsRead},
		tokenTTL: time.Hour,
		grants:   map[string]grant{},
		created:  map[string]time.Time{},
		members:  map[string]map[string]bool{},
		pageSize: maxPageSize,
		buckets:  map[string]*bucket{},
		refused:  map[string]int{},
		schema:   baseAttributes(),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /oauth2/v1/token", s.issueToken)
	mux.HandleFunc("GET /api/v1/users", s.listUsers)
	mux.HandleFunc("GET /api/v1/users/{id}", s.getUser)
	mux.HandleFunc("GET /api/v1/users/{id}/groups", s.userGroups)
	mux.HandleFunc("GET /api/v1/groups", s.searchGroups)
	mux.HandleFunc("GET /api/v1/groups/{id}", s.getGroup)
	mux.HandleFunc("GET /api/v1/groups/{id}/users", s.groupUsers)
	mux.HandleFunc("DELETE /api/v1/users/{id}/sessions", s.clearSessions)
	mux.HandleFunc("GET /api/v1/meta/schemas/user/{typeId}", s.userSchema)
	mux.HandleFunc("/", s.notRouted)
	s.Server = httptest.NewTLSServer(mux)
	return s
}

// Roots trusts the fake's TLS certificate, for edge.Client.
func (s *Server) Roots() *x509.CertPool { return fake.Roots(s.Server) }

// SetRateLimit makes op's bucket hold perSecond requests in each window of one second (starting
// on the clock's whole seconds) and refuse the rest with Okta's 429 E0000047, X-Rate-Limit-Remaining
// 0 and the X-Rate-Limit-Reset of the window's end; refused requests do not count. Queued faults
// (Fail) are played before the window is checked, and do not count either. perSecond <= 0 gives
// op back the default window, announced and not enforced. It replaces fake.Script's sliding
// second, whose state no header could describe.
func (s *Server) SetRateLimit(op string, perSecond int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if perSecond <= 0 {
		delete(s.buckets, op)
		return
	}
	s.buckets[op] = &bucket{limit: perSecond, length: time.Second, enforce: true}
}

// SetSharedRateLimit makes the operations named count in ONE bucket holding perSecond requests
// in each window of one second, enforced as SetRateLimit's: a read and a sign-out then spend
// the same window, and every answer of any of them announces what is left of it. Okta's
// buckets are per endpoint, but an org's limits are shared with every other integration, and
// endpoints can fall in one bucket; this is that case. perSecond <= 0 gives each op back the
// default window.
func (s *Server) SetSharedRateLimit(perSecond int, ops ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if perSecond <= 0 {
		for _, op := range ops {
			delete(s.buckets, op)
		}
		return
	}
	b := &bucket{limit: perSecond, length: time.Second, enforce: true}
	for _, op := range ops {
		s.buckets[op] = b
	}
}

// Refused counts the requests of op that an enforced window refused with 429 (SetRateLimit,
// SetSharedRateLimit); scripted faults are not counted here.
func (s *Server) Refused(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refused[op]
}

// LongestURL is the length in bytes of the longest request URI (path and query, as sent) that
// reached the fake, so tests can pin how long the URLs a client builds get.
func (s *Server) LongestURL() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.longestURL
}

// SetClock replaces the clock the rate-limit windows and the recorded calls read; tests use it
// to hold time still or move it by hand.
func (s *Server) SetClock(now func() time.Time) {
	s.Script.SetClock(now)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = now
}

// SetToken sets the SSWS API token the fake accepts.
func (s *Server) SetToken(ssws string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.token = ssws
}

// SetServiceApp registers the OAuth service app allowed to get access tokens: its client id
// and the public half of the key it signs client assertions with (*rsa.PublicKey).
func (s *Server) SetServiceApp(clientID string, publicKey crypto.PublicKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clientID, s.publicKey = clientID, publicKey
}

// NewServiceApp generates an RSA key, registers it with SetServiceApp and returns the private
// key as PKCS#8 PEM, as the Okta admin console hands it out.
func (s *Server) NewServiceApp(clientID string) []byte {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		// Only an invalid size fails, and there is no service app without a key.
		panic(fmt.Sprintf("oktafake: generate service app key: %v", err))
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		panic(fmt.Sprintf("oktafake: encode service app key: %v", err))
	}
	s.SetServiceApp(clientID, &key.PublicKey)
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// GrantScopes replaces the scopes the service app was granted; Start grants okta.users.read,
// okta.users.manage and okta.groups.read. Asking for any other scope is refused.
func (s *Server) GrantScopes(scopes ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.granted = append([]string(nil), scopes...)
}

// SetTokenLifetime sets the expires_in of issued access tokens (default one hour).
func (s *Server) SetTokenLifetime(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokenTTL = d
}

// SetGroupPageSize caps how many groups one page of GET /api/v1/users/{id}/groups holds, so
// tests see Link pagination with few groups.
func (s *Server) SetGroupPageSize(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pageSize = min(max(n, 1), maxPageSize)
}

// AddUser seeds a user and returns it with its id and status filled in.
func (s *Server) AddUser(u User) User {
	if u.ID == "" {
		u.ID = newID("00u")
	}
	if u.Status == "" {
		u.Status = "ACTIVE"
	}
	u.Attributes = maps.Clone(u.Attributes)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users = append(s.users, &u)
	s.created[u.ID] = time.Now().UTC()
	return u
}

// AddGroup seeds an Okta-mastered group (type OKTA_GROUP); an empty id gets a made-up 00g…
// one, which is returned.
func (s *Server) AddGroup(id, name string) string { return s.AddGroupOfType(id, name, "OKTA_GROUP") }

// AddGroupOfType seeds a group of any type: APP_GROUP for one imported from Google Workspace or
// Active Directory, whose name Okta does not keep unique, or BUILT_IN.
func (s *Server) AddGroupOfType(id, name, typ string) string {
	if id == "" {
		id = newID("00g")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.groups = append(s.groups, group{id: id, name: name, typ: typ})
	return id
}

// SetStatus changes a user's lifecycle status (SUSPENDED, LOCKED_OUT, DEPROVISIONED, …), as an
// admin or Okta itself would.
func (s *Server) SetStatus(userID, status string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.find(userID, false); u != nil {
		u.Status = status
	}
}

// SetTokenOwner names the user the SSWS token belongs to: GET /api/v1/users/me answers with
// them. Without one, /users/me answers 404 as for a token of a service app.
func (s *Server) SetTokenOwner(userID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokenOwner = userID
}

// AddToGroup makes a user a member of a group.
func (s *Server) AddToGroup(userID, groupID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.members[userID] == nil {
		s.members[userID] = map[string]bool{}
	}
	s.members[userID][groupID] = true
}

// RemoveFromGroup ends a user's membership of a group.
func (s *Server) RemoveFromGroup(userID, groupID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.members[userID], groupID)
}

// Revocations lists every session clearing that succeeded, in order.
func (s *Server) Revocations() []Revocation {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Revocation(nil), s.revocations...)
}

// SessionsCleared counts the successful session clearings of one user.
func (s *Server) SessionsCleared(userID string) int {
	n := 0
	for _, r := range s.Revocations() {
		if r.UserID == userID {
			n++
		}
	}
	return n
}

// Searches lists the search= and filter= expressions received, decoded, in order.
func (s *Server) Searches() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.searches...)
}

// AssertionsInURL counts token requests that carried the client assertion in the URL, where
// proxies and access logs keep it, instead of in the form body.
func (s *Server) AssertionsInURL() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inURL
}

// Unrouted lists requests ("METHOD /escaped/path") that matched no endpoint of the fake: a
// malformed request shows up here.
func (s *Server) Unrouted() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.unrouted...)
}

// play records the call, counts it in op's rate-limit window (announcing the window on the
// answer) and applies the Script: a programmed fault, the latency. It reports whether the
// handler should go on serving.
func (s *Server) play(w http.ResponseWriter, r *http.Request, op string) bool {
	a := s.Arrive(r, op)
	s.mu.Lock()
	s.longestURL = max(s.longestURL, len(r.RequestURI))
	s.mu.Unlock()
	f := a.Fault
	if f.Status == 0 {
		// Okta counts a request when it arrives, so the Remaining an answer announces is as of
		// then, and a request beyond the limit is refused at once, not after the work.
		if !s.count(w, op, true) {
			s.mu.Lock()
			s.refused[op]++
			s.mu.Unlock()
			code, summary := errorFor(http.StatusTooManyRequests, "")
			writeError(w, http.StatusTooManyRequests, code, summary)
			return false
		}
		return a.Hold(r)
	}
	if !a.Hold(r) {
		return false
	}
	f.SetHeaders(w)
	h := w.Header()
	if f.Status == http.StatusTooManyRequests && h.Get("X-Rate-Limit-Reset") == "" {
		// The window resets within the minute; a fault that says nothing resets it at the
		// next second, so the demo does not stall.
		h.Set("X-Rate-Limit-Remaining", "0")
		h.Set("X-Rate-Limit-Reset", strconv.FormatInt(s.clock().Add(time.Second).Unix(), 10))
	}
	s.count(w, op, false)
	switch {
	case op == "token" && f.Status < 500 && f.Status != http.StatusTooManyRequests:
		code := "invalid_request"
		if f.Status == http.StatusUnauthorized {
			code = "invalid_client"
		}
		writeOAuthError(w, f.Status, code, cmp.Or(f.Message, "The request was refused."))
	default:
		code, summary := errorFor(f.Status, r.PathValue("id"))
		writeError(w, f.Status, code, cmp.Or(f.Message, summary))
	}
	return false
}

// count announces op's window on w, leaving the headers a scripted fault set as they are, and
// reports whether the window has room (always, unless enforced and full). With spend it also
// counts the request when there is room; a refused request is not counted.
func (s *Server) count(w http.ResponseWriter, op string, spend bool) bool {
	s.mu.Lock()
	now := s.clock()
	b := s.buckets[op]
	if b == nil {
		b = &bucket{limit: defaultLimit, length: defaultWindow}
		s.buckets[op] = b
	}
	if start := now.Truncate(b.length); !start.Equal(b.start) {
		b.start, b.used = start, 0
	}
	room := !b.enforce || b.used < b.limit
	if spend && room {
		b.used++
	}
	limit, left, reset := b.limit, max(b.limit-b.used, 0), b.start.Add(b.length)
	s.mu.Unlock()

	h := w.Header()
	for k, v := range map[string]string{
		"X-Rate-Limit-Limit":     strconv.Itoa(limit),
		"X-Rate-Limit-Remaining": strconv.Itoa(left),
		"X-Rate-Limit-Reset":     strconv.FormatInt(reset.Unix(), 10),
	} {
		if h.Get(k) == "" {
			h.Set(k, v)
		}
	}
	return room
}

// clock is the fake's time: SetClock's, else the wall clock. The caller holds s.mu.
func (s *Server) clock() time.Time {
	if s.now != nil {
		return s.now()
	}
	return time.Now()
}

// authorize checks the Authorization header: the SSWS token, or a live bearer token holding
// one of the scopes the endpoint accepts.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request, anyOf ...string) bool {
	auth := r.Header.Get("Authorization")
	s.mu.Lock()
	token := s.token
	var (
		g      grant
		bearer bool
	)
	if tok, ok := strings.CutPrefix(auth, "Bearer "); ok {
		g, bearer = s.grants[tok]
	}
	s.mu.Unlock()

	if sswsToken, ok := strings.CutPrefix(auth, "SSWS "); ok && token != "" &&
		subtle.ConstantTimeCompare([]byte(sswsToken), []byte(token)) == 1 {
		return true
	}
	if !bearer || time.Now().After(g.expiry) {
		if strings.HasPrefix(auth, "Bearer ") {
			w.Header().Set("WWW-Authenticate", fmt.Sprintf(
				`Bearer authorization_uri="https://%s/oauth2/v1/authorize", realm="IdpRealm", scope="%s", error="invalid_token", error_description="The token is not valid."`,
				r.Host, strings.Join(anyOf, " ")))
		}
		writeError(w, http.StatusUnauthorized, "E0000011", "Invalid token provided")
		return false
	}
	if slices.ContainsFunc(anyOf, func(sc string) bool { return slices.Contains(g.scopes, sc) }) {
		return true
	}
	w.Header().Set("WWW-Authenticate", fmt.Sprintf(
		`Bearer authorization_uri="https://%s/oauth2/v1/authorize", realm="IdpRealm", scope="%s", error="insufficient_scope", error_description="The access token provided does not contain the required scopes.", resource="%s"`,
		r.Host, strings.Join(anyOf, " "), r.URL.Path))
	writeError(w, http.StatusForbidden, "E0000006", "You do not have permission to perform the requested action")
	return false
}

// getUser is GET /api/v1/users/{id|login}.
func (s *Server) getUser(w http.ResponseWriter, r *http.Request) {
	if !s.play(w, r, "lookup") || !s.authorize(w, r, ScopeUsersRead, ScopeUsersManage) {
		return
	}
	key := r.PathValue("id")
	s.mu.Lock()
	if key == "me" && strings.HasPrefix(r.Header.Get("Authorization"), "SSWS ") {
		key = s.tokenOwner
	}
	u := s.find(key, true)
	var body map[string]any
	if u != nil {
		body = s.userJSON(r, u)
	}
	s.mu.Unlock()
	if u == nil {
		writeError(w, http.StatusNotFound, "E0000007", fmt.Sprintf("Not found: Resource not found: %s (User)", key))
		return
	}
	writeJSON(w, http.StatusOK, body)
}

// listUsers is GET /api/v1/users with search=, filter= or neither, paginated by limit/after.
func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) {
	if !s.play(w, r, "search") || !s.authorize(w, r, ScopeUsersRead, ScopeUsersManage) {
		return
	}
	q := r.URL.Query()
	expr, exact := q.Get("search"), false
	if expr == "" {
		// filter= reads current data and, unlike search=, compares case-sensitively.
		expr, exact = q.Get("filter"), true
	}
	var (
		terms []comparison
		ok    = true
	)
	if expr != "" {
		terms, ok = parseExpression(expr)
	}
	limit, okLimit := pageLimit(q.Get("limit"), maxPageSize)

	s.mu.Lock()
	if expr != "" {
		s.searches = append(s.searches, expr)
	}
	if !ok || !okLimit {
		s.mu.Unlock()
		writeError(w, http.StatusBadRequest, "E0000031", "Invalid search criteria.")
		return
	}
	var matched []*User
	for _, u := range s.users {
		if expr == "" || slices.ContainsFunc(terms, func(c comparison) bool { return matches(u, c.attr, c.value, exact) }) {
			matched = append(matched, u)
		}
	}
	page, more := paginate(matched, q.Get("after"), limit, func(u *User) string { return u.ID })
	body := make([]map[string]any, 0, len(page))
	for _, u := range page {
		body = append(body, s.userJSON(r, u))
	}
	s.mu.Unlock()

	links(w, r, more, page, func(u *User) string { return u.ID }, limit)
	writeJSON(w, http.StatusOK, body)
}

// userGroups is GET /api/v1/users/{id}/groups, Link-paginated by the configured page size.
func (s *Server) userGroups(w http.ResponseWriter, r *http.Request) {
	if !s.play(w, r, "groups") || !s.authorize(w, r, ScopeUsersRead, ScopeUsersManage, ScopeGroupsRead) {
		return
	}
	id := r.PathValue("id")
	s.mu.Lock()
	u := s.find(id, false)
	if u == nil {
		s.mu.Unlock()
		writeError(w, http.StatusNotFound, "E0000007", fmt.Sprintf("Not found: Resource not found: %s (User)", id))
		return
	}
	var mine []group
	for _, g := range s.groups {
		if s.members[u.ID][g.id] {
			mine = append(mine, g)
		}
	}
	answer := groupPage(s, r, mine, func(g group) string { return g.id }, func(g group) map[string]any { return groupJSON(r, g) })
	s.mu.Unlock()
	answer(w)
}

// groupPage cuts one page of all (at most the group page size, after the request's after=),
// rendered while the caller holds s.mu, and returns what writes it with its Link headers.
func groupPage[T any](s *Server, r *http.Request, all []T, id func(T) string, render func(T) map[string]any) func(http.ResponseWriter) {
	limit, _ := pageLimit(r.URL.Query().Get("limit"), s.pageSize)
	limit = min(limit, s.pageSize)
	page, more := paginate(all, r.URL.Query().Get("after"), limit, id)
	body := make([]map[string]any, 0, len(page))
	for _, it := range page {
		body = append(body, render(it))
	}
	return func(w http.ResponseWriter) {
		links(w, r, more, page, id, limit)
		writeJSON(w, http.StatusOK, body)
	}
}

// clearSessions is DELETE /api/v1/users/{id}/sessions: 204 for a known user id.
func (s *Server) clearSessions(w http.ResponseWriter, r *http.Request) {
	if !s.play(w, r, "revoke") || !s.authorize(w, r, ScopeUsersManage) {
		return
	}
	id := r.PathValue("id")
	s.mu.Lock()
	u := s.find(id, false)
	if u != nil {
		s.revocations = append(s.revocations, Revocation{UserID: u.ID, OAuthTokens: r.URL.Query().Get("oauthTokens") == "true"})
	}
	s.mu.Unlock()
	if u == nil {
		writeError(w, http.StatusNotFound, "E0000007", fmt.Sprintf("Not found: Resource not found: %s (User)", id))
		return
	}
	commonHeaders(w)
	w.WriteHeader(http.StatusNoContent)
}

// notRouted answers what no endpoint matched the way Okta does, and records it.
func (s *Server) notRouted(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.unrouted = append(s.unrouted, r.Method+" "+r.URL.EscapedPath())
	s.mu.Unlock()
	s.count(w, "unrouted", true)
	writeError(w, http.StatusNotFound, "E0000007", fmt.Sprintf("Not found: Resource not found: %s (Path)", r.URL.Path))
}

// issueToken is the org authorization server's token endpoint for the client credentials
// grant with a private-key JWT client assertion.
func (s *Server) issueToken(w http.ResponseWriter, r *http.Request) {
	if !s.play(w, r, "token") {
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "The request could not be parsed.")
		return
	}
	s.mu.Lock()
	if r.URL.Query().Has("client_assertion") {
		s.inURL++
	}
	clientID, publicKey, granted, ttl := s.clientID, s.publicKey, s.granted, s.tokenTTL
	s.mu.Unlock()

	if gt := r.Form.Get("grant_type"); gt != clientCredentials {
		writeOAuthError(w, http.StatusBadRequest, "unsupported_grant_type", "The authorization grant type is not supported by the authorization server. Configured grant types: [client_credentials].")
		return
	}
	if r.Form.Get("client_assertion_type") != jwtBearer {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "The client_assertion_type is invalid.")
		return
	}
	claims, ok := verifyAssertion(r.Form.Get("client_assertion"), publicKey)
	switch {
	case !ok && claims.Iss != "" && claims.Iss == clientID:
		writeOAuthError(w, http.StatusUnauthorized, "invalid_client", "The client_assertion signature is invalid.")
		return
	case clientID == "" || claims.Iss != clientID || claims.Sub != clientID:
		writeOAuthError(w, http.StatusUnauthorized, "invalid_client", "Invalid value for 'client_id' parameter.")
		return
	case claims.Aud != "https://"+r.Host+"/oauth2/v1/token":
		writeOAuthError(w, http.StatusUnauthorized, "invalid_client", "The audience claim for client_assertion must be the endpoint invoked for the client.")
		return
	case claims.Exp < time.Now().Unix():
		writeOAuthError(w, http.StatusUnauthorized, "invalid_client", "The client_assertion token is expired.")
		return
	case claims.Exp > time.Now().Add(time.Hour+time.Minute).Unix():
		writeOAuthError(w, http.StatusUnauthorized, "invalid_client", "The client_assertion token has an expiration too far into the future.")
		return
	}
	requested := strings.Fields(r.Form.Get("scope"))
	if len(requested) == 0 {
		writeOAuthError(w, http.StatusBadRequest, "invalid_scope", "The authorization server resource does not have any configured default scopes, 'scope' must be provided.")
		return
	}
	if slices.ContainsFunc(requested, func(sc string) bool { return !slices.Contains(granted, sc) }) {
		writeOAuthError(w, http.StatusBadRequest, "invalid_scope", "One or more scopes are not configured for the authorization server resource.")
		return
	}
	tok := "eyJ" + newID("fake")
	s.mu.Lock()
	s.grants[tok] = grant{scopes: requested, expiry: time.Now().Add(ttl)}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"token_type":   "Bearer",
		"expires_in":   int(ttl / time.Second),
		"access_token": tok,
		"scope":        strings.Join(requested, " "),
	})
}

type assertionClaims struct {
	Iss string `json:"iss"`
	Sub string `json:"sub"`
	Aud string `json:"aud"`
	Exp int64  `json:"exp"`
	Iat int64  `json:"iat"`
}

// verifyAssertion reads a compact RS256 JWS and checks its signature against key. The claims
// are returned even when the signature is wrong, so the caller can say which client failed.
func verifyAssertion(jws string, key crypto.PublicKey) (assertionClaims, bool) {
	var claims assertionClaims
	parts := strings.Split(jws, ".")
	if len(parts) != 3 {
		return claims, false
	}
	rawHeader, err1 := base64.RawURLEncoding.DecodeString(parts[0])
	rawClaims, err2 := base64.RawURLEncoding.DecodeString(parts[1])
	sig, err3 := base64.RawURLEncoding.DecodeString(parts[2])
	if err1 != nil || err2 != nil || err3 != nil {
		return claims, false
	}
	var header struct {
		Alg string `json:"alg"`
	}
	if json.Unmarshal(rawHeader, &header) != nil || json.Unmarshal(rawClaims, &claims) != nil {
		return assertionClaims{}, false
	}
	pub, ok := key.(*rsa.PublicKey)
	if !ok || header.Alg != "RS256" {
		return claims, false
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	return claims, rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig) == nil
}

// find returns the user with this id, or (byLogin) this login, case-insensitively as Okta
// compares logins. The caller holds s.mu.
func (s *Server) find(key string, byLogin bool) *User {
	for _, u := range s.users {
		if u.ID == key || byLogin && strings.EqualFold(u.Login, key) {
			return u
		}
	}
	return nil
}

// userJSON renders a user as Okta does. The caller holds s.mu.
func (s *Server) userJSON(r *http.Request, u *User) map[string]any {
	ts := s.created[u.ID].Format("2006-01-02T15:04:05.000Z")
	profile := map[string]any{
		"firstName":   u.FirstName,
		"lastName":    u.LastName,
		"mobilePhone": nil,
		"secondEmail": nil,
		"login":       u.Login,
		"email":       u.Email,
	}
	if u.DisplayName != "" {
		profile["displayName"] = u.DisplayName
	}
	if u.SecondEmail != "" {
		profile["secondEmail"] = u.SecondEmail
	}
	for k, v := range u.Attributes {
		if _, base := profile[k]; !base {
			profile[k] = v
		}
	}
	return map[string]any{
		"id":              u.ID,
		"status":          u.Status,
		"created":         ts,
		"activated":       ts,
		"statusChanged":   ts,
		"lastLogin":       ts,
		"lastUpdated":     ts,
		"passwordChanged": ts,
		"type":            map[string]string{"id": "oty1fakeusertype0000"},
		"profile":         profile,
		"credentials": map[string]any{
			"password": map[string]any{},
			"provider": map[string]string{"type": "OKTA", "name": "OKTA"},
		},
		"_links": map[string]any{
			"self": map[string]string{"href": "https://" + r.Host + "/api/v1/users/" + u.ID},
		},
	}
}

// comparison is one `attribute eq "value"` of a search or filter expression.
type comparison struct{ attr, value string }

// maxComparisons bounds one expression, so a hostile query cannot make the fake loop long.
const maxComparisons = 1000

// parseExpression reads what resetbot sends as search= or filter=: one `attribute eq "value"`
// comparison, or several joined by `or` (a user matches when any does), with backslash escapes
// inside the quotes. Okta's syntax allows more (and, parentheses, other operators); the fake
// refuses those as Okta refuses what it cannot parse.
func parseExpression(expr string) ([]comparison, bool) {
	var terms []comparison
	rest := strings.TrimSpace(expr)
	for {
		c, after, ok := parseComparison(rest)
		if !ok || len(terms) >= maxComparisons {
			return nil, false
		}
		terms = append(terms, c)
		after = strings.TrimLeft(after, " ")
		if after == "" {
			return terms, true
		}
		if rest, ok = strings.CutPrefix(after, "or "); !ok {
			return nil, false
		}
		rest = strings.TrimLeft(rest, " ")
	}
}

// parseComparison reads one `attribute eq "value"` at the start of expr and returns what
// follows it.
func parseComparison(expr string) (comparison, string, bool) {
	attr, rest, found := strings.Cut(expr, " ")
	if !found {
		return comparison{}, "", false
	}
	switch attr {
	case "id", "status", "profile.login", "profile.email", "profile.firstName", "profile.lastName":
	default:
		return comparison{}, "", false
	}
	rest, found = strings.CutPrefix(strings.TrimLeft(rest, " "), "eq ")
	if !found {
		return comparison{}, "", false
	}
	rest = strings.TrimLeft(rest, " ")
	if !strings.HasPrefix(rest, `"`) {
		return comparison{}, "", false
	}
	var b strings.Builder
	for i := 1; i < len(rest); i++ {
		switch c := rest[i]; c {
		case '\\':
			if i+1 >= len(rest) || (rest[i+1] != '"' && rest[i+1] != '\\') {
				return comparison{}, "", false
			}
			i++
			b.WriteByte(rest[i])
		case '"':
			after := rest[i+1:]
			if after != "" && after[0] != ' ' {
				return comparison{}, "", false
			}
			return comparison{attr: attr, value: b.String()}, after, true
		default:
			b.WriteByte(c)
		}
	}
	return comparison{}, "", false
}

// matches compares one attribute: exactly for filter=, ignoring case for search=.
func matches(u *User, attr, value string, exact bool) bool {
	var have string
	switch attr {
	case "id":
		return u.ID == value
	case "status":
		return u.Status == value
	case "profile.login":
		have = u.Login
	case "profile.email":
		have = u.Email
	case "profile.firstName":
		have = u.FirstName
	case "profile.lastName":
		have = u.LastName
	default:
		return false
	}
	if exact {
		return have == value
	}
	return strings.EqualFold(have, value)
}

// pageLimit reads limit=, defaulting to def; Okta refuses what is not a positive number.
func pageLimit(raw string, def int) (int, bool) {
	if raw == "" {
		return def, true
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 {
		return def, false
	}
	return min(n, maxPageSize), true
}

// paginate returns the page after the item whose id is after, and whether more follow.
func paginate[T any](all []T, after string, limit int, id func(T) string) ([]T, bool) {
	start := 0
	if after != "" {
		start = len(all)
		for i, it := range all {
			if id(it) == after {
				start = i + 1
				break
			}
		}
	}
	end := min(start+limit, len(all))
	return all[start:end], end < len(all)
}

// links sets Okta's Link headers: self always, next when more items follow, each its own
// header as Okta sends them.
func links[T any](w http.ResponseWriter, r *http.Request, more bool, page []T, id func(T) string, limit int) {
	self := "https://" + r.Host + r.URL.EscapedPath()
	selfLink := self
	if r.URL.RawQuery != "" {
		selfLink += "?" + r.URL.Query().Encode()
	}
	w.Header().Add("Link", fmt.Sprintf(`<%s>; rel="self"`, selfLink))
	if !more || len(page) == 0 {
		return
	}
	q := r.URL.Query()
	q.Set("after", id(page[len(page)-1]))
	q.Set("limit", strconv.Itoa(limit))
	w.Header().Add("Link", fmt.Sprintf(`<%s?%s>; rel="next"`, self, q.Encode()))
}

// errorFor is Okta's error code and summary for a status a Script fault asks for.
func errorFor(status int, id string) (string, string) {
	switch {
	case status == http.StatusBadRequest:
		return "E0000001", "Api validation failed"
	case status == http.StatusUnauthorized:
		return "E0000011", "Invalid token provided"
	case status == http.StatusForbidden:
		return "E0000006", "You do not have permission to perform the requested action"
	case status == http.StatusNotFound:
		return "E0000007", fmt.Sprintf("Not found: Resource not found: %s (User)", id)
	case status == http.StatusTooManyRequests:
		return "E0000047", "API call exceeded rate limit due to too many requests."
	case status == http.StatusServiceUnavailable:
		return "E0000010", "Service is in read only mode"
	case status >= 500:
		return "E0000009", "Internal Server Error"
	default:
		return "E0000001", http.StatusText(status)
	}
}

// commonHeaders are on every Okta answer: a request id (the rate-limit window was announced
// when the request was counted).
func commonHeaders(w http.ResponseWriter) {
	w.Header().Set("X-Okta-Request-Id", newID("req"))
}

// writeError answers with Okta's error body.
func writeError(w http.ResponseWriter, status int, code, summary string) {
	writeJSON(w, status, map[string]any{
		"errorCode":    code,
		"errorSummary": summary,
		"errorLink":    code,
		"errorId":      newID("oae"),
		"errorCauses":  []any{},
	})
}

// writeOAuthError answers with the OAuth 2.0 error body of Okta's token endpoint.
func writeOAuthError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	commonHeaders(w)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// newID makes an Okta-looking id: a prefix and random letters and digits, 20 characters in
// all for Okta's own prefixes.
func newID(prefix string) string {
	return prefix + rand.Text()[:20-len(prefix)]
}
