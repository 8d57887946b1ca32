package oktafake

import (
	"fmt"
	"net/http"
	"strings"
)

// Group endpoints, for batches named by group and for resolving the policy's groups: GET
// /api/v1/groups?q= (operation "groups", like a user's groups) finds groups whose name starts
// with q, ignoring case, as Okta does, whatever their type; GET /api/v1/groups/{id} (also
// "groups") reads one; GET /api/v1/groups/{id}/users (operation "members") lists a group's
// members. Lists are Link-paginated by the configured group page size.

func (s *Server) searchGroups(w http.ResponseWriter, r *http.Request) {
	if !s.play(w, r, "groups") || !s.authorize(w, r, ScopeGroupsRead) {
		return
	}
	q := strings.ToLower(r.URL.Query().Get("q"))
	s.mu.Lock()
	var matched []group
	for _, g := range s.groups {
		if strings.HasPrefix(strings.ToLower(g.name), q) {
			matched = append(matched, g)
		}
	}
	answer := groupPage(s, r, matched, func(g group) string { return g.id }, func(g group) map[string]any { return groupJSON(r, g) })
	s.mu.Unlock()
	answer(w)
}

// getGroup is GET /api/v1/groups/{id} (operation "groups").
func (s *Server) getGroup(w http.ResponseWriter, r *http.Request) {
	if !s.play(w, r, "groups") || !s.authorize(w, r, ScopeGroupsRead) {
		return
	}
	id := r.PathValue("id")
	s.mu.Lock()
	var body map[string]any
	for _, g := range s.groups {
		if g.id == id {
			body = groupJSON(r, g)
		}
	}
	s.mu.Unlock()
	if body == nil {
		writeError(w, http.StatusNotFound, "E0000007", fmt.Sprintf("Not found: Resource not found: %s (UserGroup)", id))
		return
	}
	writeJSON(w, http.StatusOK, body)
}

func (s *Server) groupUsers(w http.ResponseWriter, r *http.Request) {
	if !s.play(w, r, "members") || !s.authorize(w, r, ScopeGroupsRead) {
		return
	}
	id := r.PathValue("id")
	s.mu.Lock()
	known := false
	for _, g := range s.groups {
		known = known || g.id == id
	}
	if !known {
		s.mu.Unlock()
		writeError(w, http.StatusNotFound, "E0000007", fmt.Sprintf("Not found: Resource not found: %s (UserGroup)", id))
		return
	}
	var in []*User
	for _, u := range s.users {
		if s.members[u.ID][id] {
			in = append(in, u)
		}
	}
	answer := groupPage(s, r, in, func(u *User) string { return u.ID }, func(u *User) map[string]any { return s.userJSON(r, u) })
	s.mu.Unlock()
	answer(w)
}

// groupJSON is a group as Okta's API returns it.
func groupJSON(r *http.Request, g group) map[string]any {
	base := "https://" + r.Host
	return map[string]any{
		"id":                    g.id,
		"created":               "2024-01-02T03:04:05.000Z",
		"lastUpdated":           "2024-01-02T03:04:05.000Z",
		"lastMembershipUpdated": "2024-01-02T03:04:05.000Z",
		"objectClass":           []string{objectClass(g.typ)},
		"type":                  g.typ,
		"profile":               map[string]any{"name": g.name, "description": ""},
		"_links": map[string]any{
			"logo":  []map[string]string{{"name": "medium", "href": base + "/assets/img/logos/groups/okta-medium.png", "type": "image/png"}},
			"users": map[string]string{"href": base + "/api/v1/groups/" + g.id + "/users"},
			"apps":  map[string]string{"href": base + "/api/v1/groups/" + g.id + "/apps"},
		},
	}
}

// objectClass is the objectClass Okta gives a group of each type.
func objectClass(typ string) string {
	if typ == "APP_GROUP" {
		return "okta:windows_security_principal"
	}
	return "okta:user_group"
}
