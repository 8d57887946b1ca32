package slackfake_test

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	slackfake "github.com/resetbot/resetbot/internal/fake/slack"
)

func section(text string) slack.Block {
	return slack.NewSectionBlock(slack.NewTextBlockObject("mrkdwn", text, false, false), nil, nil)
}

func button(actionID, text, value string) *slack.ButtonBlockElement {
	return slack.NewButtonBlockElement(actionID, value, slack.NewTextBlockObject("plain_text", text, false, false))
}

func buttons(n int) []slack.BlockElement {
	var out []slack.BlockElement
	for i := range n {
		out = append(out, button(fmt.Sprintf("b%d", i), "Go", "v"))
	}
	return out
}

func TestPostMessageAnswersWithSlackErrorWords(t *testing.T) {
	t.Parallel()
	s := start(t)
	s.AddChannel(slackfake.Channel{ID: "C0ELSEWHERE", Name: "random"})
	s.AddChannel(slackfake.Channel{ID: "G0SECRET", Name: "secret", IsPrivate: true})
	api := apiClient(s)
	long := func(n int) string { return strings.Repeat("a", n) }
	many := make([]slack.Block, 51)
	for i := range many {
		many[i] = slack.NewDividerBlock()
	}

	for _, tc := range []struct {
		name    string
		channel string
		opts    []slack.MsgOption
		want    string
		message string // one of Slack's response_metadata messages
	}{
		{name: "bot not in channel", channel: "C0ELSEWHERE", opts: []slack.MsgOption{slack.MsgOptionText("hi", false)}, want: "not_in_channel"},
		{name: "unknown channel", channel: "C0NOWHERE", opts: []slack.MsgOption{slack.MsgOptionText("hi", false)}, want: "channel_not_found"},
		{name: "private channel without the bot", channel: "G0SECRET", opts: []slack.MsgOption{slack.MsgOptionText("hi", false)}, want: "channel_not_found"},
		{name: "nothing to post", channel: channelID, want: "no_text"},
		{name: "text over 40000 characters", channel: channelID, opts: []slack.MsgOption{slack.MsgOptionText(long(40001), false)}, want: "msg_too_long"},
		{name: "more than 50 blocks", channel: channelID, opts: []slack.MsgOption{slack.MsgOptionBlocks(many...)},
			want: "invalid_blocks", message: "[ERROR] no more than 50 items allowed [json-pointer:/blocks]"},
		{name: "section text over 3000", channel: channelID, opts: []slack.MsgOption{slack.MsgOptionBlocks(section(long(3001)))},
			want: "invalid_blocks", message: "[ERROR] must be less than 3001 characters [json-pointer:/blocks/0/text/text]"},
		{name: "header text over 150", channel: channelID, opts: []slack.MsgOption{slack.MsgOptionBlocks(
			slack.NewHeaderBlock(slack.NewTextBlockObject("plain_text", long(151), false, false)))},
			want: "invalid_blocks", message: "[ERROR] must be less than 151 characters [json-pointer:/blocks/0/text/text]"},
		{name: "button text over 75", channel: channelID, opts: []slack.MsgOption{slack.MsgOptionBlocks(
			slack.NewActionBlock("a", button("approve", long(76), "v")))},
			want: "invalid_blocks", message: "[ERROR] must be less than 76 characters [json-pointer:/blocks/0/elements/0/text/text]"},
		{name: "button value over 2000", channel: channelID, opts: []slack.MsgOption{slack.MsgOptionBlocks(
			slack.NewActionBlock("a", button("approve", "Approve", long(2001))))},
			want: "invalid_blocks", message: "[ERROR] must be less than 2001 characters [json-pointer:/blocks/0/elements/0/value]"},
		{name: "action_id over 255", channel: channelID, opts: []slack.MsgOption{slack.MsgOptionBlocks(
			slack.NewActionBlock("a", button(long(256), "Approve", "v")))},
			want: "invalid_blocks", message: "[ERROR] must be less than 256 characters [json-pointer:/blocks/0/elements/0/action_id]"},
		{name: "block_id over 255", channel: channelID, opts: []slack.MsgOption{slack.MsgOptionBlocks(
			slack.NewActionBlock(long(256), button("approve", "Approve", "v")))},
			want: "invalid_blocks", message: "[ERROR] must be less than 256 characters [json-pointer:/blocks/0/block_id]"},
		{name: "duplicate block_id", channel: channelID, opts: []slack.MsgOption{slack.MsgOptionBlocks(
			slack.NewActionBlock("a", button("approve", "Approve", "v")), slack.NewActionBlock("a", button("cancel", "Cancel", "v")))},
			want: "invalid_blocks", message: `[ERROR] duplicate block_id "a" [json-pointer:/blocks/1/block_id]`},
		{name: "duplicate action_id in a block", channel: channelID, opts: []slack.MsgOption{slack.MsgOptionBlocks(
			slack.NewActionBlock("a", button("approve", "Approve", "v"), button("approve", "Cancel", "v")))},
			want: "invalid_blocks", message: `[ERROR] duplicate action_id "approve" [json-pointer:/blocks/0/elements/1/action_id]`},
		{name: "more than 25 actions", channel: channelID, opts: []slack.MsgOption{slack.MsgOptionBlocks(
			slack.NewActionBlock("a", buttons(26)...))},
			want: "invalid_blocks", message: "[ERROR] no more than 25 items allowed [json-pointer:/blocks/0/elements]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := api.PostMessage(tc.channel, tc.opts...)
			var se slack.SlackErrorResponse
			if !errors.As(err, &se) || se.Err != tc.want {
				t.Fatalf("PostMessage error = %v, want %s", err, tc.want)
			}
			if tc.message != "" && !slices.Contains(se.ResponseMetadata.Messages, tc.message) {
				t.Errorf("response_metadata.messages = %q, want %q among them", se.ResponseMetadata.Messages, tc.message)
			}
		})
	}
	if msgs := s.Messages(); len(msgs) != 0 {
		t.Errorf("refused posts were recorded: %+v", msgs)
	}
}

