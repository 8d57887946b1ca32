package hook

import (
	"encoding/json"
	"errors"
	"strings"
)

// delivery is one POST from Okta: a CloudEvents-style envelope around System Log events.
type delivery struct {
	EventType          string `json:"eventType"` // always com.okta.event_hook
	EventTypeVersion   string `json:"eventTypeVersion"`
	CloudEventsVersion string `json:"cloudEventsVersion"`
	Source             string `json:"source"`
	// EventID identifies the delivery (Okta spells it eventId; older documents eventID, which
	// Go's case-insensitive matching also reads).
	EventID   string `json:"eventId"`
	EventTime string `json:"eventTime"`
	Data      struct {
		Events []event `json:"events"`
	} `json:"data"`
}

// event is a System Log LogEvent, reduced to what a reset needs.
type event struct {
	// UUID is the event's own id: the same event redelivered carries the same uuid.
	UUID           string   `json:"uuid"`
	Published      string   `json:"published"`
	EventType      string   `json:"eventType"`
	DisplayMessage string   `json:"displayMessage"`
	Severity       string   `json:"severity"`
	Actor          entity   `json:"actor"`
	Target         []entity `json:"target"`
	Outcome        struct {
		Result string `json:"result"`
		Reason string `json:"reason"`
	} `json:"outcome"`
}

// entity is a LogEvent actor or target.
type entity struct {
	ID          string `json:"id"`
	Type        string `json:"type"`
	AlternateID string `json:"alternateId"`
	DisplayName string `json:"displayName"`
}

// hookEnvelope is the eventType of every event hook delivery.
const hookEnvelope = "com.okta.event_hook"

// parse reads a delivery, refusing what is not one.
func parse(body []byte) (delivery, error) {
	var d delivery
	if err := json.Unmarshal(body, &d); err != nil {
		return delivery{}, errors.New("the body is not an Okta event hook delivery: " + err.Error())
	}
	if d.EventType != hookEnvelope {
		return delivery{}, errors.New(`the body is not an Okta event hook delivery: eventType is not "` + hookEnvelope + `"`)
	}
	return d, nil
}

// user is the person the event is about: its first User target. A report of suspicious
// activity may name only its actor, who is then the user.
func (e event) user() (entity, bool) {
	for _, t := range e.Target {
		if t.Type == "User" && (t.ID != "" || t.AlternateID != "") {
			return t, true
		}
	}
	if e.EventType == SuspiciousActivity && e.Actor.Type == "User" && (e.Actor.ID != "" || e.Actor.AlternateID != "") {
		return e.Actor, true
	}
	return entity{}, false
}

// same reports whether two entities are the same Okta user.
func (a entity) same(b entity) bool {
	return (a.ID != "" && a.ID == b.ID) || (a.AlternateID != "" && strings.EqualFold(a.AlternateID, b.AlternateID))
}

// name is how logs and the audit log name an actor.
func (a entity) name() string {
	for _, s := range []string{a.AlternateID, a.DisplayName, a.ID} {
		if s != "" {
			return s
		}
	}
	return "okta"
}
