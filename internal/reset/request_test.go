package reset_test

import (
	"testing"
	"time"

	"github.com/resetbot/resetbot/internal/reset"
)

func TestPolicyDecidesWhoMayApprove(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	requester := reset.Actor{SlackID: "U1", OktaLogin: "rita@example.com"}
	pending := reset.Request{State: reset.Pending, Requester: requester, ExpiresAt: now.Add(time.Minute)}
	peers := reset.Policy{RequesterGroups: []string{"Responders"}, ApproverGroups: []string{"Approvers", "00gA"}, RequirePeerApproval: true}
	tests := []struct {
		name     string
		policy   reset.Policy
		req      reset.Request
		approver reset.Actor
		groups   []string
		want     string // refusal code, "" when allowed
	}{
		{"approver group member may approve", peers, pending, reset.Actor{SlackID: "U2"}, []string{"approvers"}, ""},
		{"group ids count as well as names", peers, pending, reset.Actor{SlackID: "U2"}, []string{"00gA"}, ""},
		{"requester group alone is not enough when approvers are named", peers, pending, reset.Actor{SlackID: "U2"}, []string{"Responders"}, "not_approver"},
		{"approvers default to requesters", reset.Policy{RequesterGroups: []string{"Responders"}}, pending, reset.Actor{SlackID: "U2"}, []string{"Responders"}, ""},
		{"self approval refused when peers required", peers, pending, reset.Actor{SlackID: "U9", OktaLogin: "RITA@example.com"}, []string{"Approvers"}, "self_approval"},
		{"self approval allowed otherwise", reset.Policy{RequesterGroups: []string{"Responders"}}, pending, requester, []string{"Responders"}, ""},
		{"expired card refused", peers, reset.Request{State: reset.Pending, Requester: requester, ExpiresAt: now}, reset.Actor{SlackID: "U2"}, []string{"Approvers"}, "expired"},
		{"running request refused", peers, reset.Request{State: reset.Running, ExpiresAt: now.Add(time.Minute)}, reset.Actor{SlackID: "U2"}, []string{"Approvers"}, "not_pending"},
		{"cancelled request refused", peers, reset.Request{State: reset.Cancelled, ExpiresAt: now.Add(time.Minute)}, reset.Actor{SlackID: "U2"}, []string{"Approvers"}, "not_pending"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := tt.policy.MayApprove(tt.req, tt.approver, tt.groups, now)
			got := ""
			if r != nil {
				got = r.Code
				if r.Message == "" {
					t.Errorf("refusal %s has no message for the person refused", r.Code)
				}
			}
			if got != tt.want {
				t.Errorf("MayApprove = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestPolicyDecidesWhoMayRequest(t *testing.T) {
	t.Parallel()
	p := reset.Policy{RequesterGroups: []string{"Security Responders"}}
	if r := p.MayRequest([]string{"Everyone", "security responders"}); r != nil {
		t.Errorf("member refused: %v", r)
	}
	r := p.MayRequest([]string{"Everyone"})
	if r == nil || r.Code != "not_requester" || !contains(r.Message, "Security Responders") {
		t.Errorf("outsider: %+v, want a refusal naming the group", r)
	}
}