func TestCardUpdatesKeepTheirHistory(t *testing.T) {
	t.Parallel()
	s := start(t)
	api := apiClient(s)

	_, ts, err := api.PostMessage(channelID, slack.MsgOptionText("pending", false), slack.MsgOptionBlocks(section("Reset *bob*? pending")))
	if err != nil {
		t.Fatal(err)
	}
	for _, state := range []string{"running", "done"} {
		if _, _, _, err := api.UpdateMessage(channelID, ts, slack.MsgOptionText(state, false)); err != nil {
			t.Fatalf("update to %s: %v", state, err)
		}
	}
	_, replyTS, err := api.PostMessage(channelID, slack.MsgOptionText("okta: revoked", false), slack.MsgOptionTS(ts))
	if err != nil {
		t.Fatal(err)
	}

	sn := s.Snapshot()
	card, _ := sn.Message(channelID, ts)
	var texts []string
	for _, r := range card.History {
		texts = append(texts, r.Via+":"+r.Text)
	}
	if want := []string{"chat.postMessage:pending", "chat.update:running", "chat.update:done"}; !slices.Equal(texts, want) {
		t.Errorf("card history = %q, want %q", texts, want)
	}
	if !strings.Contains(string(card.Blocks), "Reset *bob*? pending") {
		t.Errorf("blocks = %s: an update without blocks must keep the card's blocks", card.Blocks)
	}
	if th := sn.Thread(channelID, ts); len(th) != 1 || th[0].TS != replyTS || th[0].Text != "okta: revoked" {
		t.Errorf("thread = %+v, want the summary line under the card", th)
	}
}

