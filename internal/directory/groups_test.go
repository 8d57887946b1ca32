package directory_test

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/resetbot/resetbot/internal/directory"
	"github.com/resetbot/resetbot/internal/fake"
	"github.com/resetbot/resetbot/internal/reset"
)

func TestGroupMembersFollowsPaginationAndPicksTheExactName(t *testing.T) {
	t.Parallel()
	for _, serviceApp := range []bool{false, true} {
		t.Run(fmt.Sprintf("service app %v", serviceApp), func(t *testing.T) {
			t.Parallel()
			e := setup(t, serviceApp)
			e.srv.SetGroupPageSize(2)
			// "Finance" is a prefix of the others: Okta's q= returns all three.
			finance := e.srv.AddGroup("", "Finance")
			e.srv.AddGroup("", "Finance Contractors")
			other := e.srv.AddGroup("", "finance-archive")
			var want []string
			for _, login := range []string{alice.Login, bob.Login, twin1.Login, twin2.Login, obrien.Login} {
				e.srv.AddToGroup(e.users[login].ID, finance)
				want = append(want, e.users[login].ID)
			}
			e.srv.AddToGroup(e.users[alice.Login].ID, other)

			got, err := e.dir.GroupMembers(t.Context(), "FINANCE", 0)
			if err != nil {
				t.Fatalf("GroupMembers: %v", err)
			}
			var ids []string
			for _, m := range got {
				ids = append(ids, m.OktaID)
			}
			if !slices.Equal(ids, want) {
				t.Errorf("members = %v, want %v", ids, want)
			}
			if got[1].Status != "SUSPENDED" || got[0].Email != alice.Email {
				t.Errorf("members lost their profile: %+v", got[:2])
			}
			if n := e.srv.Count("members"); n != 3 {
				t.Errorf("member pages fetched = %d, want 3 (2+2+1)", n)
			}
		})
	}
}

func TestGroupMembersOfUnknownGroup(t *testing.T) {
	t.Parallel()
	e := setup(t, false)
	e.srv.AddGroup("", "Finance Contractors")
	_, err := e.dir.GroupMembers(t.Context(), "Finance", 0)
	if !errors.Is(err, directory.ErrNoGroup) || !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("GroupMembers(Finance) = %v; want no such group (only a longer name exists)", err)
	}
	if n := e.srv.Count("members"); n != 0 {
		t.Errorf("%d member listings for a group that does not exist", n)
	}
}

func TestGroupMembersWhenOktaFails(t *testing.T) {
	t.Parallel()
	e := setup(t, false)
	id := e.srv.AddGroup("", "Finance")
	e.srv.AddToGroup(e.users[alice.Login].ID, id)
	e.srv.Fail("members", fake.Fault{Status: http.StatusServiceUnavailable})
	_, err := e.dir.GroupMembers(t.Context(), "Finance", 0)
	if kind, _, _ := reset.Classify(err); err == nil || errors.Is(err, directory.ErrNotFound) || kind != reset.Retryable {
		t.Errorf("GroupMembers with Okta down = %v (%v); want a retryable error, not 'no such group'", err, kind)
	}
}

func TestGroupMembersStopsPagingPastTheLimit(t *testing.T) {
	t.Parallel()
	e := setup(t, false)
	e.srv.SetGroupPageSize(2)
	finance := e.srv.AddGroup("", "Finance")
	for _, login := range []string{alice.Login, bob.Login, twin1.Login, twin2.Login, obrien.Login} {
		e.srv.AddToGroup(e.users[login].ID, finance)
	}
	got, err := e.dir.GroupMembers(t.Context(), finance, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Errorf("got %d members; want 3: enough to know the group is over the limit of 2", len(got))
	}
	if n := e.srv.Count("members"); n != 2 {
		t.Errorf("member pages fetched = %d; want 2, the rest is not needed", n)
	}
}

func TestGroupResolvesNamesToOneOktaGroupAndIdsToAnyGroup(t *testing.T) {
	t.Parallel()
	e := setup(t, false)
	responders := e.srv.AddGroup("", "Security Responders")
	e.srv.AddGroup("", "Security Responders Alumni") // a longer name q= also returns
	imported := e.srv.AddGroupOfType("", "Google Admins", "APP_GROUP")
	twinA := e.srv.AddGroup("", "Approvers")
	twinB := e.srv.AddGroupOfType("", "approvers", "APP_GROUP")
	builtIn := e.srv.AddGroupOfType("00gEVERYONE000000000", "Everyone", "BUILT_IN")
	tests := []struct {
		name    string
		give    string
		want    reset.Group
		wantErr error
		mention []string
	}{
		{name: "an okta group by name, ignoring case", give: "security responders",
			want: reset.Group{ID: responders, Name: "Security Responders", Type: "OKTA_GROUP"}},
		{name: "an okta group by id", give: responders,
			want: reset.Group{ID: responders, Name: "Security Responders", Type: "OKTA_GROUP"}},
		{name: "an imported group by id is an explicit choice", give: imported,
			want: reset.Group{ID: imported, Name: "Google Admins", Type: "APP_GROUP"}},
		{name: "an imported group by name is refused", give: "Google Admins", wantErr: directory.ErrGroupChoice,
			mention: []string{imported, "APP_GROUP"}},
		{name: "a built-in group by name is refused", give: "Everyone", wantErr: directory.ErrGroupChoice,
			mention: []string{builtIn, "BUILT_IN"}},
		{name: "a name two groups share is refused, naming both", give: "Approvers", wantErr: directory.ErrGroupChoice,
			mention: []string{twinA, "OKTA_GROUP", twinB, "APP_GROUP"}},
		{name: "a name no group has", give: "Security", wantErr: directory.ErrNoGroup},
		{name: "an id no group has", give: "00gNOSUCHGROUP0000000", wantErr: directory.ErrNoGroup},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := e.dir.Group(t.Context(), tt.give)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Group(%q) = %v, %v; want %v", tt.give, got, err, tt.wantErr)
				}
				for _, m := range tt.mention {
					if !strings.Contains(err.Error(), m) {
						t.Errorf("error %q does not mention %s", err, m)
					}
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("Group(%q) = %+v, %v; want %+v", tt.give, got, err, tt.want)
			}
		})
	}
}

func TestMeIsTheTokensOwner(t *testing.T) {
	t.Parallel()
	e := setup(t, false)
	if _, ok, err := e.dir.Me(t.Context()); ok || err != nil {
		t.Errorf("Me with no owner = %v, %v; want none", ok, err)
	}
	e.srv.SetTokenOwner(e.users[bob.Login].ID)
	me, ok, err := e.dir.Me(t.Context())
	if err != nil || !ok || me.OktaID != e.users[bob.Login].ID {
		t.Errorf("Me = %+v, %v, %v; want bob", me, ok, err)
	}
}
