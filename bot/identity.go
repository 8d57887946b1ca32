package bot

import (
	"context"
	"fmt"
	"slices"

	"github.com/resetbot/resetbot/internal/reset"
)

// Workspace is the Slack workspace that installed the app, and its Enterprise Grid org when
// it is part of one, as auth.test reports them at startup. Only its members act, unless
// Config.AllowedTeams names more workspaces.
type Workspace struct {
	TeamID       string
	EnterpriseID string
}

// teamAllowed reports whether an envelope from team (of enterprise) may be worked on: the
// installing workspace, its Grid org, and any workspace RESETBOT_ALLOWED_TEAMS adds.
func (b *Bot) teamAllowed(team, enterprise string) bool {
	home := b.cfg.Workspace
	return (team != "" && team == home.TeamID) ||
		(home.EnterpriseID != "" && enterprise == home.EnterpriseID) ||
		slices.Contains(b.cfg.AllowedTeams, team)
}

// identify turns a Slack user into an Okta person and what Okta says of them now: status and
// groups. Slack is asked who the user is, not the envelope: a user of another workspace, a
// Slack Connect stranger, a guest or bot, or someone whose email Slack has not confirmed is
// refused before Okta is asked, since their profile's email is no proof of who they are.
func (b *Bot) identify(ctx context.Context, slackID string) (reset.Actor, reset.Standing, *reset.Refusal) {
	actor := reset.Actor{SlackID: slackID}
	u, err := b.cfg.Slack.GetUserInfoContext(ctx, slackID)
	if err != nil {
		b.log.Error("users.info", "user", slackID, "error", err.Error())
		return actor, reset.Standing{}, &reset.Refusal{Code: "slack_error", Message: "I could not look you up in Slack just now; nothing was changed. Try again in a minute."}
	}
	actor.Name, actor.TeamID = u.Name, u.TeamID
	switch {
	case u.Deleted:
		return actor, reset.Standing{}, &reset.Refusal{Code: "deactivated", Message: "Your Slack account is deactivated."}
	case u.IsBot || u.IsAppUser:
		return actor, reset.Standing{}, &reset.Refusal{Code: "bot", Message: "Bots cannot request or approve session resets."}
	case u.IsStranger:
		return actor, reset.Standing{}, &reset.Refusal{Code: "stranger", Message: "You are in this channel through Slack Connect from another organisation; only members of this workspace can request or approve session resets."}
	case !b.teamAllowed(u.TeamID, u.Enterprise.EnterpriseID):
		return actor, reset.Standing{}, &reset.Refusal{Code: "foreign_user", Message: "Your Slack account belongs to another workspace; only members of the workspace resetbot is installed in can request or approve session resets."}
	case u.IsRestricted || u.IsUltraRestricted:
		return actor, reset.Standing{}, &reset.Refusal{Code: "guest", Message: "Guest accounts cannot request or approve session resets."}
	case u.Profile.Email == "":
		return actor, reset.Standing{}, &reset.Refusal{Code: "no_email", Message: "I cannot see an email address on your Slack profile, so I cannot find you in Okta. The app needs the users:read.email scope."}
	case !u.IsEmailConfirmed:
		return actor, reset.Standing{}, &reset.Refusal{Code: "email_unconfirmed", Message: "Slack has not confirmed the email address on your profile, so I cannot tell which Okta account is yours. Confirm it in Slack and try again."}
	}
	person, err := b.cfg.Directory.FindByEmail(ctx, u.Profile.Email)
	if err != nil {
		if isNotFound(err) {
			return actor, reset.Standing{}, &reset.Refusal{Code: "no_okta_account", Message: fmt.Sprintf("I could not find an Okta account for %s, so I cannot check your permissions.", escape(u.Profile.Email))}
		}
		b.log.Error("okta lookup of a responder", "user", slackID, "error", err.Error())
		return actor, reset.Standing{}, &reset.Refusal{Code: "okta_error", Message: b.oktaFailed(err, "checking your permissions")}
	}
	actor.OktaLogin, actor.OktaID = person.Login, person.OktaID
	groups, err := b.cfg.Directory.Groups(ctx, person.OktaID)
	if err != nil {
		b.log.Error("okta groups of a responder", "user", slackID, "error", err.Error())
		return actor, reset.Standing{}, &reset.Refusal{Code: "okta_error", Message: b.oktaFailed(err, "reading your Okta groups to check your permissions")}
	}
	return actor, standing(person, groups), nil
}

func standing(person reset.Target, groups []reset.Group) reset.Standing {
	st := reset.Standing{Status: person.Status}
	for _, g := range groups {
		st.Groups = append(st.Groups, g.ID)
	}
	return st
}

// roles reads from Okta, now, which of people are responders or protected: one person's own
// groups, or, for a batch, the members of each group that gives a role.
func (b *Bot) roles(ctx context.Context, people []reset.Target) (reset.Roles, error) {
	role := b.cfg.Policy.RoleGroups()
	in := map[string][]string{}
	if len(role) == 0 {
		return b.cfg.Policy.RolesOf(in), nil
	}
	if len(people) == 1 {
		if id := people[0].OktaID; id != "" {
			groups, err := b.cfg.Directory.Groups(ctx, id)
			if err != nil {
				return reset.Roles{}, err
			}
			in[id] = standing(people[0], groups).Groups
		}
		return b.cfg.Policy.RolesOf(in), nil
	}
	ids := map[string]bool{}
	for _, t := range people {
		ids[t.OktaID] = t.OktaID != ""
	}
	for _, g := range role {
		members, err := b.cfg.Directory.GroupMembers(ctx, g.ID, 0)
		if err != nil {
			return reset.Roles{}, fmt.Errorf("members of okta group %s: %w", g, err)
		}
		for _, m := range members {
			if ids[m.OktaID] {
				in[m.OktaID] = append(in[m.OktaID], g.ID)
			}
		}
	}
	return b.cfg.Policy.RolesOf(in), nil
}

// approvalNote says on the card when a request needs more than one approver.
func (b *Bot) approvalNote(req reset.Request, roles reset.Roles) string {
	if b.cfg.Policy.ApprovalsNeeded(req, roles) < 2 {
		return ""
	}
	return "A protected person is among the people to sign out: two responders other than the requester must approve."
}
