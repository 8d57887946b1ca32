package reset_test

import (
	"testing"
	"time"

	"github.com/resetbot/resetbot/internal/reset"
)

var (
	responders = reset.Group{ID: "00gRESP", Name: "Security Responders", Type: "OKTA_GROUP"}
	approvers  = reset.Group{ID: "00gAPPR", Name: "Approvers", Type: "OKTA_GROUP"}
	breakGlass = reset.Group{ID: "00gGLASS", Name: "Break Glass", Type: "OKTA_GROUP"}
	// imported shares the responders' name; only its id tells it apart.
	imported = reset.Group{ID: "00gIMPORT", Name: "security responders", Type: "APP_GROUP"}
)

func active(groups ...reset.Group) reset.Standing {
	st := reset.Standing{Status: reset.Active}
	for _, g := range groups {
		st.Groups = append(st.Groups, g.ID)
	}
	return st
}

func TestPolicyDecidesWhoMayApprove(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	rita := reset.Actor{SlackID: "U1", OktaID: "00uRITA", OktaLogin: "rita@example.com"}
	sam := reset.Actor{SlackID: "U2", OktaID: "00uSAM", OktaLogin: "sam@example.com"}
	tom := reset.Actor{SlackID: "U3", OktaID: "00uTOM", OktaLogin: "tom@example.com"}
	alice := reset.Target{OktaID: "00uALICE", Login: "alice@example.com", Email: "alice@example.com"}
	samAsTarget := reset.Target{OktaID: sam.OktaID, Login: sam.OktaLogin, Email: sam.OktaLogin}
	pending := reset.Request{State: reset.Pending, Requester: rita, Target: alice, ExpiresAt: now.Add(time.Minute)}
	aboutSam := pending
	aboutSam.Target = samAsTarget
	batchWithSam := pending
	batchWithSam.Target, batchWithSam.Targets = reset.Target{DisplayName: "2 people"}, []reset.Target{alice, samAsTarget}
	approvedOnce := pending
	approvedOnce.Approvals = []reset.Actor{sam}

	peers := reset.Policy{Requesters: []reset.Group{responders}, Approvers: []reset.Group{approvers}, RequirePeerApproval: true}
	solo := reset.Policy{Requesters: []reset.Group{responders}}
	guarded := reset.Policy{Requesters: []reset.Group{responders}, Protected: []reset.Group{breakGlass}, ApproveProtected: true, RequirePeerApproval: true}
	aliceResponds := reset.Roles{Responders: map[string]reset.Group{alice.OktaID: responders}}
	aliceProtected := reset.Roles{Protected: map[string]reset.Group{alice.OktaID: breakGlass}}
	tests := []struct {
		name     string
		policy   reset.Policy
		req      reset.Request
		approver reset.Actor
		standing reset.Standing
		roles    reset.Roles
		want     string // refusal code, "" when allowed
	}{
		{"approver group member may approve", peers, pending, sam, active(approvers), reset.Roles{}, ""},
		{"requester group alone is not enough when approvers are named", peers, pending, sam, active(responders), reset.Roles{}, "not_approver"},
		{"an imported group of the same name grants nothing", solo, pending, sam, active(imported), reset.Roles{}, "not_approver"},
		{"approvers default to requesters", solo, pending, sam, active(responders), reset.Roles{}, ""},
		{"self approval refused when peers are required", peers, pending, reset.Actor{SlackID: "U9", OktaLogin: "RITA@example.com"}, active(approvers), reset.Roles{}, "self_approval"},
		{"self approval allowed for a one-person team", solo, pending, rita, active(responders), reset.Roles{}, ""},
		{"self approval refused for a one-person team when the target is a responder", solo, pending, rita, active(responders), aliceResponds, "self_approval"},
		{"the target may not approve their own reset", solo, aboutSam, sam, active(responders), reset.Roles{}, "self_target"},
		{"one of a batch's people may not approve it", solo, batchWithSam, sam, active(responders), reset.Roles{}, "self_target"},
		{"a suspended approver is refused", peers, pending, sam, reset.Standing{Status: "SUSPENDED", Groups: []string{approvers.ID}}, reset.Roles{}, "inactive"},
		{"a locked-out approver is refused", peers, pending, sam, reset.Standing{Status: "LOCKED_OUT", Groups: []string{approvers.ID}}, reset.Roles{}, "inactive"},
		{"a password-expired approver is refused", peers, pending, sam, reset.Standing{Status: "PASSWORD_EXPIRED", Groups: []string{approvers.ID}}, reset.Roles{}, "inactive"},
		{"a protected target with the policy refusing", peers, pending, sam, active(approvers), aliceProtected, "protected"},
		{"a protected target's first approval", guarded, pending, sam, active(responders), aliceProtected, ""},
		{"a protected target's second approval by another", guarded, approvedOnce, tom, active(responders), aliceProtected, ""},
		{"a protected target approved twice by the same person", guarded, approvedOnce, sam, active(responders), aliceProtected, "already_approved"},
		{"a protected target approved by its requester", guarded, approvedOnce, rita, active(responders), aliceProtected, "self_approval"},
		{"expired card refused", peers, reset.Request{State: reset.Pending, Requester: rita, ExpiresAt: now}, sam, active(approvers), reset.Roles{}, "expired"},
		{"running request refused", peers, reset.Request{State: reset.Running, ExpiresAt: now.Add(time.Minute)}, sam, active(approvers), reset.Roles{}, "not_pending"},
		{"cancelled request refused", peers, reset.Request{State: reset.Cancelled, ExpiresAt: now.Add(time.Minute)}, sam, active(approvers), reset.Roles{}, "not_pending"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assertRefusal(t, tt.policy.MayApprove(tt.req, tt.approver, tt.standing, tt.roles, now), tt.want)
		})
	}
}

