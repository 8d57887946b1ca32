package oktafake_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/resetbot/resetbot/internal/fake"
	oktafake "github.com/resetbot/resetbot/internal/fake/okta"
	"github.com/resetbot/resetbot/internal/provider/edge"
)

// schemaAnswer is the part of Okta's user schema the tests read.
type schemaAnswer struct {
	Definitions map[string]struct {
		ID         string `json:"id"`
		Properties map[string]struct {
			Title       string `json:"title"`
			Type        string `json:"type"`
			Permissions []struct {
				Principal string `json:"principal"`
				Action    string `json:"action"`
			} `json:"permissions"`
		} `json:"properties"`
	} `json:"definitions"`
}

// getSchema reads the default user schema with the API token.
func getSchema(t *testing.T, srv *oktafake.Server, typeID string) (int, schemaAnswer) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/api/v1/meta/schemas/user/"+typeID, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "SSWS "+token)
	resp, err := edge.Client(srv.Roots()).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body schemaAnswer
	if resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatalf("schema answer: %v", err)
		}
	}
	return resp.StatusCode, body
}

// self is the SELF permission of attribute name in definition def ("" when absent).
func (a schemaAnswer) self(def, name string) (string, bool) {
	p, ok := a.Definitions[def].Properties[name]
	if !ok {
		return "", false
	}
	for _, perm := range p.Permissions {
		if perm.Principal == "SELF" {
			return perm.Action, true
		}
	}
	return "", true
}

func TestUserSchema(t *testing.T) {
	t.Parallel()
	srv, _, _ := start(t)

	status, s := getSchema(t, srv, "default")
	if status != http.StatusOK {
		t.Fatalf("GET the default user schema: %d", status)
	}
	if s.Definitions["base"].ID != "#base" || s.Definitions["custom"].ID != "#custom" {
		t.Errorf("definitions are not Okta's #base and #custom: %+v", s.Definitions)
	}
	// Okta's defaults: people may edit their emails, not their login; addresses are hidden.
	for name, want := range map[string]string{"secondEmail": "READ_WRITE", "email": "READ_WRITE", "login": "READ_ONLY", "firstName": "READ_WRITE", "streetAddress": "HIDE", "employeeNumber": "READ_ONLY"} {
		if got, ok := s.self("base", name); !ok || got != want {
			t.Errorf("base %s: SELF %q (present %v), want %q", name, got, ok, want)
		}
	}
	if len(s.Definitions["custom"].Properties) != 0 {
		t.Errorf("a new org has custom attributes: %+v", s.Definitions["custom"].Properties)
	}

	srv.SetSchemaAttribute("msUpn", true, oktafake.SelfReadWrite)
	srv.SetSchemaAttribute("zoomMail", true, "")
	srv.SetSchemaAttribute("secondEmail", true, oktafake.SelfHide) // a base attribute stays one
	_, s = getSchema(t, srv, "default")
	for _, c := range []struct{ def, name, want string }{
		{"custom", "msUpn", "READ_WRITE"}, {"custom", "zoomMail", "READ_ONLY"}, {"base", "secondEmail", "HIDE"},
	} {
		if got, ok := s.self(c.def, c.name); !ok || got != c.want {
			t.Errorf("%s %s: SELF %q (present %v), want %q", c.def, c.name, got, ok, c.want)
		}
	}
	if _, ok := s.Definitions["custom"].Properties["secondEmail"]; ok {
		t.Error("secondEmail became a custom attribute")
	}

	if status, _ := getSchema(t, srv, "oscNoSuchType"); status != http.StatusNotFound {
		t.Errorf("another user type's schema: %d, want 404", status)
	}
	srv.Fail("schema", fake.Fault{Status: http.StatusForbidden})
	if status, _ := getSchema(t, srv, "default"); status != http.StatusForbidden {
		t.Errorf("a scripted refusal: %d, want 403", status)
	}
	if n := srv.Count("schema"); n != 4 {
		t.Errorf("schema reads counted: %d, want 4", n)
	}
}
