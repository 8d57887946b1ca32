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
		{name: "long reason", text: "alice@example.com " + strings.Repeat("é", 501), wantErr: "reason is too long"},
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
