package directory_test

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
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

			got, err := e.dir.GroupMembers(t.Context(), "FINANCE")
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
	_, err := e.dir.GroupMembers(t.Context(), "Finance")
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
	_, err := e.dir.GroupMembers(t.Context(), "Finance")
	if kind, _, _ := reset.Classify(err); err == nil || errors.Is(err, directory.ErrNotFound) || kind != reset.Retryable {
		t.Errorf("GroupMembers with Okta down = %v (%v); want a retryable error, not 'no such group'", err, kind)
	}
}