func TestPolicyDecidesWhoMayCancel(t *testing.T) {
	t.Parallel()
	rita := reset.Actor{SlackID: "U1", OktaID: "00uRITA", OktaLogin: "rita@example.com"}
	sam := reset.Actor{SlackID: "U2", OktaID: "00uSAM", OktaLogin: "sam@example.com"}
	p := reset.Policy{Requesters: []reset.Group{responders}, Approvers: []reset.Group{approvers}, RequirePeerApproval: true}
	pending := reset.Request{State: reset.Pending, Requester: rita, Target: reset.Target{OktaID: "00uALICE", Login: "alice@example.com"}}
	aboutSam := pending
	aboutSam.Target = reset.Target{OktaID: sam.OktaID, Login: sam.OktaLogin}
	fromAnEvent := aboutSam
	fromAnEvent.Requester = reset.Actor{Name: "okta event user.lifecycle.suspend by admin@example.com"}
	tests := []struct {
		name     string
		req      reset.Request
		by       reset.Actor
		standing reset.Standing
		want     string
	}{
		{"the requester, still a requester", pending, rita, active(responders), ""},
		{"the requester, no longer in the group", pending, rita, active(), "not_approver"},
		{"an approver", pending, sam, active(approvers), ""},
		{"an outsider", pending, reset.Actor{SlackID: "U9", OktaID: "00uOSCAR"}, active(), "not_approver"},
		{"the target, though an approver", aboutSam, sam, active(approvers), "self_target"},
		{"the target of a card an okta event raised", fromAnEvent, sam, active(approvers), "self_target"},
		{"a suspended approver", pending, sam, reset.Standing{Status: "SUSPENDED", Groups: []string{approvers.ID}}, "inactive"},
		{"a request no longer pending", reset.Request{State: reset.Running, Requester: rita}, rita, active(responders), "not_pending"},
		{"a request past its expiry", reset.Request{State: reset.Pending, Requester: rita, ExpiresAt: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)}, rita, active(responders), "expired"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assertRefusal(t, p.MayCancel(tt.req, tt.by, tt.standing, time.Now()), tt.want)
		})
	}
}

func TestPolicyDecidesWhoMayRequest(t *testing.T) {
	t.Parallel()
	p := reset.Policy{Requesters: []reset.Group{responders}}
	tests := []struct {
		name     string
		standing reset.Standing
		want     string
	}{
		{"an active member", active(responders), ""},
		{"a member of another group", active(approvers), "not_requester"},
		{"a member of an imported group of the same name", active(imported), "not_requester"},
		{"a suspended member", reset.Standing{Status: "SUSPENDED", Groups: []string{responders.ID}}, "inactive"},
		{"a deprovisioned member", reset.Standing{Status: "DEPROVISIONED", Groups: []string{responders.ID}}, "inactive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := p.MayRequest(tt.standing)
			assertRefusal(t, r, tt.want)
			if r != nil && r.Code == "not_requester" && !contains(r.Message, "Security Responders") {
				t.Errorf("refusal %q does not name the group", r.Message)
			}
		})
	}
}

