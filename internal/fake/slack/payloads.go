package slackfake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Slack's limits on a response_url: five replies within thirty minutes.
const (
	responseURLUses     = 5
	responseURLLifetime = 30 * time.Minute
)

// SlashCommand is a user running a slash command. Empty fields get the fake's defaults: its
// team, the channel's name, the user's handle, a fresh trigger id, "/reset-sessions".
type SlashCommand struct {
	TeamID      string
	TeamDomain  string
	ChannelID   string
	ChannelName string
	UserID      string
	UserName    string
	Command     string
	Text        string
	TriggerID   string
	// EnterpriseID and EnterpriseName are set for Enterprise Grid workspaces.
	EnterpriseID   string
	EnterpriseName string
}

// SendSlashCommand sends a slash_commands envelope with the payload Slack sends, including a
// response_url served by the fake, and returns its envelope id.
func (s *Server) SendSlashCommand(cmd SlashCommand) string {
	s.mu.Lock()
	if cmd.TeamID == "" {
		cmd.TeamID = s.cfg.teamID
	}
	if cmd.TeamDomain == "" {
		cmd.TeamDomain = s.cfg.teamDomain
	}
	if cmd.Command == "" {
		cmd.Command = "/reset-sessions"
	}
	if cmd.ChannelName == "" {
		cmd.ChannelName = s.channelNameLocked(cmd.ChannelID)
	}
	if cmd.UserName == "" {
		cmd.UserName = s.users[cmd.UserID].Name
	}
	if cmd.TriggerID == "" {
		cmd.TriggerID = s.triggerIDLocked()
	}
	id := newEnvelopeID()
	responseURL := s.responseURLLocked(&responseTarget{
		kind: "command", envelopeID: id, team: cmd.TeamID, channel: cmd.ChannelID, user: cmd.UserID,
	})
	s.mu.Unlock()

	// Slack sends every field as a string, is_enterprise_install included.
	payload := map[string]any{
		"token":                 s.verificationToken,
		"team_id":               cmd.TeamID,
		"team_domain":           cmd.TeamDomain,
		"channel_id":            cmd.ChannelID,
		"channel_name":          cmd.ChannelName,
		"user_id":               cmd.UserID,
		"user_name":             cmd.UserName,
		"command":               cmd.Command,
		"text":                  cmd.Text,
		"api_app_id":            s.cfg.appID,
		"is_enterprise_install": "false",
		"response_url":          responseURL,
		"trigger_id":            cmd.TriggerID,
	}
	if cmd.EnterpriseID != "" {
		payload["enterprise_id"] = cmd.EnterpriseID
		payload["enterprise_name"] = cmd.EnterpriseName
	}
	s.sendEnvelope(id, "slash_commands", true, payload, Event{
		Kind: EventCommand, Channel: cmd.ChannelID, User: cmd.UserID,
		Text: strings.TrimSpace(cmd.Command + " " + cmd.Text),
	})
	return id
}

// BlockAction is a user clicking a button on a message. When the message is one the bot
// posted, the payload carries its current text and blocks and the button's own text and
// style, and block_id is filled from it when empty (Slack always sends one). ResponseURL
// defaults to a fresh one served by the fake, tied to the message so replace_original and
// delete_original act on it.
type BlockAction struct {
	TeamID      string
	UserID      string
	UserName    string
	ChannelID   string
	MessageTS   string
	ActionID    string
	BlockID     string
	Value       string
	ResponseURL string
	TriggerID   string
	// IsEphemeral marks a click on an ephemeral message; the payload then has no message, as
	// Slack's does not. A MessageTS of an ephemeral message the bot posted sets it too.
	IsEphemeral bool
}

