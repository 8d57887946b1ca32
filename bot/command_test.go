package bot

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestParseCommand(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		text    string
		want    command
		wantErr string
	}{
		{name: "empty is help", text: "  ", want: command{help: true}},
		{name: "help", text: "HELP", want: command{help: true}},
		{name: "email and reason", text: "alice@example.com  clicked   a link", want: command{people: []who{{email: "alice@example.com"}}, reason: "clicked a link"}},
		{name: "okta id", text: "00u1a2b3c4d5e6f7g8h9", want: command{people: []who{{login: "00u1a2b3c4d5e6f7g8h9"}}}},
		{name: "login without domain", text: "alice.example phished", want: command{people: []who{{login: "alice.example"}}, reason: "phished"}},
		{name: "escaped mention", text: "<@U0ALICE|alice> phished", want: command{people: []who{{slackUser: "U0ALICE"}}, reason: "phished"}},
		{name: "bare mention", text: "<@W0ALICE>", want: command{people: []who{{slackUser: "W0ALICE"}}}},
		{name: "mailto link", text: "<mailto:alice@example.com|alice@example.com> x", want: command{people: []who{{email: "alice@example.com"}}, reason: "x"}},
		{name: "channel ping is not a person", text: "<!channel> now", wantErr: "can't read"},
		{name: "markup is refused and escaped", text: "<script>x</script>", wantErr: "&lt;script&gt;"},
		{name: "sql is not a person", text: "'; DROP TABLE requests; --", wantErr: "can't read"},
		{name: "unicode is not a person", text: "👩‍💻 x", wantErr: "can't read"},
		{name: "mailto of a non-address", text: "<mailto:nope|nope>", wantErr: "can't read"},
		{name: "invalid utf-8", text: "\xff\xfe", wantErr: "not valid UTF-8"},
		{name: "10 KB", text: strings.Repeat("a", 10240), wantErr: "too long"},
		{name: "several people, comma separated", text: "a@example.com,b@example.com, c@example.com ,d@example.com phishing wave",
			want: command{people: []who{{email: "a@example.com"}, {email: "b@example.com"}, {email: "c@example.com"}, {email: "d@example.com"}}, reason: "phishing wave"}},
		{name: "several people, space separated", text: "a@example.com <@U0BOB|bob> <mailto:c@example.com|c@example.com> phished",
			want: command{people: []who{{email: "a@example.com"}, {slackUser: "U0BOB"}, {email: "c@example.com"}}, reason: "phished"}},
		{name: "a login after the first is a reason word", text: "alice bob phished", want: command{people: []who{{login: "alice"}}, reason: "bob phished"}},
		{name: "a login after a comma is a person", text: "alice, bob phished", want: command{people: []who{{login: "alice"}, {login: "bob"}}, reason: "phished"}},
		{name: "a group", text: "group:Finance compromised", want: command{people: []who{{group: "Finance"}}, reason: "compromised"}},
		{name: "a quoted group and a person", text: `group:“Finance Team” alice@example.com stolen laptop`,
			want: command{people: []who{{group: "Finance Team"}, {email: "alice@example.com"}}, reason: "stolen laptop"}},
		{name: "a person named twice counts once", text: "a@example.com, a@example.com", want: command{people: []who{{email: "a@example.com"}}}},
		{name: "a group name with markup", text: "group:<!channel>", wantErr: "as an Okta group"},
		{name: "an empty group", text: "group: x", wantErr: "as an Okta group"},
		{name: "too many named", text: manyPeople(101), wantErr: "more than 100"},
		{name: "100 named is the limit", text: manyPeople(100), want: command{people: manyWho(100)}},
		{name: "repeats do not count toward the limit", text: manyPeople(100) + "p0@example.com", want: command{people: manyWho(100)}},
		{name: "long reason", text: "alice@example.com " + strings.Repeat("é", 501), wantErr: "reason is too long"},
		{name: "a reason of 500 characters", text: "alice@example.com " + strings.Repeat("é", 500), want: command{people: []who{{email: "alice@example.com"}}, reason: strings.Repeat("é", 500)}},
		{name: "a group named in any case is one group", text: "group:Big, group:big, group:BIG now",
			want: command{people: []who{{group: "Big"}}, reason: "now"}},
		{name: "an address in any case is one person", text: "alice@example.com, ALICE@Example.COM", want: command{people: []who{{email: "alice@example.com"}}}},
		{name: "a mention escaped and bare is one person", text: "<@U0ALICE|alice>, <@U0ALICE>", want: command{people: []who{{slackUser: "U0ALICE"}}}},
		{name: "a mailto and its address are one person", text: "<mailto:alice@example.com|alice@example.com> alice@example.com",
			want: command{people: []who{{email: "alice@example.com"}}}},
		{name: "a group after a person without a comma", text: "alice@example.com group:Finance stolen laptop",
			want: command{people: []who{{email: "alice@example.com"}, {group: "Finance"}}, reason: "stolen laptop"}},
		{name: "a group with spaces in straight quotes", text: `group:"Finance Team" x`, want: command{people: []who{{group: "Finance Team"}}, reason: "x"}},
		{name: "an address after a reason word is part of the reason", text: "alice@example.com reported by bob@example.com",
			want: command{people: []who{{email: "alice@example.com"}}, reason: "reported by bob@example.com"}},
		{name: "a reason is kept as typed; the card escapes it", text: "alice@example.com <!channel> & <script>",
			want: command{people: []who{{email: "alice@example.com"}}, reason: "<!channel> & <script>"}},
		{name: "a mention of a channel is not a person", text: "<#C0SEC|security>", wantErr: "can't read"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseCommand(tt.text)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseCommand(%.30q) error = %v, want one saying %q", tt.text, err, tt.wantErr)
				}
				if len(err.Error()) > 300 {
					t.Errorf("error is %d characters; a private answer should be short", len(err.Error()))
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("parseCommand(%q) = %+v, %v; want %+v", tt.text, got, err, tt.want)
			}
		})
	}
}

