package slackfake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/resetbot/resetbot/internal/fake"
)

// maxBody bounds what the fake reads from one request.
const maxBody = 4 << 20

// maxTextRunes is chat.postMessage's limit on text (msg_too_long beyond it).
const maxTextRunes = 40000

// tokenKind is the kind of token a call carried; a method accepts a set of them.
type tokenKind int

const (
	botToken  tokenKind = 1 << iota // xoxb-: the bot's token
	appToken                        // xapp-: the app-level token, for Socket Mode only
	userToken                       // xoxp-: a person's token (UserToken, AdminToken)
)

// caller is who a call's token speaks for.
type caller struct {
	kind tokenKind
	// user and scopes are set for a user token: whose it is and what it was granted.
	user   string
	scopes []string
}

// slackError is a refusal in Slack's words: the error and, for invalid_blocks and
// invalid_arguments, response_metadata.messages.
type slackError struct {
	word     string
	messages []string
	// extra holds further fields of the answer, such as missing_scope's needed and provided.
	extra map[string]any
}

func refuse(word string, messages ...string) *slackError {
	return &slackError{word: word, messages: messages}
}

// method is one Web API method: the kinds of token it takes, the scope a user token needs for
// it (bot tokens are not checked for scopes), and how it is served.
type method struct {
	tokens tokenKind
	scope  string
	serve  func(c caller, args url.Values) (map[string]any, *slackError)
}

func (s *Server) methods() map[string]method {
	return map[string]method{
		"auth.test":                 {botToken | userToken, "", s.authTest},
		"apps.connections.open":     {appToken, "", anyCaller(s.connectionsOpen)},
		"chat.postMessage":          {botToken, "", anyCaller(s.postMessage)},
		"chat.update":               {botToken, "", anyCaller(s.update)},
		"chat.postEphemeral":        {botToken, "", anyCaller(s.postEphemeral)},
		"users.info":                {botToken | userToken, "users:read", anyCaller(s.usersInfo)},
		"users.lookupByEmail":       {botToken | userToken, "users:read.email", anyCaller(s.lookupByEmail)},
		"conversations.info":        {botToken, "", anyCaller(s.conversationsInfo)},
		"admin.users.session.reset": {userToken, "admin.users:write", s.sessionReset},
	}
}

// anyCaller serves a method the same way whoever calls it.
func anyCaller(serve func(url.Values) (map[string]any, *slackError)) func(caller, url.Values) (map[string]any, *slackError) {
	return func(_ caller, args url.Values) (map[string]any, *slackError) { return serve(args) }
}

// serveAPI answers /api/{method} the way slack.com/api does: HTTP 200 with {"ok":…} for
// every answer except a rate limit (429 with Retry-After).
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/api/")
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler { // a scripted dropped connection
				panic(v)
			}
			s.log.Error("slack fake handler failed", "method", name, "panic", fmt.Sprint(v))
			writeJSON(w, http.StatusInternalServerError, map[string]any{"ok": false, "error": "internal_error"})
		}
	}()
	a := s.Arrive(r, name)
	if !a.Hold(r) {
		return
	}
	f := a.Fault
	if f.Status != 0 {
		s.writeFault(w, name, f)
		return
	}
	m, ok := s.api[name]
	if !ok {
		s.answer(w, name, caller{}, nil, refuse("unknown_method"), map[string]any{"req_method": name})
		return
	}
	args, bad := readArgs(w, r)
	if bad != nil {
		s.answer(w, name, caller{}, nil, bad, nil)
		return
	}
	c, bad := s.authorize(r, args, m)
	if c.kind == userToken {
		// Slack tells every caller which scopes its token has.
		w.Header().Set("X-OAuth-Scopes", strings.Join(c.scopes, ","))
	}
	if bad != nil {
		s.answer(w, name, c, nil, bad, nil)
		return
	}
	res, bad := m.serve(c, args)
	s.answer(w, name, c, res, bad, nil)
}

// writeFault answers a programmed fault: 429 carries Slack's "ratelimited" body, any other
// status the fault's message (Slack's generic "fatal_error" by default).
func (s *Server) writeFault(w http.ResponseWriter, name string, f fake.Fault) {
	for k, vs := range f.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	word := f.Message
	if word == "" {
		word = "fatal_error"
		if f.Status == http.StatusTooManyRequests {
			word = "ratelimited"
		}
	}
	s.mu.Lock()
	s.refuseLocked(name, word, nil)
	s.emitLocked(Event{Kind: EventRefused, Text: name, Error: word})
	s.mu.Unlock()
	writeJSON(w, f.Status, map[string]any{"ok": false, "error": word})
}