// SendBlockAction sends an interactive envelope with a block_actions payload and returns its
// envelope id.
func (s *Server) SendBlockAction(a BlockAction) string {
	s.mu.Lock()
	if a.TeamID == "" {
		a.TeamID = s.cfg.teamID
	}
	u := s.users[a.UserID]
	if a.UserName == "" {
		a.UserName = u.Name
	}
	if a.TriggerID == "" {
		a.TriggerID = s.triggerIDLocked()
	}
	for _, e := range s.ephemerals {
		if e.Channel == a.ChannelID && e.TS == a.MessageTS {
			a.IsEphemeral = true
		}
	}
	action := map[string]any{
		"action_id": a.ActionID,
		"block_id":  a.BlockID,
		"text":      map[string]any{"type": "plain_text", "text": a.ActionID, "emoji": true},
		"value":     a.Value,
		"type":      "button",
		"action_ts": s.nextTSLocked(),
	}
	var message map[string]any
	threadTS := ""
	if m, ok := s.byTS[a.ChannelID+"/"+a.MessageTS]; ok && !a.IsEphemeral {
		message = s.messageJSON(m)
		threadTS = m.ThreadTS
		if blockID, button, ok := findButton(m, a.ActionID, a.BlockID); ok {
			action["block_id"] = blockID
			if t, ok := button["text"]; ok {
				action["text"] = t
			}
			if st, ok := button["style"]; ok {
				action["style"] = st
			}
		}
	}
	if action["block_id"] == "" {
		action["block_id"] = randomHex(5)
	}
	id := newEnvelopeID()
	if a.ResponseURL == "" {
		a.ResponseURL = s.responseURLLocked(&responseTarget{
			kind: "action", envelopeID: id, team: a.TeamID, channel: a.ChannelID, user: a.UserID, messageTS: a.MessageTS,
		})
	}
	channelName := s.channelNameLocked(a.ChannelID)
	s.mu.Unlock()

	payload := map[string]any{
		"type": "block_actions",
		"user": map[string]any{
			"id": a.UserID, "username": a.UserName, "name": a.UserName, "team_id": a.TeamID,
		},
		"api_app_id": s.cfg.appID,
		"token":      s.verificationToken,
		"container": map[string]any{
			"type": "message", "message_ts": a.MessageTS, "channel_id": a.ChannelID, "is_ephemeral": a.IsEphemeral,
		},
		"trigger_id":            a.TriggerID,
		"team":                  map[string]any{"id": a.TeamID, "domain": s.cfg.teamDomain},
		"enterprise":            nil,
		"is_enterprise_install": false,
		"channel":               map[string]any{"id": a.ChannelID, "name": channelName},
		"state":                 map[string]any{"values": map[string]any{}},
		"response_url":          a.ResponseURL,
		"actions":               []any{action},
	}
	if message != nil {
		payload["message"] = message
	}
	if threadTS != "" {
		// A button on a reply in a thread: Slack names the thread it is in.
		payload["container"].(map[string]any)["thread_ts"] = threadTS
	}
	s.sendEnvelope(id, "interactive", false, payload, Event{
		Kind: EventAction, Channel: a.ChannelID, TS: a.MessageTS, User: a.UserID,
		Text: a.ActionID + " " + a.Value, ActionID: a.ActionID, Value: a.Value,
	})
	return id
}

// SendEvent sends an envelope of any type — "events_api" with an event_callback payload, or
// a type slack-go does not know — and returns its envelope id.
func (s *Server) SendEvent(typ string, payload json.RawMessage) string {
	id := newEnvelopeID()
	if len(payload) == 0 {
		payload = json.RawMessage("{}")
	}
	s.sendEnvelope(id, typ, false, payload, Event{Kind: EventEnvelope, Text: typ})
	return id
}

// SendRaw sends a frame exactly as given, for hostile input: it expects no ack.
func (s *Server) SendRaw(frame []byte) {
	b := append([]byte(nil), frame...)
	s.send(&envelope{typ: "raw", payload: b, frame: b}, Event{Kind: EventEnvelope, Text: "raw"})
}

func (s *Server) sendEnvelope(id, typ string, acceptsResponse bool, payload any, ev Event) {
	raw, err := json.Marshal(payload)
	if err != nil {
		raw = json.RawMessage("{}")
	}
	frame, _ := json.Marshal(map[string]any{
		"envelope_id":              id,
		"type":                     typ,
		"accepts_response_payload": acceptsResponse,
		"payload":                  json.RawMessage(raw),
		"retry_attempt":            0,
		"retry_reason":             "",
	})
	s.send(&envelope{id: id, typ: typ, payload: raw, frame: frame}, ev)
}

// findButton finds the button a click refers to in a message's blocks, and the block_id
// Slack would report for it (the one given, or one Slack generates for a block without).
func findButton(m *Message, actionID, blockID string) (string, map[string]json.RawMessage, bool) {
	var blocks []map[string]json.RawMessage
	if json.Unmarshal(m.Blocks, &blocks) != nil {
		return "", nil, false
	}
	for i, b := range blocks {
		id, _ := str(b["block_id"])
		if blockID != "" && id != blockID {
			continue
		}
		elements := array(b["elements"])
		if acc, ok := b["accessory"]; ok {
			elements = append(elements, acc)
		}
		for _, raw := range elements {
			var e map[string]json.RawMessage
			if json.Unmarshal(raw, &e) != nil {
				continue
			}
			if got, _ := str(e["action_id"]); got == actionID {
				if id == "" {
					id = generatedBlockID(m.TS, i)
				}
				return id, e, true
			}
		}
	}
	return "", nil, false
}

// generatedBlockID stands in for the random block_id Slack gives a block posted without one;
// it is stable per message and block so repeated clicks agree.
func generatedBlockID(ts string, i int) string {
	h := uint32(2166136261)
	for _, c := range ts + "/" + strconv.Itoa(i) {
		h = (h ^ uint32(c)) * 16777619
	}
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	var b [5]byte
	for j := range b {
		b[j] = alphabet[h%uint32(len(alphabet))]
		h /= uint32(len(alphabet))
	}
	return string(b[:])
}

func (s *Server) channelNameLocked(id string) string {
	if c, ok := s.channels[id]; ok {
		if c.IsIM {
			return "directmessage"
		}
		return c.Name
	}
	return ""
}

func (s *Server) triggerIDLocked() string {
	return fmt.Sprintf("%d.%s.%s", s.nextSerialLocked(), randomDigits(12), randomHex(32))
}

