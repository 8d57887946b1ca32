package directory

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/okta/okta-sdk-golang/v2/okta"
	"github.com/okta/okta-sdk-golang/v2/okta/query"

	"github.com/resetbot/resetbot/internal/reset"
)

// ErrNoGroup is matched by errors.Is, together with ErrNotFound, when no Okta group has the
// name given.
var ErrNoGroup = fmt.Errorf("no such group in Okta: %w", ErrNotFound)

// ErrGroupChoice is matched by errors.Is when a group named by name cannot be trusted to be
// the one meant: several groups have the name, or the one that has it is not an Okta group
// (an imported APP_GROUP can be given any name by whoever runs the directory it comes from).
// Naming the group by its id settles both.
var ErrGroupChoice = errors.New("the group must be named by its id")

// oktaGroup is the type of groups mastered in Okta itself.
const oktaGroup = "OKTA_GROUP"

// groupIDRE is the shape of an Okta group id.
var groupIDRE = regexp.MustCompile(`^00g[0-9A-Za-z]{17}$`)

// Group resolves a group as an operator configured it, by id or by exact name (ignoring case,
// as Okta does). A name must match exactly one group, of type OKTA_GROUP; an id may be of any
// type, since naming it is an explicit choice. Errors match ErrNoGroup or ErrGroupChoice,
// naming the candidates and their types, or are Okta failures.
func (d *Directory) Group(ctx context.Context, nameOrID string) (reset.Group, error) {
	name, err := checkName(nameOrID)
	if err != nil {
		return reset.Group{}, fmt.Errorf("find okta group: %w", ErrNoGroup)
	}
	if groupIDRE.MatchString(name) {
		var g *okta.Group
		err := d.call(ctx, "read okta group "+quote(name), func() (*okta.Response, error) {
			var (
				resp *okta.Response
				err  error
			)
			g, resp, err = d.groups.GetGroup(ctx, url.PathEscape(name))
			return resp, err
		})
		switch {
		case errors.Is(err, ErrNotFound):
			return reset.Group{}, fmt.Errorf("okta group %s: %w", quote(name), ErrNoGroup)
		case err != nil:
			return reset.Group{}, err
		}
		return group(g), nil
	}
	found, err := d.groupsNamed(ctx, name)
	if err != nil {
		return reset.Group{}, err
	}
	switch {
	case len(found) == 0:
		return reset.Group{}, fmt.Errorf("okta group %s: %w", quote(name), ErrNoGroup)
	case len(found) > 1:
		return reset.Group{}, fmt.Errorf("okta group %s: %d groups have that name (%s): %w",
			quote(name), len(found), describe(found), ErrGroupChoice)
	case found[0].Type != oktaGroup:
		return reset.Group{}, fmt.Errorf("okta group %s is %s, not an Okta group: imported groups grant rights only when named by id: %w",
			quote(name), describe(found), ErrGroupChoice)
	}
	return found[0], nil
}

// describe lists groups as "00g… (OKTA_GROUP), 00g… (APP_GROUP)".
func describe(gs []reset.Group) string {
	parts := make([]string, len(gs))
	for i, g := range gs {
		parts[i] = fmt.Sprintf("%s (%s)", g.ID, g.Type)
	}
	return strings.Join(parts, ", ")
}

// groupsNamed lists every group whose name is name, ignoring case. Okta's q= finds groups whose
// name starts with name, so the exact ones are picked from its answer.
func (d *Directory) groupsNamed(ctx context.Context, name string) ([]reset.Group, error) {
	var found []reset.Group
	err := allPages(ctx, d, "find okta group "+quote(name), func() ([]*okta.Group, *okta.Response, error) {
		return d.groups.ListGroups(ctx, query.NewQueryParams(query.WithQ(name), query.WithLimit(200)))
	}, func(g *okta.Group) bool {
		if g.Profile != nil && strings.EqualFold(g.Profile.Name, name) {
			found = append(found, group(g))
		}
		return true
	})
	return found, err
}

// GroupMembers lists the people in the Okta group named by id, or by name as Group resolves it
// (any type: a batch is approved by a person who sees who is in it), following pagination
// until the end or until more than limit people are found (limit <= 0: no limit). Members come
// in whatever lifecycle status they are in: a suspended member still has sessions to end.
func (d *Directory) GroupMembers(ctx context.Context, nameOrID string, limit int) ([]reset.Target, error) {
	name, err := checkName(strings.TrimSpace(nameOrID))
	if err != nil {
		return nil, err
	}
	id := name
	if !groupIDRE.MatchString(name) {
		found, err := d.groupsNamed(ctx, name)
		switch {
		case err != nil:
			return nil, err
		case len(found) == 0:
			return nil, fmt.Errorf("find okta group %s: %w", quote(name), ErrNoGroup)
		case len(found) > 1:
			return nil, fmt.Errorf("okta group %s: %d groups have that name (%s): %w", quote(name), len(found), describe(found), ErrGroupChoice)
		}
		id = found[0].ID
	}
	var members []reset.Target
	err = allPages(ctx, d, "list members of okta group "+quote(name), func() ([]*okta.User, *okta.Response, error) {
		return d.groups.ListGroupUsers(ctx, url.PathEscape(id), query.NewQueryParams(query.WithLimit(200)))
	}, func(u *okta.User) bool {
		members = append(members, d.target(u))
		return limit <= 0 || len(members) <= limit
	})
	if errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("okta group %s: %w", quote(name), ErrNoGroup)
	}
	if err != nil {
		return nil, err
	}
	return members, nil
}
