package app

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/resetbot/resetbot/internal/config"
	"github.com/resetbot/resetbot/internal/directory"
	"github.com/resetbot/resetbot/internal/reset"
)

// ConfigError is a problem the operator fixes in the configuration, as opposed to a system
// that could not be reached: the command line exits 2 for the first, 1 for the second.
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

// IsConfig reports whether err is the operator's to fix in the configuration.
func IsConfig(err error) bool {
	var ce *ConfigError
	return errors.As(err, &ce)
}

// ResolvePolicy turns the configured group names and ids into groups by id, asking Okta once at
// startup: rights are then compared by id on every click, so a group created later with a
// configured name grants nothing. Every group that cannot be trusted is named in one error.
func ResolvePolicy(ctx context.Context, dir *directory.Directory, cfg config.Config) (reset.Policy, error) {
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
		return reset.Policy{}, &ConfigError{errors.New("configuration: " + strings.Join(problems, "; "))}
	}
	return p, nil
}
