package oktafake

import (
	"fmt"
	"net/http"
	"slices"
)

// The user schema: GET /api/v1/meta/schemas/user/default (operation "schema") answers with the
// default user type's profile schema as Okta renders it, base attributes in
// definitions.base.properties and custom ones in definitions.custom.properties, each with its
// permissions, where principal SELF says what people may do with the attribute in their own
// profile: READ_WRITE (edit it), READ_ONLY or HIDE. A new org's base attributes carry Okta's
// default permissions (see baseAttributes); SetSchemaAttribute adds custom attributes and
// changes permissions. It needs the API token or a token holding okta.schemas.read (or
// okta.schemas.manage).

// The values of a schema permission's action for principal SELF.
const (
	SelfReadWrite = "READ_WRITE"
	SelfReadOnly  = "READ_ONLY"
	SelfHide      = "HIDE"
)

// schemaAttribute is one profile attribute of the user schema.
type schemaAttribute struct {
	name, title, typ, format string
	required                 bool
	minLength, maxLength     int
	self                     string // the SELF permission's action
	custom                   bool
}

// baseAttributes are the base attributes of a new org's default user type, with Okta's
// default SELF permissions as orgs render them: people may edit their name, primary and
// secondary email and mobile phone; their login and the organisational attributes are read
// only; their addresses and primary phone are hidden from them.
func baseAttributes() []*schemaAttribute {
	const rw, ro, hide = SelfReadWrite, SelfReadOnly, SelfHide
	str := func(name, title, self string) *schemaAttribute {
		return &schemaAttribute{name: name, title: title, typ: "string", self: self}
	}
	login := str("login", "Username", ro)
	login.required, login.minLength, login.maxLength = true, 5, 100
	first, last := str("firstName", "First name", rw), str("lastName", "Last name", rw)
	first.required, first.minLength, first.maxLength = true, 1, 50
	last.required, last.minLength, last.maxLength = true, 1, 50
	email, second := str("email", "Primary email", rw), str("secondEmail", "Secondary email", rw)
	email.required, email.format, second.format = true, "email", "email"
	mobile, primary := str("mobilePhone", "Mobile phone", rw), str("primaryPhone", "Primary phone", hide)
	mobile.maxLength, primary.maxLength = 100, 100
	profileURL := str("profileUrl", "Profile Url", ro)
	profileURL.format = "uri"
	country, language := str("countryCode", "Country code", hide), str("preferredLanguage", "Preferred language", ro)
	country.format, language.format = "country-code", "language-code"
	locale, timezone := str("locale", "Locale", ro), str("timezone", "Time zone", ro)
	locale.format, timezone.format = "locale", "timezone"
	return []*schemaAttribute{
		login, first, last,
		str("middleName", "Middle name", ro), str("honorificPrefix", "Honorific prefix", ro), str("honorificSuffix", "Honorific suffix", ro),
		email, str("title", "Title", ro), str("displayName", "Display name", ro), str("nickName", "Nickname", ro), profileURL,
		second, mobile, primary,
		str("streetAddress", "Street address", hide), str("city", "City", hide), str("state", "State", hide),
		str("zipCode", "Zip code", hide), country, str("postalAddress", "Postal Address", hide),
		language, locale, timezone,
		str("userType", "User type", ro), str("employeeNumber", "Employee number", ro), str("costCenter", "Cost center", ro),
		str("organization", "Organization", ro), str("division", "Division", ro), str("department", "Department", ro),
		str("managerId", "ManagerId", ro), str("manager", "Manager", ro),
	}
}

// SetSchemaAttribute gives the attribute name the SELF permission selfAction (SelfReadWrite,
// SelfReadOnly or SelfHide), adding it first when the schema lacks it: to the custom
// attributes when custom, else to the base ones. An attribute the schema has stays where it
// is, whatever custom says, as Okta keeps custom names apart from base ones. An empty
// selfAction is Read only, the Profile Editor's choice for a new attribute.
func (s *Server) SetSchemaAttribute(name string, custom bool, selfAction string) {
	if selfAction == "" {
		selfAction = SelfReadOnly
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.IndexFunc(s.schema, func(a *schemaAttribute) bool { return a.name == name })
	if i < 0 {
		s.schema = append(s.schema, &schemaAttribute{name: name, title: name, typ: "string", custom: custom})
		i = len(s.schema) - 1
	}
	s.schema[i].self = selfAction
}

// userSchema is GET /api/v1/meta/schemas/user/{typeId}: the default user type's schema, the
// only one the fake has.
func (s *Server) userSchema(w http.ResponseWriter, r *http.Request) {
	if !s.play(w, r, "schema") || !s.authorize(w, r, ScopeSchemasRead, ScopeSchemasManage) {
		return
	}
	if id := r.PathValue("typeId"); id != "default" {
		writeError(w, http.StatusNotFound, "E0000007", fmt.Sprintf("Not found: Resource not found: %s (UserSchema)", id))
		return
	}
	base, custom := map[string]any{}, map[string]any{}
	var required []string
	s.mu.Lock()
	for _, a := range s.schema {
		if a.custom {
			custom[a.name] = a.json()
			continue
		}
		base[a.name] = a.json()
		if a.required {
			required = append(required, a.name)
		}
	}
	s.mu.Unlock()
	host := "https://" + r.Host
	writeJSON(w, http.StatusOK, map[string]any{
		"id":          host + "/meta/schemas/user/default",
		"$schema":     "http://json-schema.org/draft-04/schema#",
		"name":        "user",
		"title":       "User",
		"description": "Okta user profile template with default permission settings",
		"lastUpdated": "2026-01-05T10:00:00.000Z",
		"created":     "2025-06-01T09:00:00.000Z",
		"definitions": map[string]any{
			"custom": map[string]any{"id": "#custom", "type": "object", "properties": custom, "required": []string{}},
			"base":   map[string]any{"id": "#base", "type": "object", "properties": base, "required": required},
		},
		"type": "object",
		"properties": map[string]any{
			"profile": map[string]any{"allOf": []map[string]string{{"$ref": "#/definitions/custom"}, {"$ref": "#/definitions/base"}}},
		},
		"_links": map[string]any{
			"self": map[string]string{"rel": "self", "href": host + "/api/v1/meta/schemas/user/default", "method": "GET"},
		},
	})
}

// json renders an attribute as Okta does.
func (a *schemaAttribute) json() map[string]any {
	out := map[string]any{
		"title":       a.title,
		"type":        a.typ,
		"mutability":  "READ_WRITE",
		"scope":       "NONE",
		"permissions": []map[string]string{{"principal": "SELF", "action": a.self}},
		"master":      map[string]string{"type": "PROFILE_MASTER"},
	}
	if a.custom {
		out["description"] = a.title
	}
	if a.required {
		out["required"] = true
	}
	if a.format != "" {
		out["format"] = a.format
	}
	if a.minLength > 0 {
		out["minLength"] = a.minLength
	}
	if a.maxLength > 0 {
		out["maxLength"] = a.maxLength
	}
	return out
}
