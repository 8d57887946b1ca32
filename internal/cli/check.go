package cli

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/resetbot/resetbot/internal/app"
	"github.com/resetbot/resetbot/internal/config"
	"github.com/resetbot/resetbot/internal/directory"
	"github.com/resetbot/resetbot/internal/oktaclient"
	"github.com/resetbot/resetbot/internal/reset"
)

// check validates configuration and then asks each configured system for a token and one
// harmless read, so an operator learns about a missing permission before an incident does.
func (a *invocation) check(ctx context.Context, args []string) int {
	fs := a.flags("check", "check")
	if code, ok := a.parse(fs, args); !ok {
		return code
	}
	w, err := app.WireFor(ctx, a.env.Getenv, a.roots, config.Need{})
	if err != nil {
		fmt.Fprintf(a.stderr, "resetbot check: %v\n", err)
		return exitUsage
	}
	fmt.Fprintln(a.stdout, "Configuration: valid")
	if w.Config.Slack.BotToken == "" || w.Config.Slack.AppToken == "" {
		fmt.Fprintln(a.stdout, "Slack:         SLACK_BOT_TOKEN and SLACK_APP_TOKEN are needed for `resetbot run`")
	}

	results := make([]string, len(w.Systems))
	failed := false
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i, s := range w.Systems {
		if s.Provider == nil {
			results[i] = "skipped\t" + s.Skip
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			defer cancel()
			start := time.Now()
			err := s.Provider.Check(ctx)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failed = true
				results[i] = "FAILED\t" + err.Error()
				return
			}
			results[i] = fmt.Sprintf("ok\ttoken obtained, read allowed (%s)", time.Since(start).Round(time.Millisecond))
		}()
	}
	wg.Wait()
	fmt.Fprintln(a.stdout, "\nSystems:")
	tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	for i, s := range w.Systems {
		fmt.Fprintf(tw, "  %s\t%s\n", s.Name, results[i])
	}
	_ = tw.Flush()
	code := exitOK
	if failed {
		code = exitFailed
	}
	if w.Directory != nil {
		if c := a.checkPolicy(ctx, w); c > code {
			code = c
		}
		if c := a.checkNames(ctx, w); c > code {
			code = c
		}
	}
	return code
}

// checkPolicy resolves the configured groups as `run` does and says whether the Okta user
// behind resetbot's own token is protected: whoever can sign that admin out can blind resetbot.
func (a *invocation) checkPolicy(ctx context.Context, w *app.Wiring) int {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	fmt.Fprintln(a.stdout, "\nOkta groups:")
	policy, err := app.ResolvePolicy(ctx, w.Directory, w.Config)
	if err != nil {
		fmt.Fprintf(a.stdout, "  FAILED  %v\n", err)
		return exitFor(err)
	}
	for _, role := range []struct {
		name   string
		groups []reset.Group
	}{{"requesters", policy.Requesters}, {"approvers", policy.Approvers}, {"protected", policy.Protected}} {
		if len(role.groups) == 0 {
			continue
		}
		var named []string
		for _, g := range role.groups {
			named = append(named, fmt.Sprintf("%s (%s, %s)", g.Name, g.ID, g.Type))
		}
		fmt.Fprintf(a.stdout, "  %-10s  %s\n", role.name, strings.Join(named, ", "))
	}
	if len(policy.Approvers) == 0 && len(policy.Requesters) > 0 {
		fmt.Fprintln(a.stdout, "  approvers   the requesters (RESETBOT_APPROVER_GROUPS is not set)")
	}
	me, ok, err := w.Directory.Me(ctx)
	switch {
	case w.Config.Okta.ClientID != "":
		fmt.Fprintln(a.stdout, "\nresetbot's Okta admin: an OAuth service app, which no session reset signs out")
		return exitOK
	case err != nil:
		fmt.Fprintf(a.stdout, "\nresetbot's Okta admin: FAILED to read who the API token belongs to: %v\n", err)
		return exitFailed
	case !ok:
		fmt.Fprintln(a.stdout, "\nresetbot's Okta admin: Okta did not say whom the API token belongs to")
		return exitOK
	}
	groups, err := w.Directory.Groups(ctx, me.OktaID)
	if err != nil {
		fmt.Fprintf(a.stdout, "\nresetbot's Okta admin: FAILED to read the groups of %s: %v\n", me.Login, err)
		return exitFailed
	}
	var ids []string
	for _, g := range groups {
		ids = append(ids, g.ID)
	}
	if g, protected := policy.ProtectedBy(ids); protected {
		fmt.Fprintf(a.stdout, "\nresetbot's Okta admin: %s is protected (%s)\n", me.Login, g)
		return exitOK
	}
	fmt.Fprintf(a.stdout, "\nresetbot's Okta admin: %s is NOT protected: put it in a group named in RESETBOT_PROTECTED_GROUPS, "+
		"or a responder could sign out the account resetbot works through\n", me.Login)
	return exitOK
}