func TestPolicyOnProtectedPeople(t *testing.T) {
	t.Parallel()
	alice := reset.Target{OktaID: "00uALICE", Login: "alice@example.com"}
	bob := reset.Target{OktaID: "00uBOB", Login: "bob@example.com"}
	req := reset.Request{Target: reset.Target{DisplayName: "2 people"}, Targets: []reset.Target{alice, bob}}
	refusing := reset.Policy{Requesters: []reset.Group{responders}, Protected: []reset.Group{breakGlass}}
	approving := refusing
	approving.ApproveProtected = true
	roles := refusing.RolesOf(map[string][]string{alice.OktaID: {breakGlass.ID}, bob.OktaID: {responders.ID}})

	r := refusing.MayAsk(req, roles)
	if r == nil || r.Code != "protected" || !contains(r.Message, "alice@example.com") || !contains(r.Message, "Break Glass") || contains(r.Message, "bob@") {
		t.Errorf("MayAsk = %+v; want a refusal naming alice and her group", r)
	}
	if r := approving.MayAsk(req, roles); r != nil {
		t.Errorf("MayAsk with approval allowed = %+v", r)
	}
	if n := approving.ApprovalsNeeded(req, roles); n != 2 {
		t.Errorf("ApprovalsNeeded = %d; want 2 for a protected person", n)
	}
	if n := approving.ApprovalsNeeded(reset.Request{Target: bob}, roles); n != 1 {
		t.Errorf("ApprovalsNeeded = %d; want 1 for a responder", n)
	}
	if _, ok := roles.Responders[bob.OktaID]; !ok {
		t.Errorf("bob is in the requester group but not a responder: %+v", roles)
	}
}

func assertRefusal(t *testing.T, r *reset.Refusal, want string) {
	t.Helper()
	got := ""
	if r != nil {
		got = r.Code
		if r.Message == "" {
			t.Errorf("refusal %s has no message for the person refused", r.Code)
		}
	}
	if got != want {
		t.Errorf("refusal = %q (%v), want %q", got, r, want)
	}
}

func TestPolicyDecidesWhoMayRetry(t *testing.T) {
	t.Parallel()
	rita := reset.Actor{SlackID: "U1", OktaID: "00uRITA", OktaLogin: "rita@example.com"}
	sam := reset.Actor{SlackID: "U2", OktaID: "00uSAM", OktaLogin: "sam@example.com"}
	p := reset.Policy{Requesters: []reset.Group{responders}, RequirePeerApproval: true}
	partial := reset.Request{State: reset.StatePartial, Requester: rita, Target: reset.Target{OktaID: "00uALICE"}}
	aboutSam := partial
	aboutSam.Target = reset.Target{OktaID: sam.OktaID}
	done := partial
	done.State = reset.StateDone
	tests := []struct {
		name string
		req  reset.Request
		by   reset.Actor
		st   reset.Standing
		want string
	}{
		{"a responder, on a partial request", partial, sam, active(responders), ""},
		{"a failed request too", reset.Request{State: reset.StateFailed, Requester: rita}, sam, active(responders), ""},
		{"a done request has nothing to retry", done, sam, active(responders), "not_retryable"},
		{"the requester alone, peers required", partial, rita, active(responders), "self_approval"},
		{"the person being signed out", aboutSam, sam, active(responders), "self_target"},
		{"an outsider", partial, reset.Actor{SlackID: "U9", OktaID: "00uOSCAR"}, active(), "not_approver"},
		{"a suspended responder", partial, sam, reset.Standing{Status: "SUSPENDED", Groups: []string{responders.ID}}, "inactive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assertRefusal(t, p.MayRetry(tt.req, tt.by, tt.st, reset.Roles{}, time.Now()), tt.want)
		})
	}
}