func TestEscapeStopsMentionsAndLinks(t *testing.T) {
	t.Parallel()
	if got := escape("<!channel> & <http://x|y>"); got != "&lt;!channel&gt; &amp; &lt;http://x|y&gt;" {
		t.Errorf("escape = %q", got)
	}
}

func manyPeople(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "p%d@example.com,", i)
	}
	return b.String()
}

func manyWho(n int) []who {
	ws := make([]who, n)
	for i := range n {
		ws[i] = who{email: fmt.Sprintf("p%d@example.com", i)}
	}
	return ws
}

// TestParseCommandReadsAGroupBeforeAComma pins that a list reads the same whichever way round
// it is written: "alice@example.com,group:Finance" is read as two names, so
// "group:Finance,alice@example.com" must be too.
func TestParseCommandReadsAGroupBeforeAComma(t *testing.T) {
	t.Parallel()
	tests := []struct {
		text string
		want command
	}{
		{text: "group:Finance,alice@example.com stolen", want: command{people: []who{{group: "Finance"}, {email: "alice@example.com"}}, reason: "stolen"}},
		{text: "group:Finance,group:Sales stolen", want: command{people: []who{{group: "Finance"}, {group: "Sales"}}, reason: "stolen"}},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			t.Parallel()
			if got, err := parseCommand(tt.text); err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parseCommand(%q) = %+v, %v; want %+v", tt.text, got, err, tt.want)
			}
		})
	}
}

// TestParseCommandCountsCharactersAsTyped pins that "too long" names the number of characters
// the person typed, not of bytes.
func TestParseCommandCountsCharactersAsTyped(t *testing.T) {
	t.Parallel()
	_, err := parseCommand(strings.Repeat("é", 3001))
	if err == nil || !strings.Contains(err.Error(), "too long (3001 characters)") {
		t.Errorf("parseCommand of 3001 characters: %v; want it to say they are 3001", err)
	}
}
