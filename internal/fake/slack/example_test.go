package slackfake_test

import (
	"fmt"

	"github.com/slack-go/slack"

	slackfake "github.com/resetbot/resetbot/internal/fake/slack"
)

// The real slack-go client talks to the fake; what it made Slack show comes back as the
// conversation, the way `resetbot demo` prints it.
func Example() {
	s := slackfake.Start(slackfake.WithChannel("C0RESETS", "security-resets"))
	api := slack.New(s.BotToken(), slack.OptionAPIURL(s.APIURL()), slack.OptionAppLevelToken(s.AppToken()))

	_, ts, _ := api.PostMessage("C0RESETS", slack.MsgOptionText("Reset bob? (pending)", false))
	_, _, _, _ = api.UpdateMessage("C0RESETS", ts, slack.MsgOptionText("Reset bob? (approved)", false))
	_, _, err := api.PostMessage("C0ELSEWHERE", slack.MsgOptionText("hello", false))
	fmt.Println("elsewhere:", err)

	events := s.Events()
	s.Close()
	for e := range events {
		fmt.Println(e.Kind, e.Text)
	}
	// Output:
	// elsewhere: channel_not_found
	// post Reset bob? (pending)
	// update Reset bob? (approved)
	// refused chat.postMessage
}
