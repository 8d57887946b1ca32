package directory

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/okta/okta-sdk-golang/v2/okta"
	"github.com/okta/okta-sdk-golang/v2/okta/query"

	"github.com/resetbot/resetbot/internal/reset"
)

// ErrNoGroup is matched by errors.Is, together with ErrNotFound, when no Okta group has the
// name given.
var ErrNoGroup = fmt.Errorf("no such group in Okta: %w", ErrNotFound)

// GroupMembers lists everyone in the Okta group called name, following pagination to the
// end. Okta's q= finds groups whose name starts with name, so the one whose name is name
// (ignoring case, as Okta does) is picked. Members come in
// whatever lifecycle status they are in: a suspended member still has sessions to end.
func (d *Directory) GroupMembers(ctx context.Context, name string) ([]reset.Target, error) {
	name, err := checkName(strings.TrimSpace(name))
	if err != nil {
		return nil, err
	}
	id, err := d.groupID(ctx, name)
	if err != nil {
		return nil, err
	}
	var members []reset.Target
	err = allPages(ctx, d, "list members of okta group "+quote(name), func() ([]*okta.User, *okta.Response, error) {
		return d.groups.ListGroupUsers(ctx, url.PathEscape(id), query.NewQueryParams(query.WithLimit(200)))
	}, func(u *okta.User) { members = append(members, target(u)) })
	if err != nil {
		return nil, err
	}
	return members, nil
}

// groupID finds the id of the group called name.
func (d *Directory) groupID(ctx context.Context, name string) (string, error) {
	what := "find okta group " + quote(name)
	var id string
	err := allPages(ctx, d, what, func() ([]*okta.Group, *okta.Response, error) {
		return d.groups.ListGroups(ctx, query.NewQueryParams(query.WithQ(name), query.WithLimit(200)))
	}, func(g *okta.Group) {
		if id == "" && (g.Id == name || (g.Profile != nil && strings.EqualFold(g.Profile.Name, name))) {
			id = g.Id
		}
	})
	switch {
	case err != nil:
		return "", err
	case id == "":
		return "", fmt.Errorf("%s: %w", what, ErrNoGroup)
	}
	return id, nil
}