func TestEphemeralMessagesCannotBeUpdatedOrThreaded(t *testing.T) {
	t.Parallel()
	s := start(t)
	api := apiClient(s)

	ts, err := api.PostEphemeral(channelID, userID, slack.MsgOptionText("you may not request resets", false))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := api.UpdateMessage(channelID, ts, slack.MsgOptionText("changed", false)); err == nil || err.Error() != "message_not_found" {
		t.Errorf("update of an ephemeral message: %v, want message_not_found", err)
	}
	if _, _, _, err := api.UpdateMessage(channelID, "1.000001", slack.MsgOptionText("changed", false)); err == nil || err.Error() != "message_not_found" {
		t.Errorf("update of a message that never was: %v, want message_not_found", err)
	}
	_, replyTS, err := api.PostMessage(channelID, slack.MsgOptionText("reply", false), slack.MsgOptionTS(ts))
	if err != nil {
		t.Fatal(err)
	}
	m, _ := s.Snapshot().Message(channelID, replyTS)
	if m.ThreadTS != "" {
		t.Errorf("reply to an ephemeral message landed in thread %q; Slack posts it unthreaded", m.ThreadTS)
	}
	eph := s.Ephemerals()
	if len(eph) != 1 || eph[0].User != userID || eph[0].Text != "you may not request resets" {
		t.Errorf("ephemerals = %+v, want alice's refusal", eph)
	}
	if _, err := api.PostEphemeral(channelID, "U0NOBODY", slack.MsgOptionText("x", false)); err == nil || err.Error() != "user_not_found" {
		t.Errorf("ephemeral to an unknown user: %v, want user_not_found", err)
	}
}

func TestTokensAreChecked(t *testing.T) {
	t.Parallel()
	s := start(t)
	for _, tc := range []struct {
		name string
		call func() error
		want string
	}{
		{"wrong bot token", func() error {
			_, err := slack.New("xoxb-wrong", slack.OptionAPIURL(s.APIURL())).AuthTest()
			return err
		}, "invalid_auth"},
		{"app token for a bot method", func() error {
			_, _, err := slack.New(s.AppToken(), slack.OptionAPIURL(s.APIURL())).PostMessage(channelID, slack.MsgOptionText("x", false))
			return err
		}, "not_allowed_token_type"},
		{"bot token for apps.connections.open", func() error {
			_, _, err := slack.New(s.BotToken(), slack.OptionAPIURL(s.APIURL()), slack.OptionAppLevelToken(s.BotToken())).StartSocketModeContext(context.Background())
			return err
		}, "not_allowed_token_type"},
		{"wrong app token", func() error {
			_, _, err := slack.New(s.BotToken(), slack.OptionAPIURL(s.APIURL()), slack.OptionAppLevelToken("xapp-wrong")).StartSocketModeContext(context.Background())
			return err
		}, "invalid_auth"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if err := tc.call(); err == nil || err.Error() != tc.want {
				t.Errorf("error = %v, want %s", err, tc.want)
			}
		})
	}

	res, err := apiClient(s).AuthTest()
	if err != nil || res.UserID != s.BotUserID() || res.TeamID != s.TeamID() {
		t.Errorf("auth.test = %+v, %v; want the bot in its team", res, err)
	}
}

func TestDirectoryMethods(t *testing.T) {
	t.Parallel()
	s := start(t)
	s.AddUser(slackfake.User{ID: "U0GUEST", Name: "gus", Email: "gus@partner.example", IsRestricted: true, Deleted: true})
	api := apiClient(s)

	u, err := api.GetUserInfo(userID)
	if err != nil || u.Profile.Email != "alice@example.com" || u.Name != "alice" || u.RealName != "Alice Example" || u.TeamID != s.TeamID() {
		t.Errorf("users.info = %+v, %v; want alice with her email", u, err)
	}
	g, err := api.GetUserByEmail("GUS@partner.example")
	if err != nil || g.ID != "U0GUEST" || !g.IsRestricted || !g.Deleted {
		t.Errorf("users.lookupByEmail = %+v, %v; want the deactivated guest", g, err)
	}
	if _, err := api.GetUserInfo("U0NOBODY"); err == nil || err.Error() != "user_not_found" {
		t.Errorf("users.info of nobody: %v, want user_not_found", err)
	}
	if _, err := api.GetUserByEmail("nobody@example.com"); err == nil || err.Error() != "users_not_found" {
		t.Errorf("users.lookupByEmail of nobody: %v, want users_not_found", err)
	}
	ch, err := api.GetConversationInfo(&slack.GetConversationInfoInput{ChannelID: channelID})
	if err != nil || ch.Name != "security-resets" || !ch.IsMember {
		t.Errorf("conversations.info = %+v, %v; want the channel the bot is in", ch, err)
	}
	if _, err := api.GetConversationInfo(&slack.GetConversationInfoInput{ChannelID: "C0NOWHERE"}); err == nil || err.Error() != "channel_not_found" {
		t.Errorf("conversations.info of nowhere: %v, want channel_not_found", err)
	}
}

