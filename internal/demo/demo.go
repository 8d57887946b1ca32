// Package demo plays resetbot for people who have no Slack, Okta, Google, Zoom or Microsoft at
// hand: `resetbot demo` runs the real bot against local fakes and prints a short incident as
// the channel saw it, and `demo --serve` keeps the fakes up for the real commands. The Stage it
// plays on is the end-to-end tests' too.
package demo

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/resetbot/resetbot/internal/app"
	"github.com/resetbot/resetbot/internal/cli"
	"github.com/resetbot/resetbot/internal/fake"
	slackfake "github.com/resetbot/resetbot/internal/fake/slack"
	"github.com/resetbot/resetbot/internal/fake/world"
	"github.com/resetbot/resetbot/internal/reset"
	"github.com/resetbot/resetbot/internal/store"
)

// Command is `resetbot demo`: it runs the real bot — Socket Mode client, providers, store — against in-process fakes of
// Slack, Okta, Google, Zoom and Microsoft, plays a short incident and prints it as the people
// in the channel would have seen it, ending with the audit trail.
//
// With --serve it plays nothing: it keeps the fakes running and writes an env file for them, so
// the real commands (check, reset, run, audit) can be tried as the README's setup runs them.
func Command() cli.Command {
	return cli.Command{
		Name:    "demo",
		Summary: "play a reset against built-in fakes; --serve keeps them up for the other commands",
		Run: func(ctx context.Context, env cli.Env, args []string) int {
			return (&session{env: env, stdout: env.Stdout, stderr: env.Stderr}).demo(ctx, args)
		},
	}
}

// session is one run of the demo command.
type session struct {
	env    cli.Env
	stdout io.Writer
	stderr io.Writer
}

