package e2e

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/resetbot/resetbot/internal/cli"
	oktafake "github.com/resetbot/resetbot/internal/fake/okta"
	"github.com/resetbot/resetbot/internal/fake/world"
)

// oktaOps are the Okta fake's operations resetbot spends Okta's rate limits on.
var oktaOps = []string{"lookup", "search", "groups", "members", "revoke"}

// oktaCounts is how many requests of each operation reached the Okta fake.
func oktaCounts(o *oktafake.Server) map[string]int {
	got := map[string]int{}
	for _, op := range oktaOps {
		got[op] = o.Count(op)
	}
	return got
}

// since is what was counted after, less what was counted before.
func since(before, after map[string]int) map[string]int {
	d := map[string]int{}
	for op, n := range after {
		d[op] = n - before[op]
	}
	return d
}

// everywhere seeds n people with accounts in every system, addressed as format says.
func everywhere(w *world.World, n int, format string) []string {
	var emails []string
	for i := range n {
		email := fmt.Sprintf(format, i)
		w.Okta.AddUser(oktafake.User{Login: email, Email: email, FirstName: "Crowd", LastName: fmt.Sprint(i)})
		w.Google.AddUser(email)
		w.Zoom.AddUser(email)
		w.Microsoft.AddUser(email)
		emails = append(emails, email)
	}
	return emails
}

// TestE2EABatchWhoseOktaRequestsAreCounted: a Slack batch of 90 addresses and a group of 4,
// and a `reset --file` of 200 people, spend Okta once per person (the sign-out) and one
// search per page of names (44 of the Slack batch's p000@example.com a page, 40 of the file's
// user0000@example.com), never a lookup per person, neither to find them nor to plan.
func TestE2EABatchWhoseOktaRequestsAreCounted(t *testing.T) {
	t.Parallel()
	fast := map[string]string{"RESETBOT_RATE_OKTA": "500", "RESETBOT_RATE_GOOGLE": "500", "RESETBOT_RATE_ZOOM": "500",
		"RESETBOT_RATE_MICROSOFT": "500", "RESETBOT_CONCURRENCY": "16"}

	t.Run("slack", func(t *testing.T) {
		t.Parallel()
		e := startE2E(t, fast)
		financeGroup(e, 2) // Alice, Bob and 2 more
		named := everywhere(e.w, 90, "p%03d@example.com")
		// The bot proves its Okta credentials once as it starts, by listing one user.
		e.until("the bot's Okta check", func() bool { return e.w.Okta.Count("search") >= 1 })
		before := oktaCounts(e.w.Okta)
		e.mustAck(e.st.Command(e.w.Rita, strings.Join(named, ", ")+", group:Finance phishing wave 9"))
		card := e.card(1)
		if blocks := string(card.Blocks); !strings.Contains(blocks, "94 people") || !strings.Contains(blocks, "*okta*: 94 accounts found") {
			t.Fatalf("card: %s", blocks)
		}
		asked := since(before, oktaCounts(e.w.Okta))
		e.mustAck(e.st.Click(e.w.Sam, card, "approve"))
		if s := e.summary(card); !strings.Contains(s, "Result: done* for 94 people") {
			t.Fatalf("summary: %s", s)
		}
		all := since(before, oktaCounts(e.w.Okta))
		// Asking: Rita found by her email (1 search) and her groups (1 page); the 90 addresses
		// in ceil(90/44) = 3 searches; the group by name (1 groups) and its members (1 page);
		// the people's roles (1 page of members of the one role group, Security Responders).
		// The plan reads nobody again.
		if want := map[string]int{"lookup": 0, "search": 4, "groups": 2, "members": 2, "revoke": 0}; !maps.Equal(asked, want) {
			t.Errorf("okta requests to post the card: %v, want %v", asked, want)
		}
		// Approving: Sam found (1 search, 1 groups), the roles read again (1 members), and
		// one sign-out per person: 94 + 15 requests for 94 people.
		if want := map[string]int{"lookup": 0, "search": 5, "groups": 3, "members": 3, "revoke": 94}; !maps.Equal(all, want) {
			t.Errorf("okta requests in all: %v, want %v", all, want)
		}
	})

	t.Run("reset --file", func(t *testing.T) {
		t.Parallel()
		w, err := world.Start(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(w.Close)
		for k, v := range fast {
			w.Set(k, v)
		}
		people := everywhere(w, 200, "user%04d@example.com")
		path := filepath.Join(t.TempDir(), "users.txt")
		if err := os.WriteFile(path, []byte(strings.Join(append(people, "nobody@example.com"), "\n")), 0o600); err != nil {
			t.Fatal(err)
		}
		before := oktaCounts(w.Okta)
		var out, errb bytes.Buffer
		code := cli.Main(t.Context(), []string{"reset", "--file", path, "--reason", "counted"},
			cli.Env{Getenv: w.Getenv, Stdout: &out, Stderr: &errb, Roots: w.Roots})
		if code != cli.ExitFailed || !strings.Contains(out.String(), "nobody@example.com: nobody in Okta matches") ||
			!strings.Contains(out.String(), "Result: 1 of 201 people need attention") {
			t.Fatalf("exit %d, want 1 (nobody@example.com is not in Okta):\n%s\n%s", code, out.String(), errb.String())
		}
		// 201 names: ceil(201/40) = 6 searches by login; the one left, nobody@example.com, is
		// looked for as an email (1) and ignoring case (1). 200 sign-outs.
		got := since(before, oktaCounts(w.Okta))
		if want := map[string]int{"lookup": 0, "search": 8, "groups": 0, "members": 0, "revoke": 200}; !maps.Equal(got, want) {
			t.Errorf("okta requests %v, want %v", got, want)
		}
		total := 0
		for _, n := range got {
			total += n
		}
		if perPerson := float64(total) / 200; perPerson > 1.05 {
			t.Errorf("%.3f okta requests per person, want at most 1.05", perPerson)
		}
	})
}