func TestMalformedCalls(t *testing.T) {
	t.Parallel()
	s := start(t)
	for _, tc := range []struct {
		name, method, contentType, body, want string
	}{
		{"unknown method", "chat.scheduleMessage", "application/x-www-form-urlencoded", url.Values{"token": {s.BotToken()}}.Encode(), `"error":"unknown_method"`},
		{"broken JSON", "chat.postMessage", "application/json", `{"channel":`, `"error":"invalid_json"`},
		{"JSON that is not an object", "chat.postMessage", "application/json", `[1]`, `"error":"json_not_object"`},
		{"no token", "auth.test", "application/x-www-form-urlencoded", "", `"error":"not_authed"`},
		{"blocks that are not an array", "chat.postMessage", "application/x-www-form-urlencoded",
			url.Values{"token": {s.BotToken()}, "channel": {channelID}, "blocks": {`{"type":"divider"}`}}.Encode(), `"error":"invalid_blocks_format"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req, _ := http.NewRequest(http.MethodPost, s.APIURL()+tc.method, strings.NewReader(tc.body))
			req.Header.Set("Content-Type", tc.contentType)
			req.Header.Set("Authorization", "Bearer "+s.BotToken())
			if tc.name == "no token" {
				req.Header.Del("Authorization")
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), tc.want) || !strings.Contains(string(body), `"ok":false`) {
				t.Errorf("%s answered %d %s, want 200 with %s", tc.method, resp.StatusCode, body, tc.want)
			}
		})
	}
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	t.Run("without retries the caller sees Retry-After", func(t *testing.T) {
		t.Parallel()
		s := start(t)
		s.RateLimit("chat.postMessage", 1, 7*time.Second)
		_, _, err := apiClient(s).PostMessage(channelID, slack.MsgOptionText("hi", false))
		var rl *slack.RateLimitedError
		if !errors.As(err, &rl) || rl.RetryAfter != 7*time.Second {
			t.Fatalf("error = %v, want a rate limit with Retry-After 7s", err)
		}
		if errs := s.Errors(); len(errs) != 1 || errs[0].Error != "ratelimited" {
			t.Errorf("refusals = %+v, want one ratelimited", errs)
		}
	})
	t.Run("OptionRetry waits and succeeds", func(t *testing.T) {
		t.Parallel()
		s := start(t)
		s.RateLimit("chat.postMessage", 1, time.Second)
		api := apiClient(s, slack.OptionRetryConfig(slack.RetryConfig{MaxRetries: 2}))
		if _, _, err := api.PostMessage(channelID, slack.MsgOptionText("hi", false)); err != nil {
			t.Fatalf("PostMessage with retries: %v", err)
		}
		if n := s.Count("chat.postMessage"); n != 2 {
			t.Errorf("chat.postMessage reached the fake %d times, want 2 (429, then the retry)", n)
		}
		if msgs := s.Messages(); len(msgs) != 1 {
			t.Errorf("%d messages posted, want 1", len(msgs))
		}
	})
}

func TestResponseURLLimits(t *testing.T) {
	t.Parallel()
	s := start(t)
	api := apiClient(s)
	s.SendSlashCommand(slackfake.SlashCommand{ChannelID: channelID, UserID: userID, Text: "bob"})
	// No client is connected: the envelope waits, but its payload (and response_url) exist.
	sn := s.Snapshot()
	if len(sn.Envelopes) != 1 || !sn.Envelopes[0].SentAt.IsZero() {
		t.Fatalf("envelopes = %+v, want one waiting for a connection", sn.Envelopes)
	}
	var cmd slack.SlashCommand
	if err := cmd.UnmarshalJSON(sn.Envelopes[0].Payload); err != nil {
		t.Fatal(err)
	}

	if _, _, err := api.PostMessage("", slack.MsgOptionResponseURL(cmd.ResponseURL, slack.ResponseTypeEphemeral)); err == nil {
		t.Error("a reply with no text was accepted")
	}
	for i := range 5 {
		if _, _, err := api.PostMessage("", slack.MsgOptionResponseURL(cmd.ResponseURL, slack.ResponseTypeEphemeral),
			slack.MsgOptionText(fmt.Sprintf("reply %d", i), false)); err != nil {
			t.Fatalf("reply %d: %v", i, err)
		}
	}
	_, _, err := api.PostMessage("", slack.MsgOptionResponseURL(cmd.ResponseURL, slack.ResponseTypeEphemeral), slack.MsgOptionText("sixth", false))
	var sc slack.StatusCodeError
	if !errors.As(err, &sc) || sc.Code != http.StatusNotFound {
		t.Errorf("sixth reply: %v, want 404", err)
	}
	errs := s.Errors()
	if got := []string{errs[0].Error, errs[len(errs)-1].Error}; !slices.Equal(got, []string{"no_text", "used_url"}) {
		t.Errorf("refusals = %+v, want no_text then used_url", errs)
	}
	if rs := s.Responses(); len(rs) != 5 || rs[4].Text != "reply 4" || rs[4].User != userID || rs[4].Kind != "command" {
		t.Errorf("responses = %+v, want the five accepted replies to alice", rs)
	}
}

// post calls method with token the way any Web API client does, and returns the HTTP status,
// the headers and the decoded answer.
func post(t *testing.T, s *slackfake.Server, token, method string, args url.Values) (int, http.Header, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.APIURL()+method, strings.NewReader(args.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	return resp.StatusCode, resp.Header, body
}

func TestSessionReset(t *testing.T) {
	t.Parallel()
	grid := start(t, slackfake.WithEnterprise("E0GRID"))
	plain := start(t)
	member := grid.UserToken(userID)
	noScope := grid.UserToken(slackfake.AdminUserID, "users:read", "users:read.email")
	for _, tc := range []struct {
		name  string
		s     *slackfake.Server
		token string
		args  url.Values
		want  string // the error word; "" for ok
	}{
		{"an org admin's token wipes every session", grid, grid.AdminToken(), url.Values{"user_id": {userID}}, ""},
		{"only web sessions", grid, grid.AdminToken(), url.Values{"user_id": {userID}, "web_only": {"true"}}, ""},
		{"the bot token is not taken", grid, grid.BotToken(), url.Values{"user_id": {userID}}, "not_allowed_token_type"},
		{"nor the app-level token", grid, grid.AppToken(), url.Values{"user_id": {userID}}, "not_allowed_token_type"},
		{"a member's token", grid, member, url.Values{"user_id": {userID}}, "not_an_admin"},
		{"a token without admin.users:write", grid, noScope, url.Values{"user_id": {userID}}, "missing_scope"},
		{"nobody", grid, grid.AdminToken(), url.Values{"user_id": {"W0NOBODY"}}, "user_not_found"},
		{"no user_id", grid, grid.AdminToken(), url.Values{}, "invalid_arguments"},
		{"a workspace without Enterprise Grid", plain, plain.AdminToken(), url.Values{"user_id": {userID}}, "feature_not_enabled"},
		{"a token Slack never issued", grid, "xoxp-1-2-3-forged", url.Values{"user_id": {userID}}, "invalid_auth"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, _, body := post(t, tc.s, tc.token, "admin.users.session.reset", tc.args)
			if tc.want == "" && (status != http.StatusOK || body["ok"] != true) || tc.want != "" && body["error"] != tc.want {
				t.Errorf("answer %d %v, want %q", status, body, cmp.Or(tc.want, "ok"))
			}
		})
	}
	if n := grid.SessionResets(userID); n != 1 {
		t.Errorf("SessionResets = %d, want 1 (the web-only reset does not wipe every session)", n)
	}
	if rs := grid.Resets(); len(rs) != 2 || rs[1].By != slackfake.AdminUserID || !rs[1].WebOnly {
		t.Errorf("resets = %+v, want both, made by the org admin", rs)
	}
	_, _, body := post(t, grid, noScope, "admin.users.session.reset", url.Values{"user_id": {userID}})
	if body["needed"] != "admin.users:write" || body["provided"] != "users:read,users:read.email" {
		t.Errorf("missing_scope answer %v, want Slack's needed and provided", body)
	}
	// Every refusal is recorded; those of a person's token are not part of the bot's conversation.
	var recorded, conversed []string
	for _, e := range grid.Errors() {
		recorded = append(recorded, e.Error)
	}
	grid.Close()
	for ev := range grid.Events() {
		if ev.Kind == slackfake.EventRefused {
			conversed = append(conversed, ev.Error)
		}
	}
	if want := []string{"not_allowed_token_type", "not_allowed_token_type", "not_an_admin", "missing_scope", "user_not_found", "invalid_arguments", "invalid_auth", "missing_scope"}; !slices.Equal(recorded, want) {
		t.Errorf("refusals recorded = %v, want %v", recorded, want)
	}
	if want := []string{"not_allowed_token_type", "not_allowed_token_type", "invalid_auth"}; !slices.Equal(conversed, want) {
		t.Errorf("refusals in the conversation = %v, want only the bot's, the app's and the unknown token's: %v", conversed, want)
	}
}

func TestSessionResetRateLimit(t *testing.T) {
	t.Parallel()
	s := start(t, slackfake.WithEnterprise("E0GRID"))
	s.RateLimit("admin.users.session.reset", 1, 30*time.Second)
	status, header, body := post(t, s, s.AdminToken(), "admin.users.session.reset", url.Values{"user_id": {userID}})
	if status != http.StatusTooManyRequests || header.Get("Retry-After") != "30" || body["error"] != "ratelimited" {
		t.Errorf("answer %d Retry-After %q %v, want 429 ratelimited with Retry-After 30", status, header.Get("Retry-After"), body)
	}
	if status, _, _ := post(t, s, s.AdminToken(), "admin.users.session.reset", url.Values{"user_id": {userID}}); status != http.StatusOK || s.SessionResets(userID) != 1 {
		t.Errorf("after the limit: %d, %d resets; want the reset served", status, s.SessionResets(userID))
	}
}

func TestAdminTokenIdentity(t *testing.T) {
	t.Parallel()
	grid := start(t, slackfake.WithEnterprise("E0GRID"))
	_, header, body := post(t, grid, grid.AdminToken(), "auth.test", nil)
	if body["enterprise_id"] != "E0GRID" || body["is_enterprise_install"] != true || body["team_id"] != nil || body["user_id"] != slackfake.AdminUserID {
		t.Errorf("auth.test of the admin token = %v, want an org-level token of the org admin", body)
	}
	if got := header.Get("X-OAuth-Scopes"); got != strings.Join(slackfake.AdminScopes(), ",") {
		t.Errorf("X-OAuth-Scopes = %q, want the admin's scopes", got)
	}
	_, _, body = post(t, grid, grid.BotToken(), "auth.test", nil)
	if body["user_id"] != grid.BotUserID() || body["is_enterprise_install"] != false || body["team_id"] != grid.TeamID() {
		t.Errorf("auth.test of the bot token = %v, want the bot in its workspace", body)
	}
	plain := start(t)
	_, _, body = post(t, plain, plain.AdminToken(), "auth.test", nil)
	if _, ok := body["enterprise_id"]; ok || body["is_enterprise_install"] != false || body["team_id"] != plain.TeamID() {
		t.Errorf("auth.test of a workspace admin's token = %v, want no enterprise", body)
	}
	// The admin's token finds people by email, as the bot's does.
	u, err := slack.New(grid.AdminToken(), slack.OptionAPIURL(grid.APIURL())).GetUserByEmail("alice@example.com")
	if err != nil || u.ID != userID {
		t.Errorf("users.lookupByEmail with the admin token = %+v, %v; want alice", u, err)
	}
	if _, err := slack.New(grid.UserToken(userID, "users:read"), slack.OptionAPIURL(grid.APIURL())).GetUserByEmail("alice@example.com"); err == nil || err.Error() != "missing_scope" {
		t.Errorf("users.lookupByEmail without users:read.email: %v, want missing_scope", err)
	}
}
