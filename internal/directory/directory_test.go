package directory_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/resetbot/resetbot/internal/directory"
	"github.com/resetbot/resetbot/internal/fake"
	oktafake "github.com/resetbot/resetbot/internal/fake/okta"
	"github.com/resetbot/resetbot/internal/oktaclient"
	"github.com/resetbot/resetbot/internal/provider/edge"
	"github.com/resetbot/resetbot/internal/reset"
)

const apiToken = "00secret-ssws-token-for-tests"

// people seeded in every org.
var (
	alice = oktafake.User{Login: "alice@example.com", Email: "alice@example.com", FirstName: "Alice", LastName: "Liddell"}
	// bob signs in with a short login; his email is not a login.
	bob = oktafake.User{Login: "bob", Email: "bob.builder@example.com", DisplayName: "Bob the Builder", Status: "SUSPENDED"}
	// the twins share an email.
	twin1 = oktafake.User{Login: "twin1@example.com", Email: "twins@example.com", FirstName: "Tweedle", LastName: "Dum"}
	twin2 = oktafake.User{Login: "twin2@example.com", Email: "twins@example.com", FirstName: "Tweedle", LastName: "Dee"}
	// obrien's email needs escaping in a search expression.
	obrien = oktafake.User{Login: "obrien", Email: `o"brien\x@example.com`, FirstName: "Pat", LastName: "O'Brien"}
)

type env struct {
	srv   *oktafake.Server
	dir   *directory.Directory
	users map[string]oktafake.User // by login
}

func setup(t *testing.T, serviceApp bool, opts ...directory.Option) env {
	t.Helper()
	srv := oktafake.Start()
	t.Cleanup(srv.Close)
	srv.SetToken(apiToken)
	key := srv.NewServiceApp("0oadirectory")
	e := env{srv: srv, users: map[string]oktafake.User{}}
	for _, u := range []oktafake.User{alice, bob, twin1, twin2, obrien} {
		e.users[u.Login] = srv.AddUser(u)
	}
	cfg := oktaclient.Config{OrgURL: srv.URL, APIToken: apiToken, HTTPClient: edge.Client(srv.Roots())}
	if serviceApp {
		cfg = oktaclient.Config{OrgURL: srv.URL, ClientID: "0oadirectory", PrivateKeyPEM: key, HTTPClient: edge.Client(srv.Roots())}
	}
	client, err := oktaclient.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.dir = directory.New(client, opts...)
	t.Cleanup(func() {
		if u := srv.Unrouted(); len(u) != 0 {
			t.Errorf("malformed requests reached Okta: %v", u)
		}
	})
	return e
}

