package reset

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Refusal is a decision not to let someone act, in words for the person refused.
type Refusal struct {
	// Code is a stable word for logs, metrics and the audit log.
	Code string
	// Message is shown privately to the person refused.
	Message string
}

func (r *Refusal) Error() string { return r.Message }

// Group is an Okta group a policy names. Rights go with the id: two groups can share a name
// (an imported APP_GROUP called like the responders' own group), so the name is only for the
// people reading a message.
type Group struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
	// Type is Okta's group type: OKTA_GROUP, APP_GROUP (imported from a directory) or BUILT_IN.
	Type string `json:"type,omitempty"`
}

func (g Group) String() string {
	if g.Name == "" {
		return g.ID
	}
	return g.Name
}

// Active is the one Okta lifecycle status in which a person may act. A responder whose
// account is suspended, locked out, deprovisioned or waiting for a password change may be the
// compromised one; their Slack session is not theirs to trust.
const Active = "ACTIVE"

// Standing is what Okta says of a person at the moment they act: their lifecycle status and
// the ids of the groups they are in. It is read fresh for every decision, never cached, so a
// responder suspended or removed from a group a second ago has no say.
type Standing struct {
	Status string
	Groups []string
}

// Roles is what Okta says, at the moment of a decision, of the people a request signs out.
// Both map an Okta user id to the group that gives the role, for messages.
type Roles struct {
	// Responders are people who may themselves request or approve resets.
	Responders map[string]Group
	// Protected are people resetbot signs out only with two approvals, or never.
	Protected map[string]Group
}

// Policy is who may ask, approve and cancel, and what needs more than one approver. It is a
// function of plain data: the bot reads Okta, the policy decides.
type Policy struct {
	Requesters []Group
	// Approvers may approve and cancel; empty means the requesters.
	Approvers []Group
	// Protected people (break-glass admins, resetbot's own Okta admin) are not signed out
	// unless ApproveProtected, and then only after two approvers other than the requester.
	Protected        []Group
	ApproveProtected bool
	// RequirePeerApproval keeps a requester from approving their own request. Off is an
	// explicit choice for one-person teams; a request about a responder or a protected
	// person needs another person's approval whatever it says.
	RequirePeerApproval bool
}

// MayAct refuses a person whose Okta account is not active.
func (p Policy) MayAct(st Standing) *Refusal {
	if st.Status == Active {
		return nil
	}
	status := st.Status
	if status == "" {
		status = "of unknown status"
	}
	return &Refusal{Code: "inactive", Message: fmt.Sprintf(
		"Your Okta account is %s, so you cannot request, approve or cancel session resets. Another responder can.", status)}
}

// MayRequest decides whether a person in standing st may ask for a reset.
func (p Policy) MayRequest(st Standing) *Refusal {
	if r := p.MayAct(st); r != nil {
		return r
	}
	if !memberOf(st.Groups, p.Requesters) {
		return &Refusal{Code: "not_requester", Message: fmt.Sprintf(
			"You are not allowed to request session resets: you need to be in one of these Okta groups: %s.", names(p.Requesters))}
	}
	return nil
}

// MayAsk decides whether req may be asked for at all, given what Okta says of its people: a
// protected person is refused unless the policy lets two approvers decide.
func (p Policy) MayAsk(req Request, roles Roles) *Refusal {
	if p.ApproveProtected {
		return nil
	}
	if who := roles.protected(req.People()); len(who) > 0 {
		return &Refusal{Code: "protected", Message: fmt.Sprintf(
			"%s protected (%s), and resetbot does not sign protected people out; nothing was posted. "+
				"An administrator can end their sessions in each system, or set RESETBOT_PROTECTED_POLICY=approve to allow it with two approvers.",
			who, roles.protectedBy(req.People()))}
	}
	return nil
}

// ApprovalsNeeded is how many people must approve req: two for a request about a protected
// person, one otherwise.
func (p Policy) ApprovalsNeeded(req Request, roles Roles) int {
	if len(roles.protected(req.People())) > 0 {
		return 2
	}
	return 1
}