// responseTarget is what a response_url stands for.
type responseTarget struct {
	url        string
	kind       string // "command" or "action"
	envelopeID string
	team       string
	channel    string
	user       string
	messageTS  string
	created    time.Time
	uses       int
}

func (s *Server) responseURLLocked(t *responseTarget) string {
	prefix := "/commands/"
	if t.kind == "action" {
		prefix = "/actions/"
	}
	path := prefix + t.team + "/" + strconv.Itoa(s.nextSerialLocked()) + "/" + randomHex(24)
	t.url = s.srv.URL + path
	t.created = time.Now()
	s.targets[path] = t
	return t.url
}

// serveResponseURL answers the response_url of a command or an interaction. Like Slack it
// accepts five replies within thirty minutes and answers errors with a non-200 status.
func (s *Server) serveResponseURL(w http.ResponseWriter, r *http.Request) {
	const op = "response_url"
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler { // a scripted dropped connection
				panic(v)
			}
			s.log.Error("slack fake response_url handler failed", "panic", fmt.Sprint(v))
			writeJSON(w, http.StatusInternalServerError, map[string]any{"ok": false, "error": "internal_error"})
		}
	}()
	a := s.Arrive(r, op)
	if !a.Hold(r) {
		return
	}
	f := a.Fault
	if f.Status != 0 {
		s.writeFault(w, op, f)
		return
	}
	fail := func(status int, word string, messages ...string) {
		s.mu.Lock()
		s.refuseLocked(op, word, messages)
		s.emitLocked(Event{Kind: EventRefused, Text: op, Error: word})
		s.mu.Unlock()
		body := map[string]any{"ok": false, "error": word}
		if len(messages) > 0 {
			body["response_metadata"] = map[string]any{"messages": messages}
		}
		writeJSON(w, status, body)
	}
	if r.Method != http.MethodPost {
		fail(http.StatusMethodNotAllowed, "invalid_method")
		return
	}
	s.mu.Lock()
	t := s.targets[r.URL.Path]
	var word string
	switch {
	case t == nil:
		word = "no_service"
	case time.Since(t.created) > responseURLLifetime:
		word = "expired_url"
	case t.uses >= responseURLUses:
		word = "used_url"
	}
	s.mu.Unlock()
	if word != "" {
		fail(http.StatusNotFound, word)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		fail(http.StatusBadRequest, "invalid_payload")
		return
	}
	var p struct {
		Text            string          `json:"text"`
		Blocks          json.RawMessage `json:"blocks"`
		ResponseType    string          `json:"response_type"`
		ReplaceOriginal bool            `json:"replace_original"`
		DeleteOriginal  bool            `json:"delete_original"`
	}
	if err := json.Unmarshal(bytes.TrimSpace(body), &p); err != nil {
		fail(http.StatusBadRequest, "invalid_payload")
		return
	}
	var blocks json.RawMessage
	if raw := nullToNil(p.Blocks); raw != nil {
		var problems []string
		var bad *slackError
		blocks, problems, bad = validateBlocks(string(raw))
		if bad != nil {
			fail(http.StatusBadRequest, bad.word)
			return
		}
		if len(problems) > 0 {
			fail(http.StatusBadRequest, "invalid_blocks", problems...)
			return
		}
	}
	if utf8.RuneCountInString(p.Text) > maxTextRunes {
		fail(http.StatusBadRequest, "msg_too_long")
		return
	}
	if !p.DeleteOriginal && strings.TrimSpace(p.Text) == "" && len(blocks) == 0 {
		fail(http.StatusBadRequest, "no_text")
		return
	}
	if p.ResponseType == "" {
		p.ResponseType = "ephemeral"
	}

	now := time.Now()
	s.mu.Lock()
	t.uses++
	s.responses = append(s.responses, Response{
		URL: t.url, EnvelopeID: t.envelopeID, Kind: t.kind, Channel: t.channel, User: t.user, MessageTS: t.messageTS,
		Text: p.Text, Blocks: blocks, ResponseType: p.ResponseType, ReplaceOriginal: p.ReplaceOriginal,
		DeleteOriginal: p.DeleteOriginal, At: now, Via: op,
	})
	if m, ok := s.byTS[t.channel+"/"+t.messageTS]; ok && t.kind == "action" && !m.Deleted {
		switch {
		case p.DeleteOriginal:
			m.Deleted = true
		case p.ReplaceOriginal:
			m.Text, m.Blocks = p.Text, blocks
			m.History = append(m.History, Revision{Text: p.Text, Blocks: blocks, At: now, Via: op})
		}
	}
	s.emitLocked(Event{Kind: EventResponse, At: now, Channel: t.channel, TS: t.messageTS, User: t.user, Text: p.Text,
		Blocks: blocks, EnvelopeID: t.envelopeID, ResponseType: p.ResponseType, ReplaceOriginal: p.ReplaceOriginal,
		DeleteOriginal: p.DeleteOriginal})
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"ok": true})
}

func nullToNil(raw json.RawMessage) json.RawMessage {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || bytes.Equal(t, []byte("null")) {
		return nil
	}
	return t
}