func TestFind(t *testing.T) {
	t.Parallel()
	for _, serviceApp := range []bool{false, true} {
		e := setup(t, serviceApp)
		a, b, o := e.users[alice.Login], e.users[bob.Login], e.users[obrien.Login]
		cases := []struct {
			name       string
			who        string
			want       reset.Target
			wantSearch bool
		}{
			{name: "okta id", who: a.ID,
				want: reset.Target{OktaID: a.ID, Login: "alice@example.com", Email: "alice@example.com", DisplayName: "Alice Liddell", Status: "ACTIVE"}},
			{name: "login that is an email", who: "alice@example.com",
				want: reset.Target{OktaID: a.ID, Login: "alice@example.com", Email: "alice@example.com", DisplayName: "Alice Liddell", Status: "ACTIVE"}},
			{name: "login in another case, padded", who: "  ALICE@example.com ",
				want: reset.Target{OktaID: a.ID, Login: "alice@example.com", Email: "alice@example.com", DisplayName: "Alice Liddell", Status: "ACTIVE"}},
			{name: "short login", who: "bob",
				want: reset.Target{OktaID: b.ID, Login: "bob", Email: "bob.builder@example.com", DisplayName: "Bob the Builder", Status: "SUSPENDED"}},
			{name: "email that is not a login", who: "bob.builder@example.com", wantSearch: true,
				want: reset.Target{OktaID: b.ID, Login: "bob", Email: "bob.builder@example.com", DisplayName: "Bob the Builder", Status: "SUSPENDED"}},
			{name: "email in another case than Okta holds", who: "BOB.Builder@Example.com", wantSearch: true,
				want: reset.Target{OktaID: b.ID, Login: "bob", Email: "bob.builder@example.com", DisplayName: "Bob the Builder", Status: "SUSPENDED"}},
			{name: "email with a quote and a backslash", who: `o"brien\x@example.com`, wantSearch: true,
				want: reset.Target{OktaID: o.ID, Login: "obrien", Email: `o"brien\x@example.com`, DisplayName: "Pat O'Brien", Status: "ACTIVE"}},
		}
		for _, tc := range cases {
			// Sequential: each case counts the searches it caused.
			t.Run(fmt.Sprintf("%s (service app %v)", tc.name, serviceApp), func(t *testing.T) {
				before := len(e.srv.Searches())
				got, err := e.dir.Find(t.Context(), tc.who)
				if err != nil {
					t.Fatalf("Find(%q): %v", tc.who, err)
				}
				if !reflect.DeepEqual(got, tc.want) {
					t.Errorf("Find(%q) = %+v, want %+v", tc.who, got, tc.want)
				}
				if searched := len(e.srv.Searches()) > before; searched != tc.wantSearch {
					t.Errorf("searched profile.email: %v, want %v", searched, tc.wantSearch)
				}
			})
		}
	}
}

func TestFindFailures(t *testing.T) {
	t.Parallel()
	e := setup(t, false)
	cases := []struct {
		name     string
		who      string
		wantIs   error
		wantText string
	}{
		{name: "unknown email", who: "nobody@example.com", wantIs: directory.ErrNotFound, wantText: `find okta user with email "nobody@example.com": no such user in Okta`},
		{name: "unknown id", who: "00unobody0000000000", wantIs: directory.ErrNotFound, wantText: "Not found: Resource not found: 00unobody0000000000 (User)"},
		{name: "empty", who: "  ", wantIs: directory.ErrNotFound, wantText: "no email, login or Okta id given"},
		{name: "shared email", who: "twins@example.com", wantIs: directory.ErrAmbiguous, wantText: "twin1@example.com, twin2@example.com"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := e.dir.Find(t.Context(), tc.who)
			if !errors.Is(err, tc.wantIs) || !strings.Contains(fmt.Sprint(err), tc.wantText) {
				t.Errorf("Find(%q) = %v, want %v saying %q", tc.who, err, tc.wantIs, tc.wantText)
			}
		})
	}
}

