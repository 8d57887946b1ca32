package reset

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// State is where a request is in its life. Only pending → running is contested (many clicks,
// many replicas), so the store makes that step a compare-and-swap.
type State string

const (
	Pending   State = "pending"
	Running   State = "running"
	Cancelled State = "cancelled"
	Expired   State = "expired"
	// A running request ends in the final state of its outcomes.
	StateDone    State = State(Done)
	StatePartial State = State(Partial)
	StateFailed  State = State(AllFail)
)

// Terminal reports whether nothing more can happen to a request in state s.
func (s State) Terminal() bool {
	switch s {
	case Pending, Running:
		return false
	default:
		return true
	}
}

// Actor is a person (or an event) acting on a request, named in both systems so the audit log
// reads without a lookup.
type Actor struct {
	SlackID   string `json:"slack_id,omitempty"`
	TeamID    string `json:"team_id,omitempty"`
	OktaLogin string `json:"okta_login,omitempty"`
	OktaID    string `json:"okta_id,omitempty"`
	Name      string `json:"name,omitempty"`
}

// String names the actor for summaries and logs.
func (a Actor) String() string {
	switch {
	case a.OktaLogin != "" && a.SlackID != "":
		return fmt.Sprintf("%s (%s)", a.OktaLogin, a.SlackID)
	case a.OktaLogin != "":
		return a.OktaLogin
	case a.Name != "":
		return a.Name
	default:
		return a.SlackID
	}
}

// Request is one ask to sign a person out, from the moment it is made until it ends.
type Request struct {
	ID string
	// Target is the person to sign out; for a batch it only names the batch ("40 people").
	Target Target
	// Targets are the people of a batch, one request approved once; empty for one person.
	Targets   []Target
	Reason    string
	Requester Actor
	Approver  Actor
	// Source says where the request came from: "slack", "cli" or "okta-event:<uuid>".
	Source string
	// Channel and MessageTS locate the card in Slack, once posted.
	Channel   string
	MessageTS string
	Plan      []PlanEntry
	// Providers restricts the run to these systems; empty means every configured one.
	Providers []string
	State     State
	CreatedAt time.Time
	ExpiresAt time.Time
	UpdatedAt time.Time
	// LeaseOwner and LeaseUntil say which replica is running the request and until when it
	// promises to renew; another replica takes over a running request whose lease lapsed.
	LeaseOwner string
	LeaseUntil time.Time
}

// Batch reports whether r signs out several people at once.
func (r Request) Batch() bool { return len(r.Targets) > 0 }

// Selection turns the stored provider list into an executor selection.
func (r Request) Selection() Selection {
	if len(r.Providers) == 0 {
		return nil
	}
	sel := Selection{}
	for _, p := range r.Providers {
		sel[p] = true
	}
	return sel
}

// Refusal is a decision not to let someone act, in words for the person refused.
type Refusal struct {
	// Code is a stable word for logs, metrics and the audit log.
	Code string
	// Message is shown privately to the person refused.
	Message string
}

func (r *Refusal) Error() string { return r.Message }

// Policy is who may ask and who may approve.
type Policy struct {
	RequesterGroups     []string
	ApproverGroups      []string
	RequirePeerApproval bool
}

// MayRequest decides whether someone in groups (Okta group names and ids) may ask for a reset.
func (p Policy) MayRequest(groups []string) *Refusal {
	if !intersects(groups, p.RequesterGroups) {
		return &Refusal{Code: "not_requester", Message: fmt.Sprintf(
			"You are not allowed to request session resets: you need to be in one of these Okta groups: %s.",
			strings.Join(p.RequesterGroups, ", "))}
	}
	return nil
}

// MayApprove decides whether approver, who is in groups, may approve req at now.
func (p Policy) MayApprove(req Request, approver Actor, groups []string, now time.Time) *Refusal {
	switch {
	case req.State == Running || req.State.Terminal():
		return &Refusal{Code: "not_pending", Message: fmt.Sprintf("This request is already %s; nothing was changed.", req.State)}
	case !req.ExpiresAt.IsZero() && !now.Before(req.ExpiresAt):
		return &Refusal{Code: "expired", Message: "This request expired before it was approved; nothing was reset. Ask again if it is still needed."}
	case !intersects(groups, p.approverGroups()):
		return &Refusal{Code: "not_approver", Message: fmt.Sprintf(
			"You are not allowed to approve session resets: you need to be in one of these Okta groups: %s.",
			strings.Join(p.approverGroups(), ", "))}
	case p.RequirePeerApproval && sameActor(req.Requester, approver):
		return &Refusal{Code: "self_approval", Message: "You asked for this reset, and another responder has to approve it."}
	}
	return nil
}

// MayCancel decides whether someone in groups may cancel req: its requester, or anyone who
// could have approved it.
func (p Policy) MayCancel(req Request, by Actor, groups []string) *Refusal {
	if req.State != Pending {
		return &Refusal{Code: "not_pending", Message: fmt.Sprintf("This request is already %s; nothing was changed.", req.State)}
	}
	if sameActor(req.Requester, by) || intersects(groups, p.approverGroups()) {
		return nil
	}
	return &Refusal{Code: "not_approver", Message: "Only the requester or an approver can cancel this request."}
}

func (p Policy) approverGroups() []string {
	if len(p.ApproverGroups) == 0 {
		return p.RequesterGroups
	}
	return p.ApproverGroups
}

func sameActor(a, b Actor) bool {
	return (a.SlackID != "" && a.SlackID == b.SlackID) ||
		(a.OktaID != "" && a.OktaID == b.OktaID) ||
		(a.OktaLogin != "" && strings.EqualFold(a.OktaLogin, b.OktaLogin))
}

// intersects compares group names and ids; names are case-insensitive as Okta treats them.
func intersects(have, want []string) bool {
	return slices.ContainsFunc(have, func(h string) bool {
		return slices.ContainsFunc(want, func(w string) bool { return strings.EqualFold(h, w) })
	})
}
