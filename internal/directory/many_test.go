package directory_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/resetbot/resetbot/internal/directory"
	"github.com/resetbot/resetbot/internal/fake"
	oktafake "github.com/resetbot/resetbot/internal/fake/okta"
	"github.com/resetbot/resetbot/internal/reset"
)

// maxURL is the longest request URI FindMany may send: 2,000 bytes of expression, the path,
// limit=200 and an after= cursor.
const maxURL = 2100

// crowd seeds n people whose login and email are person%04d@example.com, and returns their
// addresses and ids.
func crowd(e env, n int) (names, ids []string) {
	for i := range n {
		email := fmt.Sprintf("person%04d@example.com", i)
		u := e.srv.AddUser(oktafake.User{Login: email, Email: email, FirstName: "Person", LastName: fmt.Sprint(i)})
		names, ids = append(names, email), append(ids, u.ID)
	}
	return names, ids
}

// perPage is how many of names' clauses (all of one length) fit in one expression of at
// most 2,000 bytes once URL-encoded.
func perPage(clause string) int {
	n := len(url.QueryEscape(clause))
	return (2000 + len("+or+")) / (n + len("+or+"))
}

func TestFindManyCostsOneRequestPerPage(t *testing.T) {
	t.Parallel()
	for _, n := range []int{1, 39, 40, 41, 250} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			t.Parallel()
			e := setup(t, false)
			names, ids := crowd(e, n)
			found, missing, err := e.dir.FindMany(t.Context(), names)
			if err != nil || len(missing) != 0 || len(found) != n {
				t.Fatalf("FindMany = %d found, missing %v, %v; want all %d found", len(found), missing, err, n)
			}
			for i, name := range names {
				if got := found[name]; got.OktaID != ids[i] || got.Login != name || got.Status != "ACTIVE" || got.DisplayName != fmt.Sprintf("Person %d", i) {
					t.Fatalf("found[%s] = %+v, want %s", name, got, ids[i])
				}
			}
			k := perPage(`profile.login eq "person0000@example.com"`)
			want := (n + k - 1) / k
			if got := e.srv.Count("search"); got != want || e.srv.Count("lookup") != 0 {
				t.Errorf("%d names cost %d searches and %d lookups, want ceil(%d/%d) = %d searches and no lookup",
					n, got, e.srv.Count("lookup"), n, k, want)
			}
			for _, s := range e.srv.Searches() {
				if !strings.HasPrefix(s, `profile.login eq "`) {
					t.Errorf("sent %.60q…, want logins only", s)
				}
			}
			if got := e.srv.LongestURL(); got > maxURL {
				t.Errorf("longest URL %d bytes, want at most %d", got, maxURL)
			}
		})
	}
}

func TestFindManyResolvesAsFindDoes(t *testing.T) {
	t.Parallel()
	e := setup(t, false)
	a, b, o := e.users[alice.Login], e.users[bob.Login], e.users[obrien.Login]
	carol := e.srv.AddUser(oktafake.User{Login: "Carol@Example.com", Email: "c.lewis@example.com"})
	dave := e.srv.AddUser(oktafake.User{Login: "dave", Email: "Dave.Smith@Example.com"})
	tests := []struct {
		name, who string
		wantID    string // "" when missing
		wantErr   error
	}{
		{"an Okta id", a.ID, a.ID, nil},
		{"a login that is an email", "alice@example.com", a.ID, nil},
		{"a login that is not an email", "bob", b.ID, nil},
		{"an email that is nobody's login", "bob.builder@example.com", b.ID, nil},
		{"an email with a quote and a backslash", `o"brien\x@example.com`, o.ID, nil},
		{"surrounding spaces", "  bob  ", b.ID, nil},
		{"a login typed in another case", "carol@example.com", carol.ID, nil},
		{"an email typed in another case", "dave.smith@example.com", dave.ID, nil},
		{"an email two people share", "twins@example.com", "", directory.ErrAmbiguous},
		{"nobody", "nobody@example.com", "", directory.ErrNotFound},
		{"an id nobody has", "00u0000000000nobody0", "", directory.ErrNotFound},
		{"control characters", "a\x00b@example.com", "", directory.ErrNotFound},
		{"longer than any login", strings.Repeat("a", 400) + "@example.com", "", directory.ErrNotFound},
		{"an expression smuggled in", `alice@example.com" or status eq "ACTIVE`, "", directory.ErrNotFound},
		{"a path", a.ID + "/groups", "", directory.ErrNotFound},
	}
	var names []string
	for _, tt := range tests {
		names = append(names, tt.who)
	}
	found, missing, err := e.dir.FindMany(t.Context(), append(names, "bob")) // bob twice: one answer
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := found[tt.who]
			why := missing[tt.who]
			switch {
			case tt.wantID != "" && (!ok || got.OktaID != tt.wantID || why != nil):
				t.Errorf("%.40q: found %+v (%v), missing %v; want %s", tt.who, got, ok, why, tt.wantID)
			case tt.wantID == "" && (ok || !errors.Is(why, tt.wantErr)):
				t.Errorf("%.40q: found %+v (%v), missing %v; want an error matching %v", tt.who, got, ok, why, tt.wantErr)
			case why != nil && len(why.Error()) > 400:
				t.Errorf("%.40q: error is %d bytes long: user input must be shortened", tt.who, len(why.Error()))
			}
		})
	}
	if len(found)+len(missing) != len(tests) {
		t.Errorf("%d answers for %d distinct names", len(found)+len(missing), len(tests))
	}
	if why := missing["twins@example.com"]; why == nil || !strings.Contains(why.Error(), "twin1@example.com, twin2@example.com") {
		t.Errorf("the ambiguous email's error %v, want both logins named", why)
	}
	// One request per pass: ids, logins, emails, ignoring case, and the re-read of what was
	// found ignoring case.
	searches := e.srv.Searches()
	var passes []string
	for _, s := range searches {
		attr, _, _ := strings.Cut(s, " ")
		passes = append(passes, attr)
	}
	if want := []string{"id", "profile.login", "profile.email", "profile.login", "id"}; !slices.Equal(passes, want) {
		t.Errorf("passes %v, want %v:\n%s", passes, want, strings.Join(searches, "\n"))
	}
	if got := e.srv.Count("search") + e.srv.Count("lookup"); got != 5 {
		t.Errorf("%d requests, want 5", got)
	}
	for _, s := range searches {
		if strings.Contains(s, `status eq`) && !strings.Contains(s, `\" or status eq \"ACTIVE`) {
			t.Errorf("a name broke out of its quotes: %q", s)
		}
	}
}