func TestFindByEmail(t *testing.T) {
	t.Parallel()
	e := setup(t, false)
	cases := []struct {
		email   string
		wantID  string
		wantErr error
	}{
		{email: "alice@example.com", wantID: e.users[alice.Login].ID},
		{email: "Bob.Builder@example.com", wantID: e.users[bob.Login].ID},
		{email: "twins@example.com", wantErr: directory.ErrAmbiguous},
		{email: "nobody@example.com", wantErr: directory.ErrNotFound},
		{email: "bob", wantErr: directory.ErrNotFound}, // a login, not an email
	}
	for _, tc := range cases {
		t.Run(tc.email, func(t *testing.T) {
			t.Parallel()
			got, err := e.dir.FindByEmail(t.Context(), tc.email)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Errorf("FindByEmail(%q) = %+v, %v; want %v", tc.email, got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got.OktaID != tc.wantID {
				t.Errorf("FindByEmail(%q) = %+v, %v; want %s", tc.email, got, err, tc.wantID)
			}
		})
	}
}

func TestHostileInput(t *testing.T) {
	t.Parallel()
	e := setup(t, false)
	inputs := []string{
		`x" or profile.login sw "`,
		`a"b@example.com`,
		`\"@example.com`,
		`evil\@example.com`,
		`alice@example.com" or status eq "ACTIVE`,
		"ünïcødé@例え.jp",
		"a\x00b@example.com",
		"line\nbreak@example.com",
		"../groups",
		"..",
		e.users[alice.Login].ID + "/groups",
		e.users[alice.Login].ID + "/sessions?oauthTokens=true",
		"a?search=x#frag@example.com",
		"%2F%2e%2e@example.com",
		strings.Repeat("a", 10<<10) + "@example.com",
		string([]byte{0xff, 0xfe}) + "@example.com",
	}
	for i, who := range inputs {
		// Sequential: the checks after the loop need every case done.
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			got, err := e.dir.Find(t.Context(), who)
			if !errors.Is(err, directory.ErrNotFound) {
				t.Fatalf("Find(%.40q) = %+v, %v; want not found", who, got, err)
			}
			if len(err.Error()) > 400 {
				t.Errorf("error is %d bytes long: user input must be shortened", len(err.Error()))
			}
		})
	}
	// Every search that reached Okta was well formed (the fake answers 400 otherwise, which
	// would not read as not found) and no request strayed onto another endpoint (Unrouted,
	// checked at cleanup).
	for _, s := range e.srv.Searches() {
		if !strings.HasPrefix(s, `profile.email eq "`) {
			t.Errorf("unexpected search %q", s)
		}
	}
	if got := e.srv.Count("groups") + e.srv.Count("revoke"); got != 0 {
		t.Errorf("hostile names reached other endpoints %d times", got)
	}
}