// MayApprove decides whether approver, in standing st, may approve req at now, given what Okta
// says of req's people.
func (p Policy) MayApprove(req Request, approver Actor, st Standing, roles Roles, now time.Time) *Refusal {
	people := req.People()
	switch {
	case req.State != Pending:
		return &Refusal{Code: "not_pending", Message: fmt.Sprintf("This request is already %s; nothing was changed.", req.State)}
	case !req.ExpiresAt.IsZero() && !now.Before(req.ExpiresAt):
		return &Refusal{Code: "expired", Message: "This request expired before it was approved; nothing was reset. Ask again if it is still needed."}
	}
	if r := p.MayAct(st); r != nil {
		return r
	}
	switch {
	case !memberOf(st.Groups, p.approvers()):
		return &Refusal{Code: "not_approver", Message: fmt.Sprintf(
			"You are not allowed to approve session resets: you need to be in one of these Okta groups: %s.", names(p.approvers()))}
	case isPerson(people, approver):
		return &Refusal{Code: "self_target", Message: "You are one of the people this request signs out, so someone else has to approve it."}
	case sameActor(req.Requester, approver) && p.RequirePeerApproval:
		return &Refusal{Code: "self_approval", Message: "You asked for this reset, and another responder has to approve it."}
	case sameActor(req.Requester, approver) && len(roles.responders(people)) > 0:
		return &Refusal{Code: "self_approval", Message: fmt.Sprintf(
			"You asked for this reset, and it signs out %s, who can approve resets too: another responder has to approve it.", roles.responders(people).names())}
	case sameActor(req.Requester, approver) && len(roles.protected(people)) > 0:
		return &Refusal{Code: "self_approval", Message: "You asked for this reset of a protected person: two other responders have to approve it."}
	case slices.ContainsFunc(req.Approvals, func(a Actor) bool { return sameActor(a, approver) }):
		return &Refusal{Code: "already_approved", Message: "You already approved this request; it needs another responder's approval too."}
	case !p.ApproveProtected && len(roles.protected(people)) > 0:
		return &Refusal{Code: "protected", Message: fmt.Sprintf(
			"%s protected (%s) since this request was made, and resetbot does not sign protected people out; nothing was reset.",
			roles.protected(people), roles.protectedBy(people))}
	}
	return nil
}

// MayRetry decides whether by, in standing st, may run the failed systems of a finished
// request again: whoever could have approved it, by the same rules (nobody about
// themselves, not the requester alone when peers are required or the people are responders).
// One approval is enough: the reset itself was approved already.
func (p Policy) MayRetry(req Request, by Actor, st Standing, roles Roles, now time.Time) *Refusal {
	if req.State != StatePartial && req.State != StateFailed {
		return &Refusal{Code: "not_retryable", Message: fmt.Sprintf("This request is %s: only a request that ended partial or failed can be retried.", req.State)}
	}
	again := req
	again.State, again.ExpiresAt, again.Approvals = Pending, time.Time{}, nil
	if r := p.MayApprove(again, by, st, roles, now); r != nil {
		return r
	}
	return nil
}

// MayCancel decides whether by, in standing st, may cancel req at now: its requester while still a
// requester, or anyone who could approve it, but never one of the people it signs out.
func (p Policy) MayCancel(req Request, by Actor, st Standing, now time.Time) *Refusal {
	switch {
	case req.State != Pending:
		return &Refusal{Code: "not_pending", Message: fmt.Sprintf("This request is already %s; nothing was changed.", req.State)}
	case !req.ExpiresAt.IsZero() && !now.Before(req.ExpiresAt):
		return &Refusal{Code: "expired", Message: "This request expired before anyone approved it; nothing was reset or changed."}
	}
	if r := p.MayAct(st); r != nil {
		return r
	}
	if isPerson(req.People(), by) {
		return &Refusal{Code: "self_target", Message: "You are one of the people this request signs out, so you cannot cancel it; another responder can."}
	}
	if (sameActor(req.Requester, by) && memberOf(st.Groups, p.Requesters)) || memberOf(st.Groups, p.approvers()) {
		return nil
	}
	return &Refusal{Code: "not_approver", Message: "Only the requester or an approver can cancel this request."}
}

