package directory_test

import (
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/resetbot/resetbot/internal/directory"
	"github.com/resetbot/resetbot/internal/fake"
	oktafake "github.com/resetbot/resetbot/internal/fake/okta"
	"github.com/resetbot/resetbot/internal/oktaclient"
	"github.com/resetbot/resetbot/internal/provider/edge"
	"github.com/resetbot/resetbot/internal/reset"
)

// The user schema is read through the real SDK from the fake over HTTPS, with an API token and
// with a service app, whose schema reads go through a token of their own.

func TestAttributesSaysWhatPeopleMayEdit(t *testing.T) {
	t.Parallel()
	for _, serviceApp := range []bool{false, true} {
		e := setup(t, serviceApp)
		e.srv.SetSchemaAttribute("msUpn", true, oktafake.SelfReadWrite)
		e.srv.SetSchemaAttribute("zoomMail", true, oktafake.SelfReadOnly)
		e.srv.SetSchemaAttribute("slackMail", true, oktafake.SelfHide)
		dir := e.dir
		if serviceApp {
			e.srv.GrantScopes(oktafake.ScopeUsersRead, oktafake.ScopeUsersManage, oktafake.ScopeGroupsRead, oktafake.ScopeSchemasRead)
			dir = schemaDirectory(t, e.srv)
		}
		got, err := dir.Attributes(t.Context(), "msUpn", "zoomMail", "slackMail", "secondEmail", "login", "googleMail", "MSUPN")
		if err != nil {
			t.Fatalf("service app %v: %v", serviceApp, err)
		}
		want := []directory.Attribute{
			{Name: "msUpn", Exists: true, Custom: true, Self: "READ_WRITE"},
			{Name: "zoomMail", Exists: true, Custom: true, Self: "READ_ONLY"},
			{Name: "slackMail", Exists: true, Custom: true, Self: "HIDE"},
			{Name: "secondEmail", Exists: true, Self: "READ_WRITE"}, // Okta's default
			{Name: "login", Exists: true, Self: "READ_ONLY"},
			{Name: "googleMail"},
			{Name: "MSUPN", Like: "msUpn"},
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("service app %v: Attributes =\n%+v\nwant\n%+v", serviceApp, got, want)
		}
		for _, a := range got {
			if a.SelfEditable() != (a.Self == "READ_WRITE") {
				t.Errorf("%s: SelfEditable %v with Self %q", a.Name, a.SelfEditable(), a.Self)
			}
		}
		if n := e.srv.Count("schema"); n != 1 {
			t.Errorf("service app %v: %d schema reads, want one for every name", serviceApp, n)
		}
	}
}

func TestAttributesWhenOktaWillNotShowTheSchema(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		// dir builds the directory under test; script, when set, programs the fake.
		dir       func(t *testing.T, e env) *directory.Directory
		script    func(s *oktafake.Server)
		refused   bool
		retryable bool
		text      string
	}{
		{name: "a service app not granted okta.schemas.read asks for a token in vain", refused: true,
			dir:  func(t *testing.T, e env) *directory.Directory { return schemaDirectory(t, e.srv) },
			text: "invalid_scope"},
		{name: "a service app token without okta.schemas.read is refused with 403", refused: true,
			dir:  func(t *testing.T, e env) *directory.Directory { return e.dir }, // the directory's own token
			text: "okta.schemas.read"},
		{name: "an API token whose admin may not read the schema", refused: true,
			script: func(s *oktafake.Server) { s.Fail("schema", fake.Fault{Status: http.StatusForbidden}) },
			text:   "You do not have permission"},
		{name: "Okta failing is no refusal", retryable: true,
			script: func(s *oktafake.Server) { s.Fail("schema", fake.Fault{Status: http.StatusInternalServerError}) },
			text:   "Internal Server Error"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, tc.dir != nil)
			dir := e.dir
			if tc.dir != nil {
				dir = tc.dir(t, e)
			}
			if tc.script != nil {
				tc.script(e.srv)
			}
			_, err := dir.Attributes(t.Context(), "secondEmail")
			if err == nil {
				t.Fatal("Attributes succeeded")
			}
			if errors.Is(err, directory.ErrSchemaRefused) != tc.refused {
				t.Errorf("errors.Is(ErrSchemaRefused) = %v, want %v: %v", !tc.refused, tc.refused, err)
			}
			if kind, _, _ := reset.Classify(err); (kind == reset.Retryable) != tc.retryable {
				t.Errorf("kind %v, want retryable %v: %v", kind, tc.retryable, err)
			}
			if !strings.Contains(err.Error(), tc.text) || !strings.HasPrefix(err.Error(), "read okta's user schema: ") {
				t.Errorf("error %q lacks %q", err, tc.text)
			}
		})
	}
}

// schemaDirectory is a directory of the fake's service app whose schema reads go through a
// client asking for okta.schemas.read alone, as app.Wire builds it.
func schemaDirectory(t *testing.T, srv *oktafake.Server) *directory.Directory {
	t.Helper()
	key := srv.NewServiceApp("0oaschema")
	cfg := oktaclient.Config{OrgURL: srv.URL, ClientID: "0oaschema", PrivateKeyPEM: key, HTTPClient: edge.Client(srv.Roots())}
	client, err := oktaclient.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Scopes = []string{oktaclient.ScopeSchemasRead}
	schemas, err := oktaclient.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return directory.New(client, directory.WithSchemaClient(schemas))
}