func TestGroupsFollowsPagination(t *testing.T) {
	t.Parallel()
	e := setup(t, true)
	e.srv.SetGroupPageSize(2)
	a := e.users[alice.Login]
	var want []reset.Group
	for i := range 5 {
		id := e.srv.AddGroup(fmt.Sprintf("00gresponders%07d", i), fmt.Sprintf("Responders %d", i))
		e.srv.AddToGroup(a.ID, id)
		want = append(want, reset.Group{ID: id, Name: fmt.Sprintf("Responders %d", i), Type: "OKTA_GROUP"})
	}
	imported := e.srv.AddGroupOfType("", "Responders 0", "APP_GROUP")
	e.srv.AddToGroup(a.ID, imported)
	want = append(want, reset.Group{ID: imported, Name: "Responders 0", Type: "APP_GROUP"})
	e.srv.AddGroup("00gnotamember000000", "Everyone Else")

	got, err := e.dir.Groups(t.Context(), a.ID)
	if err != nil {
		t.Fatalf("Groups: %v", err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("Groups = %v, want %v", got, want)
	}
	if n := e.srv.Count("groups"); n != 3 {
		t.Errorf("group pages fetched = %d, want 3 (2+2+2)", n)
	}
}

func TestGroupsAreReadLive(t *testing.T) {
	t.Parallel()
	e := setup(t, false)
	a := e.users[alice.Login]
	responders := e.srv.AddGroup("", "Security Responders")
	e.srv.AddToGroup(a.ID, responders)

	want := reset.Group{ID: responders, Name: "Security Responders", Type: "OKTA_GROUP"}
	before, err := e.dir.Groups(t.Context(), a.ID)
	if err != nil || !slices.Contains(before, want) {
		t.Fatalf("Groups = %v, %v; want %v", before, err, want)
	}
	e.srv.RemoveFromGroup(a.ID, responders)
	after, err := e.dir.Groups(t.Context(), a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != 0 {
		t.Errorf("Groups after removal = %v: an old answer was served", after)
	}
	if n := e.srv.Count("groups"); n != 2 {
		t.Errorf("group reads reaching Okta = %d, want 2", n)
	}
}

func TestGroupsOfUnknownUser(t *testing.T) {
	t.Parallel()
	e := setup(t, false)
	_, err := e.dir.Groups(t.Context(), "00unobody0000000000")
	if !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("Groups(unknown) = %v, want not found", err)
	}
}

// TestOktaTroubleIsNotNoSuchPerson shows callers can tell "Okta is down" (retry) and "we may not
// ask" (fix the configuration) from "no such person".
func TestOktaTroubleIsNotNoSuchPerson(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		op       string
		status   int
		call     func(ctx context.Context, e env) error
		wantKind reset.Kind
		wantText string
	}{
		{name: "lookup 503", op: "lookup", status: 503, wantKind: reset.Retryable, wantText: "Service is in read only mode",
			call: func(ctx context.Context, e env) error { _, err := e.dir.Find(ctx, "alice@example.com"); return err }},
		{name: "search 429", op: "search", status: 429, wantKind: reset.Retryable, wantText: "API call exceeded rate limit",
			call: func(ctx context.Context, e env) error {
				_, err := e.dir.FindByEmail(ctx, "alice@example.com")
				return err
			}},
		{name: "groups 500", op: "groups", status: 500, wantKind: reset.Retryable, wantText: "Internal Server Error",
			call: func(ctx context.Context, e env) error {
				_, err := e.dir.Groups(ctx, e.users[alice.Login].ID)
				return err
			}},
		{name: "lookup 403", op: "lookup", status: 403, wantKind: reset.Permanent, wantText: "okta.users.read",
			call: func(ctx context.Context, e env) error { _, err := e.dir.Find(ctx, "alice@example.com"); return err }},
		{name: "groups 401", op: "groups", status: 401, wantKind: reset.Permanent, wantText: "Invalid token provided",
			call: func(ctx context.Context, e env) error {
				_, err := e.dir.Groups(ctx, e.users[alice.Login].ID)
				return err
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, false)
			e.srv.Fail(tc.op, fake.Fault{Status: tc.status})
			err := tc.call(t.Context(), e)
			if errors.Is(err, directory.ErrNotFound) {
				t.Fatalf("%v reads as no such person", err)
			}
			if kind, _, _ := reset.Classify(err); kind != tc.wantKind || !strings.Contains(fmt.Sprint(err), tc.wantText) {
				t.Errorf("error = %v (%v), want %v saying %q", err, kind, tc.wantKind, tc.wantText)
			}
		})
	}
}

// A person's other names come from their Okta profile as it is now: secondEmail always, and
// for each system the attribute the operator mapped; an attribute they lack leaves that system
// to the login and emails.
func TestFindReadsThePersonsOtherNames(t *testing.T) {
	t.Parallel()
	e := setup(t, false, directory.WithIDAttributes(map[string]string{"microsoft": "msUpn", "google": "googlePrimary"}))
	e.srv.AddUser(oktafake.User{Login: "carol@example.com", Email: "carol@example.com", FirstName: "Carol", LastName: "Hale",
		SecondEmail: "c.hale@acquired.example", Attributes: map[string]string{"msUpn": "chale@corp.onmicrosoft.example", "costCenter": "42"}})
	got, err := e.dir.Find(t.Context(), "carol@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if got.SecondEmail != "c.hale@acquired.example" || !reflect.DeepEqual(got.Names, map[string]string{"microsoft": "chale@corp.onmicrosoft.example"}) {
		t.Errorf("found %+v; want secondEmail c.hale@acquired.example and only microsoft's mapped name", got)
	}
	if names := got.NamesFor("microsoft"); !slices.Equal(names, []string{"chale@corp.onmicrosoft.example", "carol@example.com", "c.hale@acquired.example"}) {
		t.Errorf("microsoft is asked under %v", names)
	}
	if names := got.NamesFor("google"); !slices.Equal(names, []string{"carol@example.com", "c.hale@acquired.example"}) {
		t.Errorf("google is asked under %v", names)
	}
}
