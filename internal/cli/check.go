package cli

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/resetbot/resetbot/internal/app"
	"github.com/resetbot/resetbot/internal/config"
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
