package reset

import (
	"context"
	"sync"
)

// Account is what a system said when asked whether the target exists there.
type Account string

// The plan words a responder sees before approving.
const (
	AccountFound  Account = "account found"
	AccountNone   Account = "no account"
	LookupFailed  Account = "lookup failed"
	NotConfigured Account = "not configured"
)

// PlanEntry is one system's line in the plan.
type PlanEntry struct {
	Provider string  `json:"provider"`
	Account  Account `json:"account"`
	Detail   string  `json:"detail,omitempty"`
	// As is the name the account was found under, when it is not the person's Okta login or
	// email; Tried lists the names that found nothing (before As, or all of them).
	As    string   `json:"as,omitempty"`
	Tried []string `json:"tried,omitempty"`
	// Counts is set in a batch's plan: how many of its people got each answer.
	Counts map[Account]int `json:"counts,omitempty"`
}

// MergePlans sums the plans of a batch's people into one line per system: Counts says how
// many got each answer, Account is the most common answer and Detail the first failed
// lookup's words, so an approver sees at once that, say, Zoom could not be asked.
func MergePlans(plans [][]PlanEntry) []PlanEntry {
	var merged []PlanEntry
	at := map[string]int{}
	for _, plan := range plans {
		for _, p := range plan {
			i, ok := at[p.Provider]
			if !ok {
				i = len(merged)
				at[p.Provider] = i
				merged = append(merged, PlanEntry{Provider: p.Provider, Counts: map[Account]int{}})
			}
			m := &merged[i]
			m.Counts[p.Account]++
			if m.Counts[p.Account] > m.Counts[m.Account] {
				m.Account = p.Account
			}
			if p.Account == LookupFailed && m.Detail == "" {
				m.Detail = p.Detail
			}
			if p.Account == NotConfigured && m.Detail == "" {
				m.Detail = p.Detail
			}
		}
	}
	return merged
}

// Plan asks every configured system at once whether the target has an account there, with the
// same deadline and retries as a revoke. A failed lookup does not stop a reset: revoking is
// still attempted, and its outcome is what counts.
func (e *Executor) Plan(ctx context.Context, t Target) []PlanEntry {
	got := make([]PlanEntry, len(e.providers))
	var wg sync.WaitGroup
	for i, p := range e.providers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(ctx, e.deadline)
			defer cancel()
			_, used, tried, err := e.underEachName(ctx, p, t, p.Lookup)
			kind, _, _ := Classify(err)
			switch {
			case err == nil:
				got[i] = PlanEntry{Provider: p.Name(), Account: AccountFound, As: aside(t, used), Tried: tried}
			case kind == NotFound:
				got[i] = PlanEntry{Provider: p.Name(), Account: AccountNone, Tried: tried}
			default:
				got[i] = PlanEntry{Provider: p.Name(), Account: LookupFailed, Detail: err.Error()}
			}
		}()
	}
	wg.Wait()
	byName := map[string]PlanEntry{}
	for _, g := range got {
		byName[g.Provider] = g
	}
	for name, reason := range e.skipped {
		byName[name] = PlanEntry{Provider: name, Account: NotConfigured, Detail: reason}
	}
	plan := make([]PlanEntry, 0, len(byName))
	for _, name := range e.order {
		plan = append(plan, byName[name])
	}
	return plan
}