// answer writes a method's result or refusal. Every refusal is recorded (Errors); only those of
// the bot's and the app's calls join the conversation (Events), since a person's token is
// another client's, such as resetbot signing someone out of Slack.
func (s *Server) answer(w http.ResponseWriter, name string, c caller, res map[string]any, bad *slackError, extra map[string]any) {
	if bad != nil {
		body := map[string]any{"ok": false, "error": bad.word}
		for k, v := range extra {
			body[k] = v
		}
		for k, v := range bad.extra {
			body[k] = v
		}
		if len(bad.messages) > 0 {
			body["response_metadata"] = map[string]any{"messages": bad.messages}
		}
		s.mu.Lock()
		s.refuseLocked(name, bad.word, bad.messages)
		if c.kind != userToken {
			s.emitLocked(Event{Kind: EventRefused, Text: name, Error: bad.word})
		}
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, body)
		return
	}
	if res == nil {
		res = map[string]any{}
	}
	res["ok"] = true
	writeJSON(w, http.StatusOK, res)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"ok":false,"error":"internal_error"}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// readArgs reads a method's arguments from a query, a form or a JSON object, as Slack
// accepts them. JSON values that are not strings (blocks, booleans) keep their JSON text,
// which is what a form would have carried.
func readArgs(w http.ResponseWriter, r *http.Request) (url.Values, *slackError) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct != "application/json" {
		var err error
		if ct == "multipart/form-data" {
			err = r.ParseMultipartForm(maxBody)
		} else {
			err = r.ParseForm()
		}
		if err != nil {
			return nil, refuse("invalid_form_data")
		}
		return r.Form, nil
	}
	args := r.URL.Query()
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, refuse("invalid_form_data")
	}
	body = bytes.TrimSpace(body)
	if len(body) == 0 || string(body) == "null" {
		return args, nil
	}
	if !json.Valid(body) {
		return nil, refuse("invalid_json")
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil {
		return nil, refuse("json_not_object")
	}
	for k, raw := range obj {
		var str string
		if json.Unmarshal(raw, &str) == nil {
			args.Set(k, str)
		} else if string(raw) != "null" {
			args.Set(k, string(raw))
		}
	}
	return args, nil
}

// authorize checks the token the way Slack does: a bearer header or a "token" argument;
// none is not_authed, an unknown one invalid_auth, a kind of token the method does not take
// not_allowed_token_type, and a user token without the method's scope missing_scope (with
// Slack's needed and provided).
func (s *Server) authorize(r *http.Request, args url.Values, m method) (caller, *slackError) {
	token := args.Get("token")
	if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") {
		token = strings.TrimPrefix(h, "Bearer ")
	}
	var c caller
	switch token {
	case "":
		return c, refuse("not_authed")
	case s.cfg.botToken:
		c.kind = botToken
	case s.cfg.appToken:
		c.kind = appToken
	default:
		s.mu.Lock()
		ut, ok := s.userTokens[token]
		s.mu.Unlock()
		if !ok {
			return c, refuse("invalid_auth")
		}
		c = caller{kind: userToken, user: ut.user, scopes: ut.scopes}
	}
	if m.tokens&c.kind == 0 {
		return c, refuse("not_allowed_token_type")
	}
	if c.kind == userToken && m.scope != "" && !slices.Contains(c.scopes, m.scope) {
		bad := refuse("missing_scope")
		bad.extra = map[string]any{"needed": m.scope, "provided": strings.Join(c.scopes, ",")}
		return c, bad
	}
	return c, nil
}

// authTest says whom a token speaks for. A user token of a Grid org is an org-level one, as
// an org-wide install gives: no team (null), the org's enterprise_id, and
// is_enterprise_install true.
func (s *Server) authTest(c caller, _ url.Values) (map[string]any, *slackError) {
	out := map[string]any{
		"url":                   "https://" + s.cfg.teamDomain + ".slack.com/",
		"team":                  s.cfg.teamName,
		"user":                  s.cfg.botName,
		"team_id":               s.cfg.teamID,
		"user_id":               s.cfg.botUserID,
		"bot_id":                s.cfg.botID,
		"is_enterprise_install": false,
	}
	if c.kind == userToken {
		s.mu.Lock()
		u := s.users[c.user]
		s.mu.Unlock()
		delete(out, "bot_id")
		out["user"], out["user_id"] = u.Name, u.ID
		if s.cfg.enterpriseID != "" {
			out["url"] = "https://" + s.cfg.teamDomain + ".enterprise.slack.com/"
			out["team"], out["team_id"] = nil, nil
			out["is_enterprise_install"] = true
		}
	}
	if s.cfg.enterpriseID != "" {
		out["enterprise_id"] = s.cfg.enterpriseID
	}
	return out, nil
}