// checkNames reads Okta's user schema and says, for each profile attribute other systems are
// asked under (every RESETBOT_<SYSTEM>_ID_ATTRIBUTE, then secondEmail, asked last in every
// system), whether Okta has it and whether people can edit it themselves: someone holding a
// person's Okta session could point such a name at someone else's account, so that a reset
// signs out the wrong account and leaves theirs alive. A name people can edit is a warning;
// a mapped attribute Okta does not have is a configuration problem (exit 2), since no one
// would ever be found under it; a schema resetbot may not read is said, with what to grant.
func (a *invocation) checkNames(ctx context.Context, w *app.Wiring) int {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	type asked struct{ variable, attr string }
	var names []asked
	for _, system := range config.IDSystems() {
		if attr := w.Config.IDAttributes[system]; attr != "" {
			names = append(names, asked{config.IDAttributeVariable(system), attr})
		}
	}
	names = append(names, asked{attr: "secondEmail"})
	attrs := make([]string, len(names))
	for i, n := range names {
		attrs[i] = n.attr
	}

	fmt.Fprintln(a.stdout, "\nOkta profile attributes other systems are asked under (default user type):")
	found, err := w.Directory.Attributes(ctx, attrs...)
	switch {
	case errors.Is(err, directory.ErrSchemaRefused):
		mapped := slices.Compact(slices.Sorted(slices.Values(attrs[:len(attrs)-1])))
		mapped = slices.DeleteFunc(mapped, func(n string) bool { return n == "secondEmail" })
		unknown := "whether people can edit " + strings.Join(append(slices.Clone(mapped), "secondEmail"), ", ") + " themselves"
		if len(mapped) > 0 {
			unknown += ", nor whether Okta has " + strings.Join(mapped, ", ")
		}
		grant := "give the admin behind OKTA_API_TOKEN a role that may read the user schema (Directory → Profile Editor)"
		if w.Config.Okta.ClientID != "" {
			grant = "grant the service app the scope " + oktaclient.ScopeSchemasRead + " (its Okta API Scopes tab) and an admin role that may read the user schema"
		}
		fmt.Fprintf(a.stdout, "  %-7s  Okta would not show resetbot its user schema, so check cannot tell %s. "+
			"To have it checked, %s; resetbot itself does not need it. (%v)\n", "skipped", unknown, grant, err)
		return exitOK
	case err != nil:
		fmt.Fprintf(a.stdout, "  %-7s  %v\n", "FAILED", err)
		return exitFailed
	}
	code := exitOK
	for i, n := range names {
		status, line := nameLine(n.variable, found[i])
		if status == "FAILED" {
			code = exitUsage
		}
		fmt.Fprintf(a.stdout, "  %-7s  %s\n", status, line)
	}
	return code
}

// nameLine is what check says of one attribute resetbot asks other systems under: named by
// variable, or secondEmail (variable empty).
func nameLine(variable string, attr directory.Attribute) (status, line string) {
	subject := attr.Name + ", asked last in every system,"
	if variable != "" {
		subject = variable + " names " + attr.Name + ", which"
	}
	switch {
	case !attr.Exists && variable == "":
		// Every Okta org has secondEmail: an answer without it is not Okta's schema as known.
		return "WARNING", fmt.Sprintf("Okta's user schema does not list %s, which every Okta org has: check it in Okta's Profile Editor", attr.Name)
	case !attr.Exists:
		like := ""
		if attr.Like != "" {
			like = " (it has " + attr.Like + ": Okta's names are case-sensitive)"
		}
		return "FAILED", fmt.Sprintf("%s Okta's user schema does not have%s: no one would ever be found under it. "+
			"Set %s to an attribute's variable name as Okta's Profile Editor shows it", subject, like, variable)
	case attr.SelfEditable():
		if variable == "" {
			subject = attr.Name + ", asked last in every system, is one"
		}
		return "WARNING", fmt.Sprintf("%s people can edit themselves in Okta: a stolen session could point it at someone else's account. "+
			"In Okta's Profile Editor set %s's User permission to Read only", subject, attr.Name)
	case attr.Self == "READ_ONLY" || attr.Self == "HIDE":
		shown := map[string]string{"READ_ONLY": "Read only", "HIDE": "Hide"}[attr.Self]
		if variable == "" {
			return "ok", fmt.Sprintf("%s cannot be edited by people themselves (User permission: %s)", subject, shown)
		}
		return "ok", fmt.Sprintf("%s people cannot edit themselves (User permission: %s)", subject, shown)
	default:
		return "WARNING", fmt.Sprintf("%s has no User permission resetbot knows (%q) in Okta's user schema: "+
			"in Okta's Profile Editor make sure %s's User permission is Read only", subject, attr.Self, attr.Name)
	}
}