func (a *session) demo(ctx context.Context, args []string) int {
	fs := cli.Flags(a.env, "demo", "demo [--verbose]\n       resetbot demo --serve [--env-file PATH] [--http-addr ADDR]")
	verbose := fs.Bool("verbose", false, "also print the bot's own logs")
	serve := fs.Bool("serve", false, "keep the fakes running until Ctrl-C and write their settings to --env-file, so that\n"+
		"check, reset, run and audit can be tried against them; type lines such as\n"+
		"'rita: /reset-sessions alice@example.com testing' and 'sam: approve' to act in the fake Slack")
	envFile := fs.String("env-file", "resetbot.env", "with --serve: the env file to write at `PATH` (refused if it exists and was not written\n"+
		"by --serve); the fakes' files go in a directory beside it named after it (resetbot-sandbox/)")
	httpAddr := fs.String("http-addr", "127.0.0.1:8080", "with --serve: `ADDR` written as RESETBOT_HTTP_ADDR, where resetbot run serves /healthz,\n"+
		"/readyz, /metrics and /hooks/okta (empty: none)")
	if code, ok := cli.Parse(a.env, fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(a.stderr, "resetbot demo: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return cli.ExitUsage
	}
	if *serve {
		return a.serveSandbox(ctx, sandboxOptions{envFile: *envFile, httpAddr: *httpAddr, in: os.Stdin})
	}
	dir, err := os.MkdirTemp("", "resetbot-demo-")
	if err != nil {
		fmt.Fprintf(a.stderr, "resetbot demo: %v\n", err)
		return cli.ExitFailed
	}
	defer os.RemoveAll(dir)
	w, err := world.Start(dir)
	if err != nil {
		fmt.Fprintf(a.stderr, "resetbot demo: %v\n", err)
		return cli.ExitFailed
	}
	defer w.Close()

	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := a.playDemo(ctx, w, *verbose); err != nil {
		fmt.Fprintf(a.stderr, "\nresetbot demo: %v\n", err)
		return cli.ExitFailed
	}
	return cli.ExitOK
}

func (a *session) playDemo(ctx context.Context, w *world.World, verbose bool) error {
	fmt.Fprintln(a.stdout, "resetbot demo: the real bot against local fakes of Slack, Okta, Google Workspace, Zoom and Microsoft 365.")
	fmt.Fprintf(a.stdout, "Rita and Sam are in the Okta group %q; Oscar is not. Bob has no Zoom account,\n", world.ResponderGroup)
	fmt.Fprintln(a.stdout, "and Google will rate-limit the first sign-out (HTTP 429, Retry-After: 1).")

	// The story's one hiccup: Google asks us to slow down once.
	w.Google.Fail("revoke", fake.Fault{Status: http.StatusTooManyRequests, Header: http.Header{"Retry-After": {"1"}}})

	level := slog.LevelError + 4 // quiet
	if verbose {
		level = slog.LevelInfo
	}
	logger := slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: level}))
	st, err := StartStage(ctx, w, logger, app.BotOptions{Sweep: 250 * time.Millisecond})
	if err != nil {
		return err
	}
	defer st.Stop()
	if err := w.Slack.WaitConnected(ctx, 1); err != nil {
		return fmt.Errorf("the bot did not connect to Slack: %w", err)
	}

	// 1. Someone outside the responder group tries.
	st.Command(w.Oscar, "bob@example.com he looks hacked")
	if _, err := st.WaitPrivate(ctx, w.Oscar, func(t string) bool { return strings.Contains(t, "not allowed") }); err != nil {
		return storyf("Oscar was not refused: %v", err)
	}
	// 2. A responder asks.
	st.Command(w.Rita, "bob@example.com clicked a phishing link")
	card, err := st.WaitCard(ctx, 1)
	if err != nil {
		return storyf("no request card was posted: %v", err)
	}
	// 3. A second responder approves: nobody approves their own request.
	st.Click(w.Sam, card, "approve")
	replies, err := st.WaitThread(ctx, card, 1)
	if err != nil {
		return storyf("no summary in the thread: %v", err)
	}
	if err := w.Slack.WaitFor(ctx, func(sn slackfake.Snapshot) bool {
		m, _ := sn.Message(card.Channel, card.TS)
		return strings.Contains(m.Text, string(reset.Done)) || strings.Contains(m.Text, string(reset.Partial))
	}); err != nil {
		return storyf("the card never showed the end: %v", err)
	}
	if err := st.Stop(); err != nil {
		return err
	}

	fmt.Fprintln(a.stdout, "\n──────────────── what the channel saw ────────────────")
	tr := newTranscript(a.stdout, castNames(w))
	w.Slack.Close()
	for e := range w.Slack.Events() {
		tr.print(e)
	}
	tr.final(card.TS)

	fmt.Fprintln(a.stdout, "\n──────────────── audit trail (resetbot audit) ────────────────")
	db, err := store.Open(ctx, w.Env()["RESETBOT_DATABASE_URL"])
	if err != nil {
		return err
	}
	defer db.Close()
	events, err := db.Audit(ctx, store.Filter{})
	if err != nil {
		return err
	}
	cli.PrintAudit(a.stdout, events)
	summary := replies[0].Text
	for _, want := range []string{"okta", "google", "zoom", "microsoft", "slack"} {
		if !strings.Contains(summary, want) {
			return storyf("the summary does not mention %s", want)
		}
	}
	fmt.Fprintln(a.stdout, "\nThat was the real bot end to end. To run it for real: see the README's setup steps.")
	return nil
}

// castNames maps the cast's Slack ids to their first names, as a transcript shows them.
func castNames(w *world.World) map[string]string {
	names := map[string]string{}
	for _, p := range cast(w) {
		names[p.SlackID] = strings.Fields(p.Name)[0]
	}
	return names
}

// cast is everyone in the world, in the order the demo introduces them.
func cast(w *world.World) []world.Person {
	return []world.Person{w.Rita, w.Sam, w.Oscar, w.Alice, w.Bob}
}
