package bot

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Limits on what a responder can type, so one command cannot produce a card Slack refuses.
const (
	maxCommandText = 3000
	maxReason      = 500
)

// command is a parsed `/reset-sessions` text.
type command struct {
	help bool
	// who is exactly one of these.
	slackUser string // from a mention <@U…|name>
	email     string // from <mailto:…> or a plain address
	login     string // an Okta login or user id
	reason    string
}

var (
	mentionRE = regexp.MustCompile(`^<@([UW][A-Z0-9]{2,20})(?:\|[^>]*)?>$`)
	mailtoRE  = regexp.MustCompile(`^<mailto:([^|>]+)(?:\|[^>]*)?>$`)
	// A plain address or Okta login/id: printable, no markup, no quotes.
	plainRE = regexp.MustCompile(`^[A-Za-z0-9._%+\-@]{1,100}$`)
	emailRE = regexp.MustCompile(`^[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}$`)
)

// usageError is a command the bot cannot act on, with words for the person who typed it.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// parseCommand reads `<who> [reason…]`. It never calls out: anything it rejects is answered
// in the ack itself.
func parseCommand(text string) (command, error) {
	text = strings.TrimSpace(text)
	if text == "" || strings.EqualFold(text, "help") {
		return command{help: true}, nil
	}
	if !utf8.ValidString(text) {
		return command{}, &usageError{"That text is not valid UTF-8; type the person's email and a reason."}
	}
	if len(text) > maxCommandText {
		return command{}, &usageError{fmt.Sprintf("That is too long (%d characters); name one person and a short reason.", len(text))}
	}
	who, reason, _ := strings.Cut(text, " ")
	reason = strings.Join(strings.Fields(reason), " ")
	if utf8.RuneCountInString(reason) > maxReason {
		return command{}, &usageError{fmt.Sprintf("The reason is too long: keep it under %d characters.", maxReason)}
	}
	c := command{reason: reason}
	switch {
	case mentionRE.MatchString(who):
		c.slackUser = mentionRE.FindStringSubmatch(who)[1]
	case mailtoRE.MatchString(who):
		c.email = mailtoRE.FindStringSubmatch(who)[1]
		if !emailRE.MatchString(c.email) {
			return command{}, notAPerson(who)
		}
	case plainRE.MatchString(who) && emailRE.MatchString(who):
		c.email = who
	case plainRE.MatchString(who):
		c.login = who
	default:
		return command{}, notAPerson(who)
	}
	return c, nil
}

func notAPerson(who string) error {
	if utf8.RuneCountInString(who) > 60 {
		who = string([]rune(who)[:60]) + "…"
	}
	return &usageError{fmt.Sprintf("I can't read `%s` as a person. Give their email, Okta login, Okta user id or an @mention.", escape(who))}
}

// usage is the private help text.
func usage(cmd string) string {
	if cmd == "" {
		cmd = "/reset-sessions"
	}
	return fmt.Sprintf("*%[1]s* signs someone out of every system at once, after a second responder approves.\n"+
		"Usage: `%[1]s <who> [reason]` where who is an email, an Okta login, an Okta user id or an @mention.\n"+
		"Example: `%[1]s alice@example.com clicked a phishing link`", cmd)
}

// escape makes user text safe inside mrkdwn: Slack reads &, < and > as markup, so an
// unescaped <!channel> in a reason would ping everyone.
func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
