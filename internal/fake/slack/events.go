package slackfake

import (
	"encoding/json"
	"time"
)

// EventKind names one thing that happened in the fake's Slack, in conversation terms.
type EventKind string

// The kinds of Event, in the words the demo prints.
const (
	EventConnected    EventKind = "connected"    // a Socket Mode connection got its hello
	EventDisconnected EventKind = "disconnected" // a Socket Mode connection ended
	EventCommand      EventKind = "command"      // a user ran a slash command (envelope sent)
	EventAction       EventKind = "action"       // a user clicked a button (envelope sent)
	EventEnvelope     EventKind = "envelope"     // any other envelope or raw frame sent
	EventAck          EventKind = "ack"          // the client acked an envelope
	EventAckTimeout   EventKind = "ack_timeout"  // an envelope went unacked past the ack timeout
	EventPost         EventKind = "post"         // chat.postMessage
	EventUpdate       EventKind = "update"       // chat.update
	EventEphemeral    EventKind = "ephemeral"    // chat.postEphemeral
	EventResponse     EventKind = "response"     // a response_url reply or an ack's payload
	EventRefused      EventKind = "refused"      // a Web API call answered with an error
)

// Event is one entry of the fake's conversation log. Fields that do not apply to a kind are
// empty.
type Event struct {
	Seq  int // 1 for the first event
	Kind EventKind
	At   time.Time

	Channel  string
	TS       string // the message's ts (for a response or an action: the message concerned)
	ThreadTS string
	User     string // who acted (command, action) or who sees it (ephemeral, response)
	Text     string // message text; a command's "/cmd text"; an action's action_id and value
	Blocks   json.RawMessage

	EnvelopeID      string
	ActionID        string
	Value           string
	ResponseType    string
	ReplaceOriginal bool
	DeleteOriginal  bool
	Latency         time.Duration // for acks: ack time minus send time
	Error           string        // for refused calls: Slack's error word; Text holds the method
	Conn            int           // for socket events: the connection number
}

func (s *Server) emitLocked(e Event) {
	if e.At.IsZero() {
		e.At = time.Now()
	}
	e.Seq = len(s.stream) + 1
	s.stream = append(s.stream, e)
	s.notifyLocked()
}

// Events returns a new stream of every event since the fake started, in order. It is
// lossless and never blocks the fake: events wait in an unbounded log until the reader takes
// them. After Close the stream delivers what is left and is closed, so read it to the end.
func (s *Server) Events() <-chan Event {
	out := make(chan Event)
	go func() {
		defer close(out)
		next := 0
		for {
			s.mu.Lock()
			closed := s.closed
			ch := s.changed
			var e Event
			have := next < len(s.stream)
			if have {
				e = s.stream[next]
			}
			s.mu.Unlock()
			switch {
			case have:
				out <- e
				next++
			case closed:
				return
			default:
				<-ch
			}
		}
	}()
	return out
}