// connectionsOpen issues a single-use WebSocket URL, as apps.connections.open does.
func (s *Server) connectionsOpen(url.Values) (map[string]any, *slackError) {
	ticket := newEnvelopeID()
	s.mu.Lock()
	s.tickets[ticket] = false
	s.mu.Unlock()
	u := "ws" + strings.TrimPrefix(s.srv.URL, "http") + "/link/?ticket=" + ticket + "&app_id=" + s.cfg.appID
	return map[string]any{"url": u}, nil
}

// channelLocked resolves a channel argument — an id, a #name, or a user id (the bot's DM
// with that user) — and checks the bot may write there.
func (s *Server) channelLocked(arg string) (*Channel, *slackError) {
	if arg == "" {
		return nil, refuse("channel_not_found")
	}
	if c, ok := s.channels[arg]; ok {
		return s.writableLocked(c)
	}
	name := strings.TrimPrefix(arg, "#")
	for _, c := range s.channels {
		if c.Name == name && !c.IsIM {
			return s.writableLocked(c)
		}
	}
	if u, ok := s.users[arg]; ok && !u.Deleted && !u.IsBot {
		id := "D" + strings.TrimLeft(u.ID, "UW")
		c, ok := s.channels[id]
		if !ok {
			c = &Channel{ID: id, IsIM: true, IsPrivate: true, Member: true}
			s.channels[id] = c
		}
		return c, nil
	}
	return nil, refuse("channel_not_found")
}

func (s *Server) writableLocked(c *Channel) (*Channel, *slackError) {
	switch {
	case !c.Member && (c.IsPrivate || c.IsIM):
		return nil, refuse("channel_not_found")
	case !c.Member:
		return nil, refuse("not_in_channel")
	case c.Archived:
		return nil, refuse("is_archived")
	}
	return c, nil
}

// content checks a message's text and blocks against Slack's limits. blocksSet reports
// whether a blocks argument was given at all (chat.update keeps the old blocks otherwise).
func content(args url.Values, requireSome bool) (text string, blocks json.RawMessage, blocksSet bool, bad *slackError) {
	text = args.Get("text")
	_, blocksSet = args["blocks"]
	if blocksSet {
		var problems []string
		blocks, problems, bad = validateBlocks(args.Get("blocks"))
		if bad != nil {
			return "", nil, false, bad
		}
		if len(problems) > 0 {
			return "", nil, false, refuse("invalid_blocks", problems...)
		}
	}
	if utf8.RuneCountInString(text) > maxTextRunes {
		return "", nil, false, refuse("msg_too_long")
	}
	hasAttachments := args.Get("attachments") != "" && args.Get("attachments") != "[]"
	if requireSome && strings.TrimSpace(text) == "" && len(blocks) == 0 && !hasAttachments {
		return "", nil, false, refuse("no_text")
	}
	return text, blocks, blocksSet, nil
}

