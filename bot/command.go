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

// maxNamed bounds how many people and groups one command may name; a group may still hold
// many more people (see maxPeople).
const maxNamed = 100

// command is a parsed `/reset-sessions` text.
type command struct {
	help   bool
	people []who
	reason string
}

// who is one person or group named in a command; exactly one field is set.
type who struct {
	slackUser string // from a mention <@U…|name>
	email     string // from <mailto:…> or a plain address
	login     string // an Okta login or user id
	group     string // an Okta group name, from group:<name>
}

// key tells repeats apart as Okta does: group names and addresses ignore case, so
// group:Big, group:big and group:BIG are one group, asked of Okta once.
func (w who) key() who {
	w.group, w.email = strings.ToLower(w.group), strings.ToLower(w.email)
	return w
}

// batch reports whether the command names more than one person, or a group.
func (c command) batch() bool {
	return len(c.people) > 1 || (len(c.people) == 1 && c.people[0].group != "")
}

var (
	mentionRE = regexp.MustCompile(`^<@([UW][A-Z0-9]{2,20})(?:\|[^>]*)?>$`)
	mailtoRE  = regexp.MustCompile(`^<mailto:([^|>]+)(?:\|[^>]*)?>$`)
	// A plain address or Okta login/id: printable, no markup, no quotes.
	plainRE = regexp.MustCompile(`^[A-Za-z0-9._%+\-@]{1,100}$`)
	emailRE = regexp.MustCompile(`^[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}$`)
	// An Okta group name: letters, digits, spaces and common punctuation, no markup.
	groupRE = regexp.MustCompile(`^[\p{L}\p{N} ._\-()&'/]{1,100}$`)
)

// usageError is a command the bot cannot act on, with words for the person who typed it.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// parseCommand reads `<who>[, <who>…] [reason…]`, where who is a person or group:<Okta group>.
// The first word always names someone; after it, a word names someone too when the list goes
// on with a comma or when it cannot be a word of a reason (a mention, an address, a group),
// so "alice bob phished" asks for alice with the reason "bob phished", and "alice, bob
// phished" for both. parseCommand never calls out: anything it rejects is answered in the ack.
func parseCommand(text string) (command, error) {
	text = strings.TrimSpace(text)
	if text == "" || strings.EqualFold(text, "help") {
		return command{help: true}, nil
	}
	if !utf8.ValidString(text) {
		return command{}, &usageError{"That text is not valid UTF-8; type the person's email and a reason."}
	}
	if n := utf8.RuneCountInString(text); n > maxCommandText {
		return command{}, &usageError{fmt.Sprintf("That is too long (%d characters); name the people and a short reason, or use group:<Okta group>.", n)}
	}
	var c command
	rest := text
	more := true // the next word must name someone: the first one, or after a comma
	seen := map[who]bool{}
	for rest != "" {
		word, after := nextWord(rest)
		comma := strings.HasSuffix(word, ",") || strings.HasPrefix(strings.TrimSpace(after), ",")
		names := splitNames(word)
		if !more && !allUnambiguous(names) {
			break
		}
		if len(names) == 0 && more && len(c.people) > 0 {
			rest = strings.TrimLeft(after, " ,")
			continue
		}
		for _, n := range names {
			w, err := parseWho(n)
			if err != nil {
				return command{}, err
			}
			if key := w.key(); !seen[key] {
				seen[key] = true
				c.people = append(c.people, w)
			}
		}
		if len(c.people) > maxNamed {
			return command{}, &usageError{fmt.Sprintf("That names more than %d people or groups; put them in an Okta group and use group:<name>, or use resetbot reset --file.", maxNamed)}
		}
		rest = strings.TrimLeft(after, " ,")
		more = comma || strings.HasSuffix(word, ",")
	}
	if len(c.people) == 0 {
		return command{}, notAPerson(text)
	}
	c.reason = strings.Join(strings.Fields(rest), " ")
	if utf8.RuneCountInString(c.reason) > maxReason {
		return command{}, &usageError{fmt.Sprintf("The reason is too long: keep it under %d characters.", maxReason)}
	}
	return c, nil
}

// nextWord cuts the first word off s. A group:"Name With Spaces" (straight or curly quotes, as
// Slack may turn them) is one word.
func nextWord(s string) (word, rest string) {
	s = strings.TrimLeft(s, " \t\n")
	lower := strings.ToLower(s)
	for _, q := range []struct{ open, close string }{{`"`, `"`}, {"“", "”"}} {
		if strings.HasPrefix(lower, "group:"+q.open) {
			body := s[len("group:"+q.open):]
			if end := strings.Index(body, q.close); end >= 0 {
				return "group:" + body[:end], body[end+len(q.close):]
			}
		}
	}
	if i := strings.IndexAny(s, " \t\n"); i >= 0 {
		return s[:i], s[i:]
	}
	return s, ""
}

// splitNames splits "a@x,b@x," or "group:Finance,a@x" into its names; an Okta group name
// holds no comma, so a comma always separates names.
func splitNames(word string) []string {
	var names []string
	for _, n := range strings.Split(word, ",") {
		if n = strings.TrimSpace(n); n != "" {
			names = append(names, n)
		}
	}
	return names
}

// allUnambiguous reports whether every name is clearly a person or group, never a word of a
// reason: a mention, an address or group:<name>.
func allUnambiguous(names []string) bool {
	if len(names) == 0 {
		return false
	}
	for _, n := range names {
		if !mentionRE.MatchString(n) && !mailtoRE.MatchString(n) && !emailRE.MatchString(n) &&
			!strings.HasPrefix(strings.ToLower(n), "group:") {
			return false
		}
	}
	return true
}

func parseWho(s string) (who, error) {
	switch {
	case strings.HasPrefix(strings.ToLower(s), "group:"):
		name := strings.TrimSpace(s[len("group:"):])
		if !groupRE.MatchString(name) {
			return who{}, &usageError{fmt.Sprintf("I can't read `%s` as an Okta group. Write group:Name, or group:\"Name with spaces\".", escape(truncate(s, 60)))}
		}
		return who{group: name}, nil
	case mentionRE.MatchString(s):
		return who{slackUser: mentionRE.FindStringSubmatch(s)[1]}, nil
	case mailtoRE.MatchString(s):
		email := mailtoRE.FindStringSubmatch(s)[1]
		if !emailRE.MatchString(email) {
			return who{}, notAPerson(s)
		}
		return who{email: email}, nil
	case plainRE.MatchString(s) && emailRE.MatchString(s):
		return who{email: s}, nil
	case plainRE.MatchString(s):
		return who{login: s}, nil
	default:
		return who{}, notAPerson(s)
	}
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
	return fmt.Sprintf("*%[1]s* signs people out of every system at once, after a second responder approves.\n"+
		"Usage: `%[1]s <who>[, <who>…] [reason]` where who is an email, an Okta login, an Okta user id, an @mention, "+
		"or `group:<Okta group>` for everyone in a group.\n"+
		"Examples: `%[1]s alice@example.com clicked a phishing link` · `%[1]s alice@example.com, bob@example.com group:Finance phishing campaign`", cmd)
}

// escape makes user text safe inside mrkdwn: Slack reads &, < and > as markup, so an
// unescaped <!channel> in a reason would ping everyone.
func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
