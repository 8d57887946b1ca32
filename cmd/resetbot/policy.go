package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/resetbot/resetbot/internal/config"
	"github.com/resetbot/resetbot/internal/directory"
	"github.com/resetbot/resetbot/internal/reset"
)

// configError is a problem the operator fixes in the configuration (exit code 2), as opposed
// to a system that could not be reached (exit code 1).
type configError struct{ err error }

func (e *configError) Error() string { return e.err.Error() }
func (e *configError) Unwrap() error { return e.err }

// exitFor is the exit code of a startup error: 2 for configuration, 1 for anything else.
func exitFor(err error) int {
	var ce *configError
	if errors.As(err, &ce) {
		return exitUsage
	}
	return exitRuntime
}

// resolvePolicy turns the configured group names and ids into groups by id, asking Okta once at
// startup: rights are then compared by id on every click, so a group created later with a
// configured name grants nothing. Every group that cannot be trusted is named in one error.
func resolvePolicy(ctx context.Context, dir *directory.Directory, cfg config.Config) (reset.Policy, error) {
	p := reset.Policy{
		RequirePeerApproval: cfg.RequirePeerApproval,
		ApproveProtected:    cfg.ProtectedPolicy == config.ProtectedApprove,
	}
	var problems []string
	for _, v := range []struct {
		key   string
		names []string
		into  *[]reset.Group
	}{
		{"RESETBOT_REQUESTER_GROUPS", cfg.RequesterGroups, &p.Requesters},
		{"RESETBOT_APPROVER_GROUPS", cfg.ApproverGroups, &p.Approvers},
		{"RESETBOT_PROTECTED_GROUPS", cfg.ProtectedGroups, &p.Protected},
	} {
		for _, name := range v.names {
			g, err := dir.Group(ctx, name)
			switch {
			case errors.Is(err, directory.ErrNoGroup):
				problems = append(problems, fmt.Sprintf("%s: no Okta group is named or has the id %q", v.key, name))
			case errors.Is(err, directory.ErrGroupChoice):
				problems = append(problems, fmt.Sprintf("%s: %v; set the id of the group you mean instead", v.key, err))
			case err != nil:
				return reset.Policy{}, fmt.Errorf("%s: resolve Okta group %q: %w", v.key, name, err)
			default:
				*v.into = append(*v.into, g)
			}
		}
	}
	if len(problems) > 0 {
		return reset.Policy{}, &configError{errors.New("configuration: " + strings.Join(problems, "; "))}
	}
	return p, nil
}