func (s *Server) postMessage(args url.Values) (map[string]any, *slackError) {
	text, blocks, _, bad := content(args, true)
	if bad != nil {
		return nil, bad
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, bad := s.channelLocked(args.Get("channel"))
	if bad != nil {
		return nil, bad
	}
	m := &Message{Channel: c.ID, TS: s.nextTSLocked(), User: s.cfg.botUserID, Text: text, Blocks: blocks}
	// A reply to a reply joins the parent's thread; a reply to a message Slack does not have
	// (an ephemeral one, a deleted one) is posted unthreaded, as Slack does.
	if parent, ok := s.byTS[c.ID+"/"+args.Get("thread_ts")]; ok && !parent.Deleted {
		m.ThreadTS = parent.TS
		if parent.ThreadTS != "" {
			m.ThreadTS = parent.ThreadTS
		}
	}
	m.History = []Revision{{Text: text, Blocks: blocks, At: time.Now(), Via: "chat.postMessage"}}
	s.messages = append(s.messages, m)
	s.byTS[c.ID+"/"+m.TS] = m
	s.emitLocked(Event{Kind: EventPost, Channel: c.ID, TS: m.TS, ThreadTS: m.ThreadTS, User: m.User, Text: text, Blocks: blocks})
	return map[string]any{"channel": c.ID, "ts": m.TS, "message": s.messageJSON(m)}, nil
}

func (s *Server) update(args url.Values) (map[string]any, *slackError) {
	if args.Get("ts") == "" {
		return nil, refuse("invalid_arguments", "[ERROR] missing required field: ts")
	}
	text, blocks, blocksSet, bad := content(args, false)
	if bad != nil {
		return nil, bad
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, bad := s.channelLocked(args.Get("channel"))
	if bad != nil {
		return nil, bad
	}
	m, ok := s.byTS[c.ID+"/"+args.Get("ts")]
	if !ok || m.Deleted {
		return nil, refuse("message_not_found")
	}
	if m.User != s.cfg.botUserID {
		return nil, refuse("cant_update_message")
	}
	if !blocksSet {
		blocks = m.Blocks
	}
	if strings.TrimSpace(text) == "" && len(blocks) == 0 {
		return nil, refuse("no_text")
	}
	m.Text, m.Blocks = text, blocks
	m.History = append(m.History, Revision{Text: text, Blocks: blocks, At: time.Now(), Via: "chat.update"})
	s.emitLocked(Event{Kind: EventUpdate, Channel: c.ID, TS: m.TS, ThreadTS: m.ThreadTS, User: m.User, Text: text, Blocks: blocks})
	return map[string]any{"channel": c.ID, "ts": m.TS, "text": text, "message": s.messageJSON(m)}, nil
}

func (s *Server) postEphemeral(args url.Values) (map[string]any, *slackError) {
	text, blocks, _, bad := content(args, true)
	if bad != nil {
		return nil, bad
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, bad := s.channelLocked(args.Get("channel"))
	if bad != nil {
		return nil, bad
	}
	u, ok := s.users[args.Get("user")]
	if !ok || u.Deleted {
		return nil, refuse("user_not_found")
	}
	e := Ephemeral{Channel: c.ID, User: u.ID, TS: s.nextTSLocked(), ThreadTS: args.Get("thread_ts"), Text: text, Blocks: blocks, At: time.Now()}
	s.ephemerals = append(s.ephemerals, e)
	s.emitLocked(Event{Kind: EventEphemeral, Channel: c.ID, TS: e.TS, ThreadTS: e.ThreadTS, User: u.ID, Text: text, Blocks: blocks})
	return map[string]any{"message_ts": e.TS}, nil
}

// messageJSON is a message as chat.postMessage and chat.update return it.
func (s *Server) messageJSON(m *Message) map[string]any {
	out := map[string]any{
		"type":   "message",
		"user":   m.User,
		"bot_id": s.cfg.botID,
		"app_id": s.cfg.appID,
		"text":   m.Text,
		"ts":     m.TS,
		"team":   s.cfg.teamID,
		"bot_profile": map[string]any{
			"id": s.cfg.botID, "app_id": s.cfg.appID, "name": s.cfg.botName, "team_id": s.cfg.teamID, "deleted": false,
		},
	}
	if m.ThreadTS != "" {
		out["thread_ts"] = m.ThreadTS
	}
	if len(m.Blocks) > 0 {
		out["blocks"] = m.Blocks
	}
	return out
}

func (s *Server) usersInfo(args url.Values) (map[string]any, *slackError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ids := args.Get("users"); ids != "" && args.Get("user") == "" {
		var list []any
		for _, id := range strings.Split(ids, ",") {
			u, ok := s.users[strings.TrimSpace(id)]
			if !ok {
				return nil, refuse("user_not_found")
			}
			list = append(list, userJSON(u))
		}
		return map[string]any{"users": list}, nil
	}
	id := args.Get("user")
	if id == "" {
		return nil, refuse("invalid_arguments", "[ERROR] missing required field: user")
	}
	u, ok := s.users[id]
	if !ok {
		return nil, refuse("user_not_found")
	}
	return map[string]any{"user": userJSON(u)}, nil
}

func (s *Server) lookupByEmail(args url.Values) (map[string]any, *slackError) {
	email := strings.TrimSpace(args.Get("email"))
	if email == "" {
		return nil, refuse("invalid_arguments", "[ERROR] missing required field: email")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, u := range s.users {
		if u.Email != "" && strings.EqualFold(u.Email, email) {
			return map[string]any{"user": userJSON(u)}, nil
		}
	}
	return nil, refuse("users_not_found")
}

// sessionReset wipes a person's sessions, as admin.users.session.reset does: only in an
// Enterprise Grid org (feature_not_enabled elsewhere), only for an Org Admin's or Owner's token
// (not_an_admin), only for someone who exists (user_not_found).
func (s *Server) sessionReset(c caller, args url.Values) (map[string]any, *slackError) {
	if s.cfg.enterpriseID == "" {
		return nil, refuse("feature_not_enabled")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.users[c.user].IsOrgAdmin {
		return nil, refuse("not_an_admin")
	}
	id := strings.TrimSpace(args.Get("user_id"))
	if id == "" {
		return nil, refuse("invalid_arguments", "[ERROR] missing required field: user_id")
	}
	if _, ok := s.users[id]; !ok {
		return nil, refuse("user_not_found")
	}
	flag := func(name string) bool { v := args.Get(name); return v == "true" || v == "1" }
	s.resets = append(s.resets, SessionReset{UserID: id, By: c.user, MobileOnly: flag("mobile_only"), WebOnly: flag("web_only"), At: time.Now()})
	s.notifyLocked()
	return nil, nil
}

func (s *Server) conversationsInfo(args url.Values) (map[string]any, *slackError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.channels[args.Get("channel")]
	if !ok || (!c.Member && (c.IsPrivate || c.IsIM)) {
		return nil, refuse("channel_not_found")
	}
	ch := map[string]any{
		"id":                    c.ID,
		"created":               1700000000,
		"is_archived":           c.Archived,
		"is_general":            false,
		"is_shared":             false,
		"is_org_shared":         false,
		"is_ext_shared":         false,
		"is_pending_ext_shared": false,
		"context_team_id":       s.cfg.teamID,
		"is_member":             c.Member,
		"is_im":                 c.IsIM,
		"is_mpim":               false,
	}
	if !c.IsIM {
		ch["name"] = c.Name
		ch["name_normalized"] = c.Name
		ch["is_channel"] = !c.IsPrivate
		ch["is_group"] = false
		ch["is_private"] = c.IsPrivate
		ch["creator"] = s.cfg.botUserID
		ch["topic"] = map[string]any{"value": "", "creator": "", "last_set": 0}
		ch["purpose"] = map[string]any{"value": "", "creator": "", "last_set": 0}
	} else {
		ch["user"] = "U" + strings.TrimPrefix(c.ID, "D")
	}
	return map[string]any{"channel": ch}, nil
}

// userJSON is a user as users.info returns it.
func userJSON(u User) map[string]any {
	display := u.Name
	profile := map[string]any{
		"real_name":               u.RealName,
		"real_name_normalized":    u.RealName,
		"display_name":            display,
		"display_name_normalized": display,
		"avatar_hash":             "g0000000000",
		"image_24":                "https://secure.gravatar.com/avatar/0.jpg?s=24",
		"image_32":                "https://secure.gravatar.com/avatar/0.jpg?s=32",
		"image_48":                "https://secure.gravatar.com/avatar/0.jpg?s=48",
		"image_72":                "https://secure.gravatar.com/avatar/0.jpg?s=72",
		"image_192":               "https://secure.gravatar.com/avatar/0.jpg?s=192",
		"image_512":               "https://secure.gravatar.com/avatar/0.jpg?s=512",
		"status_text":             "",
		"status_emoji":            "",
		"team":                    u.TeamID,
	}
	if u.Email != "" {
		profile["email"] = u.Email
	}
	out := map[string]any{
		"id":                  u.ID,
		"team_id":             u.TeamID,
		"name":                u.Name,
		"deleted":             u.Deleted,
		"color":               "9f69e7",
		"real_name":           u.RealName,
		"tz":                  "Europe/London",
		"tz_label":            "Greenwich Mean Time",
		"tz_offset":           0,
		"profile":             profile,
		"is_admin":            u.IsAdmin || u.IsOrgAdmin,
		"is_owner":            false,
		"is_primary_owner":    false,
		"is_restricted":       u.IsRestricted,
		"is_ultra_restricted": u.IsUltraRestricted,
		"is_bot":              u.IsBot,
		"is_app_user":         false,
		"updated":             1700000000,
		"is_email_confirmed":  u.Email != "" && !u.EmailUnconfirmed,
	}
	if u.IsStranger {
		// Slack sends is_stranger only for users of another organisation.
		out["is_stranger"] = true
	}
	if u.EnterpriseID != "" {
		out["enterprise_user"] = map[string]any{"id": u.ID, "enterprise_id": u.EnterpriseID, "enterprise_name": "Example Org",
			"is_admin": u.IsOrgAdmin, "is_owner": false, "teams": []string{u.TeamID}}
	}
	return out
}
