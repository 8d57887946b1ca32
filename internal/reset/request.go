package reset

import (
	"fmt"
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
	// Approvals are the approvals given while the request waits for more: a request about a
	// protected person needs two approvers, and the first is kept here until the second.
	Approvals []Actor
	// CancelledBy is who cancelled the request, once it is cancelled.
	CancelledBy Actor
	// Note says on the card why the request is as it is, e.g. why an Okta event did not
	// reset at once.
	Note string
	// AnnouncedAt is when the request's end was told (the summary posted); zero until then.
	AnnouncedAt time.Time
}

// People is everyone the request signs out: a batch's people, or its one target.
func (r Request) People() []Target {
	if r.Batch() {
		return r.Targets
	}
	return []Target{r.Target}
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
