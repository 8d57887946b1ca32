package demo

import (
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"

	slackfake "github.com/resetbot/resetbot/internal/fake/slack"
)

// transcript prints a Slack conversation the way a person in the channel would read it: the
// commands people typed, the private answers only they saw, the card and its changes, and the
// thread. It reads the fake Slack's event log, so what it shows is what the bot really sent.
type transcript struct {
	w     io.Writer
	names map[string]string // Slack user id → display name
	// last keeps each message's last rendering, so an update prints only what changed.
	last map[string][]string
}

func newTranscript(w io.Writer, names map[string]string) *transcript {
	return &transcript{w: w, names: names, last: map[string][]string{}}
}

func (t *transcript) print(e slackfake.Event) {
	switch e.Kind {
	case slackfake.EventCommand:
		fmt.Fprintf(t.w, "\n%s typed:  %s\n", t.name(e.User), e.Text)
	case slackfake.EventAction:
		fmt.Fprintf(t.w, "\n%s clicked [%s]\n", t.name(e.User), strings.ToUpper(e.ActionID[:1])+e.ActionID[1:])
	case slackfake.EventResponse, slackfake.EventEphemeral:
		text := t.mrkdwn(e.Text)
		if text == "" {
			return
		}
		fmt.Fprintf(t.w, "  (only %s sees this) resetbot: %s\n", t.name(e.User), indent(text, "    "))
	case slackfake.EventPost:
		if e.ThreadTS != "" {
			fmt.Fprintf(t.w, "\n  ↳ resetbot replied in the thread:\n      %s\n", indent(t.mrkdwn(e.Text), "      "))
			return
		}
		lines := t.render(e)
		t.last[e.TS] = lines
		fmt.Fprintf(t.w, "\nresetbot posted in #%s:\n%s\n", channelName(e.Channel), box(lines))
	case slackfake.EventUpdate:
		lines := t.render(e)
		var changed []string
		for _, l := range lines {
			if !slices.Contains(t.last[e.TS], l) {
				changed = append(changed, l)
			}
		}
		t.last[e.TS] = lines
		if len(changed) > 0 {
			fmt.Fprintf(t.w, "  ✎ card updated: %s\n", strings.Join(changed, " | "))
		}
	case slackfake.EventRefused:
		fmt.Fprintf(t.w, "  ! Slack refused %s: %s\n", e.Text, e.Error)
	}
}

// final prints a message's whole last state.
func (t *transcript) final(ts string) {
	if lines, ok := t.last[ts]; ok {
		fmt.Fprintf(t.w, "\nThe card now reads:\n%s\n", box(lines))
	}
}

// render turns Block Kit into text lines: headers, sections with their fields, context, and
// buttons as [Label].
func (t *transcript) render(e slackfake.Event) []string {
	var blocks []struct {
		Type     string `json:"type"`
		Text     *text  `json:"text"`
		Fields   []text `json:"fields"`
		Elements []struct {
			Type string `json:"type"`
			// Text is a string for context elements and a text object for buttons.
			Text json.RawMessage `json:"text"`
		} `json:"elements"`
	}
	if len(e.Blocks) == 0 || json.Unmarshal(e.Blocks, &blocks) != nil {
		return []string{t.mrkdwn(e.Text)}
	}
	var out []string
	for _, b := range blocks {
		switch b.Type {
		case "header":
			out = append(out, strings.ToUpper(b.Text.Text))
		case "section":
			if b.Text != nil {
				out = append(out, strings.Split(t.mrkdwn(b.Text.Text), "\n")...)
			}
			for _, f := range b.Fields {
				out = append(out, strings.ReplaceAll(strings.Replace(t.mrkdwn(f.Text), "\n", ": ", 1), "\n", " "))
			}
		case "context":
			for _, el := range b.Elements {
				var s string
				if json.Unmarshal(el.Text, &s) == nil {
					out = append(out, t.mrkdwn(s))
				}
			}
		case "actions":
			var buttons []string
			for _, el := range b.Elements {
				var label text
				if json.Unmarshal(el.Text, &label) == nil && label.Text != "" {
					buttons = append(buttons, "["+label.Text+"]")
				}
			}
			out = append(out, strings.Join(buttons, " "))
		}
	}
	return out
}

type text struct {
	Text string `json:"text"`
}

var (
	mentionRE = regexp.MustCompile(`<@([A-Z0-9]+)(?:\|[^>]*)?>`)
	dateRE    = regexp.MustCompile(`<!date\^[^|>]*\|([^>]*)>`)
	emojiRE   = regexp.MustCompile(`:([a-z_]+):`)
	emoji     = map[string]string{
		"white_check_mark": "✓", "x": "✗", "white_circle": "○", "large_green_circle": "●",
		"warning": "!", "heavy_minus_sign": "–", "hourglass_flowing_sand": "…", "hourglass": "⌛", "checkered_flag": "⚑",
		"no_entry_sign": "⊘", "mag": "🔍",
	}
)

// mrkdwn renders Slack markup as plain text: mentions by name, dates by their fallback.
func (t *transcript) mrkdwn(s string) string {
	s = mentionRE.ReplaceAllStringFunc(s, func(m string) string { return "@" + t.name(mentionRE.FindStringSubmatch(m)[1]) })
	s = dateRE.ReplaceAllString(s, "$1")
	s = emojiRE.ReplaceAllStringFunc(s, func(m string) string {
		if r, ok := emoji[strings.Trim(m, ":")]; ok {
			return r
		}
		return m
	})
	s = strings.NewReplacer("*", "", "_(", "(", ")_", ")", "`", "", "&lt;", "<", "&gt;", ">", "&amp;", "&").Replace(s)
	return strings.TrimSpace(s)
}

func (t *transcript) name(id string) string {
	if n, ok := t.names[id]; ok {
		return n
	}
	return id
}

func channelName(id string) string {
	if id == "C0SECURITY" {
		return "security-incidents"
	}
	return id
}

func box(lines []string) string {
	var b strings.Builder
	for _, l := range lines {
		if strings.TrimSpace(l) == "" {
			continue
		}
		fmt.Fprintf(&b, "  │ %s\n", l)
	}
	return strings.TrimRight(b.String(), "\n")
}

func indent(s, prefix string) string {
	return strings.ReplaceAll(s, "\n", "\n"+prefix)
}