func TestFindManyFollowsPagination(t *testing.T) {
	t.Parallel()
	e := setup(t, false)
	// 250 people share an address: Okta sends them in two pages of at most 200.
	for i := range 250 {
		e.srv.AddUser(oktafake.User{Login: fmt.Sprintf("shared%03d", i), Email: "team@example.com"})
	}
	_, missing, err := e.dir.FindMany(t.Context(), []string{"team@example.com", "alice@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	why := missing["team@example.com"]
	if !errors.Is(why, directory.ErrAmbiguous) || !strings.Contains(why.Error(), "shared249") {
		t.Errorf("missing = %v, want ambiguous naming all 250, the second page's too", why)
	}
	// Logins (1), emails (2 pages), ignoring case: nothing left to ask.
	if got := e.srv.Count("search"); got != 3 {
		t.Errorf("%d searches, want 3 (logins, then both pages of the email)", got)
	}
}

func TestFindManyWhenOktaFails(t *testing.T) {
	t.Parallel()
	e := setup(t, false)
	names, _ := crowd(e, 60) // two pages of logins
	e.srv.Fail("search", fake.Fault{}, fake.Fault{Status: http.StatusServiceUnavailable})
	var told []string
	err := e.dir.FindEach(t.Context(), names, func(name string, _ reset.Target, err error) {
		if err != nil {
			t.Errorf("%s told %v", name, err)
		}
		told = append(told, name)
	})
	if err == nil || errors.Is(err, directory.ErrNotFound) {
		t.Fatalf("FindEach = %v, want Okta's failure, not 'nobody'", err)
	}
	if kind, _, _ := reset.Classify(err); kind != reset.Retryable {
		t.Errorf("error %v classified %v, want retryable", err, kind)
	}
	k := perPage(`profile.login eq "person0000@example.com"`)
	if !slices.Equal(told, names[:k]) {
		t.Errorf("told %d names before the failure, want the first page's %d", len(told), k)
	}
}

func TestFindAheadAnswersFromItsPages(t *testing.T) {
	t.Parallel()
	e := setup(t, false)
	names, ids := crowd(e, 100)
	e.srv.SetLatency("search", 50*time.Millisecond)
	find := e.dir.FindAhead(t.Context(), append(names, "nobody@example.com"))
	// The first page's people are answered before the last page is back.
	got, err := find(t.Context(), names[0])
	if err != nil || got.OktaID != ids[0] {
		t.Fatalf("find(%s) = %+v, %v", names[0], got, err)
	}
	if n := e.srv.Count("search"); n >= 3 {
		t.Errorf("the first person waited for %d searches, want the first page's only", n)
	}
	for i, name := range names {
		if got, err := find(t.Context(), name); err != nil || got.OktaID != ids[i] {
			t.Fatalf("find(%s) = %+v, %v", name, got, err)
		}
	}
	if _, err := find(t.Context(), "nobody@example.com"); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("find(nobody) = %v, want not found", err)
	}
	if n := e.srv.Count("lookup"); n != 0 {
		t.Errorf("%d lookups, want none: every answer came from the pages", n)
	}
	// A name it was not given is looked up on its own.
	if got, err := find(t.Context(), "bob"); err != nil || got.OktaID != e.users[bob.Login].ID || e.srv.Count("lookup") != 1 {
		t.Errorf("find(bob) = %+v, %v after %d lookups; want bob, by one lookup", got, err, e.srv.Count("lookup"))
	}
	// A wait ends with its context.
	e.srv.SetLatency("search", time.Minute)
	slow := e.dir.FindAhead(t.Context(), []string{"alice@example.com"})
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	if _, err := slow(ctx, "alice@example.com"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a wait past its deadline = %v, want the deadline", err)
	}
	e.srv.Release("search")
}

// People found in a list carry the names they go by in other systems, as one found alone does.
func TestFindManyReadsThePeoplesOtherNames(t *testing.T) {
	t.Parallel()
	e := setup(t, false, directory.WithIDAttributes(map[string]string{"zoom": "zoomEmail"}))
	e.srv.AddUser(oktafake.User{Login: "carol@example.com", Email: "carol@example.com", SecondEmail: "c.hale@acquired.example",
		Attributes: map[string]string{"zoomEmail": "carol.zoom@example.com"}})
	found, missing, err := e.dir.FindMany(t.Context(), []string{"carol@example.com", alice.Login})
	if err != nil || len(missing) != 0 {
		t.Fatalf("FindMany: %v, missing %v", err, missing)
	}
	carol := found["carol@example.com"]
	if carol.SecondEmail != "c.hale@acquired.example" || carol.Names["zoom"] != "carol.zoom@example.com" {
		t.Errorf("carol = %+v, want her secondEmail and zoom name", carol)
	}
	if a := found[alice.Login]; a.SecondEmail != "" || len(a.Names) != 0 {
		t.Errorf("alice = %+v, want no other names (she has none)", a)
	}
}
