// Package reset is the domain of resetbot: who is being signed out, what each system said, and
// the executor that asks every system at once. It knows nothing of Slack, SQL or HTTP, so the
// same engine serves the Slack app, the command line and event hooks.
package reset

import (
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Target is the person being signed out. Okta is the directory, so the Okta id is the identity;
// the other systems are asked by email or login, which is how they name the same person.
type Target struct {
	OktaID      string `json:"okta_id,omitempty"`
	Login       string `json:"login,omitempty"`
	Email       string `json:"email,omitempty"`
	DisplayName string `json:"name,omitempty"`
	// Status is the Okta lifecycle status (ACTIVE, SUSPENDED, …), shown to approvers.
	Status string `json:"status,omitempty"`
	// SecondEmail is the Okta profile's secondEmail: one more name the person may have an
	// account under.
	SecondEmail string `json:"second_email,omitempty"`
	// Names maps a system to the person's identifier there, read from the Okta profile
	// attribute the operator named for it (RESETBOT_<SYSTEM>_ID_ATTRIBUTE).
	Names map[string]string `json:"names,omitempty"`
}

// NamesFor lists the names to ask system for the person under, in order: the identifier the
// operator mapped for it, then the login and the email when they are addresses, then the
// secondEmail. A person renamed, on a second domain or acquired has accounts under a name other
// than their Okta login; asking only by that would report "no account" while their session lives.
func (t Target) NamesFor(system string) []string {
	var names []string
	add := func(n string, anyShape bool) {
		n = strings.TrimSpace(n)
		if n == "" || (!anyShape && !strings.Contains(n, "@")) || !plausibleName(n) {
			return
		}
		for _, have := range names {
			if strings.EqualFold(have, n) {
				return
			}
		}
		names = append(names, n)
	}
	add(t.Names[system], true)
	add(t.Login, false)
	add(t.Email, false)
	add(t.SecondEmail, false)
	return names
}

// plausibleName refuses what no system's identifier holds: whitespace, control characters,
// invalid UTF-8, or more than 256 bytes. Profile attributes are text anyone with profile access
// may have typed, and these names reach URLs, Slack cards and terminals.
func plausibleName(n string) bool {
	return len(n) <= 256 && utf8.ValidString(n) && !strings.ContainsFunc(n, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r)
	})
}

// As is the person as a system is asked about them under name.
func (t Target) As(name string) Target {
	t.Login, t.Email = name, name
	return t
}

// String names the target the way a responder reads it in a summary.
func (t Target) String() string {
	switch {
	case t.DisplayName != "" && t.Email != "":
		return fmt.Sprintf("%s <%s>", t.DisplayName, t.Email)
	case t.Email != "":
		return t.Email
	case t.Login != "":
		return t.Login
	case t.DisplayName != "":
		return t.DisplayName
	default:
		return t.OktaID
	}
}

// Key names the target uniquely within a batch, for its stored outcomes: the Okta id once
// Okta has been asked, else the login or email as typed.
func (t Target) Key() string {
	switch {
	case t.OktaID != "":
		return t.OktaID
	case t.Login != "":
		return t.Login
	default:
		return t.Email
	}
}

// Status is the outcome word a user sees for one system.
type Status string

// The four outcomes of one provider, in the words summaries use.
const (
	Revoked   Status = "revoked"
	NoAccount Status = "no account"
	Failed    Status = "failed"
	Skipped   Status = "skipped"
)

// Outcome is what one system said about one target.
type Outcome struct {
	Provider string `json:"provider"`
	Status   Status `json:"status"`
	// Detail is the provider's own words for a failure, or why a provider was skipped.
	Detail string `json:"detail,omitempty"`
	// Retryable tells a responder whether running the reset again may help.
	Retryable bool `json:"retryable,omitempty"`
	// As is the name the person was found under, when it is not their Okta login or email.
	As string `json:"as,omitempty"`
	// Tried lists the names that found nothing: before As, or all of them when there were
	// several and none found the person.
	Tried    []string      `json:"tried,omitempty"`
	Attempts int           `json:"attempts"`
	Duration time.Duration `json:"duration_ns"`
}

// Line renders an outcome as one line of a summary: "zoom: revoked (1 attempt, 120ms)".
func (o Outcome) Line() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s%s", o.Provider, o.Status, o.Names())
	if o.Detail != "" {
		fmt.Fprintf(&b, " — %s", o.Detail)
	}
	if o.Status == Failed {
		if o.Retryable {
			b.WriteString(" (retrying may help)")
		} else {
			b.WriteString(" (retrying will not help)")
		}
	}
	if o.Attempts > 0 {
		word := "attempts"
		if o.Attempts == 1 {
			word = "attempt"
		}
		fmt.Fprintf(&b, " [%d %s, %s]", o.Attempts, word, Took(o.Duration))
	}
	return b.String()
}

// Names says under which name a system was asked, when it matters: " as alice@corp.example"
// for a person found under another name (" as alice@corp.example, nothing under alice@example.com"
// when earlier names found nothing), " (tried a@x, b@x)" for one found under none.
func (o Outcome) Names() string { return namesSaid(o.As, o.Tried) }

// Names is the plan entry's counterpart of Outcome.Names.
func (p PlanEntry) Names() string { return namesSaid(p.As, p.Tried) }

func namesSaid(as string, tried []string) string {
	switch {
	case as != "" && len(tried) > 0:
		return " as " + as + ", nothing under " + strings.Join(tried, ", ")
	case as != "":
		return " as " + as
	case len(tried) > 1:
		return " (tried " + strings.Join(tried, ", ") + ")"
	}
	return ""
}

// Final is the state a whole request ends in.
type Final string

// A request ends done when nothing failed, partial when some systems failed and failed when
// every system that was asked failed.
const (
	Done    Final = "done"
	Partial Final = "partial"
	AllFail Final = "failed"
)

// Summarize decides the final state from every provider's outcome.
func Summarize(outcomes []Outcome) Final {
	failed, asked := 0, 0
	for _, o := range outcomes {
		if o.Status == Skipped {
			continue
		}
		asked++
		if o.Status == Failed {
			failed++
		}
	}
	return finalOf(failed, asked)
}

// finalOf is the rule for a request's end: done when nothing failed, failed when everything
// asked failed, partial otherwise.
func finalOf(failed, asked int) Final {
	switch {
	case failed == 0:
		return Done
	case failed == asked:
		return AllFail
	default:
		return Partial
	}
}

// Took renders how long a system took, to the millisecond, as summaries show it.
func Took(d time.Duration) string {
	if d < time.Millisecond {
		return "<1ms"
	}
	return d.Round(time.Millisecond).String()
}