// Responder reports whether someone in these groups may request or approve: a request about
// them needs another person's approval, and an Okta event about them never resets at once.
func (p Policy) Responder(groups []string) (Group, bool) {
	return firstOf(groups, append(slices.Clone(p.Requesters), p.approvers()...))
}

// ProtectedBy reports the protected group someone in these groups is in, if any.
func (p Policy) ProtectedBy(groups []string) (Group, bool) { return firstOf(groups, p.Protected) }

// RoleGroups are every group whose members have a role: responders and protected people.
func (p Policy) RoleGroups() []Group {
	var all []Group
	for _, g := range slices.Concat(p.Requesters, p.approvers(), p.Protected) {
		if !slices.ContainsFunc(all, func(h Group) bool { return h.ID == g.ID }) {
			all = append(all, g)
		}
	}
	return all
}

func (p Policy) approvers() []Group {
	if len(p.Approvers) == 0 {
		return p.Requesters
	}
	return p.Approvers
}

// RolesOf builds Roles from each person's groups (Okta id → group ids).
func (p Policy) RolesOf(groups map[string][]string) Roles {
	roles := Roles{Responders: map[string]Group{}, Protected: map[string]Group{}}
	for id, gs := range groups {
		if g, ok := p.Responder(gs); ok {
			roles.Responders[id] = g
		}
		if g, ok := p.ProtectedBy(gs); ok {
			roles.Protected[id] = g
		}
	}
	return roles
}

// people names some of a request's people for a message: "alice@example.com is", "2 people
// (alice@example.com, bob@example.com) are".
type people []Target

func (ps people) String() string {
	if len(ps) == 1 {
		return ps[0].String() + " is"
	}
	return fmt.Sprintf("%d people (%s) are", len(ps), ps.names())
}

// names lists the first few people.
func (ps people) names() string {
	var names []string
	for i, t := range ps {
		if i == 5 {
			names = append(names, fmt.Sprintf("and %d more", len(ps)-5))
			break
		}
		names = append(names, t.String())
	}
	return strings.Join(names, ", ")
}

func (r Roles) responders(ts []Target) people { return pick(ts, r.Responders) }
func (r Roles) protected(ts []Target) people  { return pick(ts, r.Protected) }

// protectedBy names the protected groups of ts, for a message.
func (r Roles) protectedBy(ts []Target) string {
	var gs []string
	for _, t := range pick(ts, r.Protected) {
		if g := r.Protected[t.OktaID].String(); !slices.Contains(gs, g) {
			gs = append(gs, g)
		}
	}
	return "Okta group " + strings.Join(gs, ", ")
}

func pick(ts []Target, in map[string]Group) people {
	var got people
	for _, t := range ts {
		if _, ok := in[t.OktaID]; ok && t.OktaID != "" {
			got = append(got, t)
		}
	}
	return got
}

// isPerson reports whether a is one of ts: by Okta id, or by login or email for people named
// but not yet looked up.
func isPerson(ts []Target, a Actor) bool {
	return slices.ContainsFunc(ts, func(t Target) bool {
		return (a.OktaID != "" && a.OktaID == t.OktaID) ||
			(a.OktaLogin != "" && (strings.EqualFold(a.OktaLogin, t.Login) || strings.EqualFold(a.OktaLogin, t.Email)))
	})
}

func sameActor(a, b Actor) bool {
	return (a.SlackID != "" && a.SlackID == b.SlackID) ||
		(a.OktaID != "" && a.OktaID == b.OktaID) ||
		(a.OktaLogin != "" && strings.EqualFold(a.OktaLogin, b.OktaLogin))
}

// memberOf compares group ids: a group matched by name could be any group of that name.
func memberOf(have []string, want []Group) bool {
	_, ok := firstOf(have, want)
	return ok
}

func firstOf(have []string, want []Group) (Group, bool) {
	for _, g := range want {
		if g.ID != "" && slices.Contains(have, g.ID) {
			return g, true
		}
	}
	return Group{}, false
}

func names(gs []Group) string {
	var n []string
	for _, g := range gs {
		n = append(n, g.String())
	}
	return strings.Join(n, ", ")
}
