package bot

import (
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
		{name: "email and reason", text: "alice@example.com  clicked   a link", want: command{email: "alice@example.com", reason: "clicked a link"}},
		{name: "okta id", text: "00u1a2b3c4d5e6f7g8h9", want: command{login: "00u1a2b3c4d5e6f7g8h9"}},
		{name: "login without domain", text: "alice.example phished", want: command{login: "alice.example", reason: "phished"}},
		{name: "escaped mention", text: "<@U0ALICE|alice> phished", want: command{slackUser: "U0ALICE", reason: "phished"}},
		{name: "bare mention", text: "<@W0ALICE>", want: command{slackUser: "W0ALICE"}},
		{name: "mailto link", text: "<mailto:alice@example.com|alice@example.com> x", want: command{email: "alice@example.com", reason: "x"}},
		{name: "channel ping is not a person", text: "<!channel> now", wantErr: "can't read"},
		{name: "markup is refused and escaped", text: "<script>x</script>", wantErr: "&lt;script&gt;"},
		{name: "sql is not a person", text: "'; DROP TABLE requests; --", wantErr: "can't read"},
		{name: "unicode is not a person", text: "👩‍💻 x", wantErr: "can't read"},
		{name: "mailto of a non-address", text: "<mailto:nope|nope>", wantErr: "can't read"},
		{name: "invalid utf-8", text: "\xff\xfe", wantErr: "not valid UTF-8"},
		{name: "10 KB", text: strings.Repeat("a", 10240), wantErr: "too long"},
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
			if err != nil || got != tt.want {
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
