package demo

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/resetbot/resetbot/internal/cli"
	slackfake "github.com/resetbot/resetbot/internal/fake/slack"
	"github.com/resetbot/resetbot/internal/fake/world"
)

// sandboxMarker opens every file `demo --serve` writes. A file without it is someone's own,
// and is never overwritten.
const sandboxMarker = "# written by resetbot demo --serve"

// sandboxOptions are the flags of `demo --serve`, and where the people's lines come from.
type sandboxOptions struct {
	envFile  string
	httpAddr string
	in       io.Reader
	// started, when set, is called once the fakes are up and the env file is written: tests
	// look into the fakes through it.
	started func(*world.World)
}

// serveSandbox keeps a world of fakes running for the real commands, so that the README's
// setup steps can be followed on a machine with no Slack, Okta, Google, Zoom or Microsoft
// account: it writes their settings to an env file, plays the people of the fake Slack from
// the lines typed on in, and prints what the channel sees until ctx ends.
func (a *session) serveSandbox(ctx context.Context, opt sandboxOptions) int {
	sb, err := openSandbox(opt.envFile)
	if err != nil {
		fmt.Fprintf(a.stderr, "resetbot demo: %v\n", err)
		if errors.Is(err, errNotOurs) {
			return cli.ExitUsage
		}
		return cli.ExitFailed
	}
	w, err := world.Start(sb.dir)
	if err != nil {
		fmt.Fprintf(a.stderr, "resetbot demo: start the fakes: %v\n", err)
		return cli.ExitFailed
	}
	defer w.Close()
	if err := sb.writeEnv(w, opt.httpAddr); err != nil {
		fmt.Fprintf(a.stderr, "resetbot demo: %v\n", err)
		return cli.ExitFailed
	}
	a.printSandboxHelp(sb, opt.envFile, opt.httpAddr)

	printed := make(chan struct{})
	go func() {
		defer close(printed)
		showChannel(a.stdout, w)
	}()
	if opt.started != nil {
		opt.started(w)
	}
	go playPeople(ctx, w, opt.in, a.stderr)

	<-ctx.Done()
	fmt.Fprintf(a.stderr, "\nresetbot demo: stopping the fakes. %s and %s stay; delete them when done.\n", sb.envFile, sb.dir)
	w.Close()
	<-printed
	return cli.ExitOK
}

// errNotOurs marks a path the sandbox would have to overwrite but did not write.
var errNotOurs = errors.New("not written by resetbot demo --serve")

// sandbox is where `demo --serve` keeps its files: the env file, and beside it a directory for
// the fakes' Google key, their CA certificate and the SQLite database.
type sandbox struct {
	envFile string
	dir     string
}

// openSandbox claims the env file and the directory beside it, refusing either when it holds
// something a previous `demo --serve` did not write. Each run starts with an empty database:
// requests left in an old one would point at a Slack that is gone.
func openSandbox(envFile string) (*sandbox, error) {
	abs, err := filepath.Abs(envFile)
	if err != nil {
		return nil, fmt.Errorf("env file %s: %w", envFile, err)
	}
	base := strings.TrimSuffix(filepath.Base(abs), filepath.Ext(abs))
	if base == "" {
		base = filepath.Base(abs)
	}
	sb := &sandbox{envFile: abs, dir: filepath.Join(filepath.Dir(abs), base+"-sandbox")}
	readme := filepath.Join(sb.dir, "README.txt")
	if err := claimFile(abs); err != nil {
		return nil, err
	}
	if err := claimDir(sb.dir, readme); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(sb.dir, 0o700); err != nil {
		return nil, fmt.Errorf("create the sandbox directory: %w", err)
	}
	text := sandboxMarker + "\n" +
		"This directory holds the fakes' Google service-account key, their CA certificate\n" +
		"(fakes-ca.pem) and the sandbox's SQLite database. Nothing in it is a real credential;\n" +
		"delete it with the env file beside it when you are done.\n"
	if err := os.WriteFile(readme, []byte(text), 0o600); err != nil {
		return nil, fmt.Errorf("write %s: %w", readme, err)
	}
	for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
		if err := os.Remove(sb.db() + suffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("remove the previous sandbox database: %w", err)
		}
	}
	return sb, nil
}

func (sb *sandbox) db() string { return filepath.Join(sb.dir, "resetbot.db") }

// claimFile accepts a path that does not exist or whose first line is the marker.
func claimFile(path string) error {
	ours, err := written(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("%s exists and cannot be read (%w): choose another path with --env-file", path, err)
	case !ours:
		return fmt.Errorf("%s exists and was %w: it is left alone; choose another path with --env-file", path, errNotOurs)
	}
	return nil
}

// claimDir accepts a directory that does not exist, is empty, or holds the README a previous
// sandbox wrote.
func claimDir(dir, readme string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && len(entries) == 0) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("sandbox directory %s: %w", dir, err)
	}
	if ours, err := written(readme); err != nil || !ours {
		return fmt.Errorf("%s holds files and was %w: it is left alone; choose another env file with --env-file (the directory is named after it)", dir, errNotOurs)
	}
	return nil
}

// written reports whether the file at path begins with the marker.
func written(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	line, err := bufio.NewReader(f).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return false, err
	}
	return strings.HasPrefix(line, sandboxMarker), nil
}

// writeEnv writes the settings that point resetbot at w, in a form sh can source. It is
// written aside and renamed into place, so a shell sourcing it never reads half a file.
func (sb *sandbox) writeEnv(w *world.World, httpAddr string) error {
	caFile := filepath.Join(sb.dir, "fakes-ca.pem")
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: w.Okta.Certificate().Raw})
	if err := os.WriteFile(caFile, caPEM, 0o600); err != nil {
		return fmt.Errorf("write the fakes' CA certificate: %w", err)
	}
	env := w.Env()
	env["SSL_CERT_FILE"] = caFile
	env["RESETBOT_DATABASE_URL"] = sb.db()
	if httpAddr != "" {
		secret := make([]byte, 24)
		if _, err := rand.Read(secret); err != nil {
			return fmt.Errorf("make the Okta hook secret: %w", err)
		}
		env["RESETBOT_HTTP_ADDR"] = httpAddr
		env["RESETBOT_OKTA_HOOK_SECRET"] = hex.EncodeToString(secret)
		env["RESETBOT_ALERT_CHANNEL"] = world.Channel
	}

	var b strings.Builder
	fmt.Fprintf(&b, "%s on %s.\n", sandboxMarker, time.Now().UTC().Format(time.RFC3339))
	b.WriteString("# Settings for the local fakes of Slack, Okta, Google, Zoom and Microsoft 365. They\n" +
		"# work only while that command runs, and their ports change each time it starts.\n" +
		"# Load them in the shell that runs resetbot:  set -a; . " + shQuote(sb.envFile) + "; set +a\n" +
		"# SSL_CERT_FILE makes that shell's programs trust the fakes' certificate; use a\n" +
		"# terminal you close afterwards. The secrets below are the fakes' own.\n")
	for _, k := range slices.Sorted(maps.Keys(env)) {
		fmt.Fprintf(&b, "%s=%s\n", k, shQuote(env[k]))
	}
	tmp, err := os.CreateTemp(filepath.Dir(sb.envFile), ".resetbot-env-*")
	if err != nil {
		return fmt.Errorf("write the env file: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename there is nothing left to remove
	_, err = tmp.WriteString(b.String())
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o600)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), sb.envFile)
	}
	if err != nil {
		return fmt.Errorf("write the env file %s: %w", sb.envFile, err)
	}
	return nil
}

// shQuote quotes s for sh: single quotes keep everything literal but a single quote.
func shQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// printSandboxHelp tells the newcomer what to run next, with the env file named as they gave it.
func (a *session) printSandboxHelp(sb *sandbox, given, httpAddr string) {
	source := given
	if !filepath.IsAbs(source) && !strings.HasPrefix(source, "./") && !strings.HasPrefix(source, "../") {
		source = "./" + source // `. name` would search PATH
	}
	if strings.ContainsAny(source, " '\"$`\\") {
		source = shQuote(source)
	}
	out := a.stdout
	fmt.Fprintf(out, "Fakes of Slack, Okta, Google Workspace, Zoom and Microsoft 365 are up; their settings are in %s\n", sb.envFile)
	fmt.Fprintf(out, "(their files, and the audit database, in %s).\n\n", sb.dir)
	if filepath.IsAbs(given) {
		fmt.Fprintln(out, "In another terminal:")
	} else {
		fmt.Fprintln(out, "In another terminal, in this directory:")
	}
	fmt.Fprintf(out, "  set -a; . %s; set +a\n", source)
	fmt.Fprintln(out, "  resetbot check")
	fmt.Fprintln(out, "  resetbot reset alice@example.com --reason 'trying resetbot' --dry-run")
	fmt.Fprintln(out, "  resetbot run")
	if httpAddr != "" {
		fmt.Fprintf(out, "  curl http://%s/readyz        # also /healthz, /metrics, and /hooks/okta (secret: $RESETBOT_OKTA_HOOK_SECRET)\n", httpAddr)
	}
	fmt.Fprintln(out, "  resetbot audit")
	fmt.Fprintln(out, "\nThen type here, as a Slack user, lines like:")
	fmt.Fprintln(out, "  rita: /reset-sessions alice@example.com testing")
	fmt.Fprintln(out, "  sam: approve")
	fmt.Fprintf(out, "Rita and Sam are responders (Okta group %q), Oscar is not; Alice has an account\n", world.ResponderGroup)
	fmt.Fprintln(out, "everywhere, Bob none in Zoom. Ctrl-C stops the fakes; restarting changes their ports,")
	fmt.Fprintln(out, "so load the env file again then.")
}

// showChannel prints what the security channel sees, as the demo does, until the fakes stop.
func showChannel(out io.Writer, w *world.World) {
	tr := newTranscript(out, castNames(w))
	for e := range w.Slack.Events() {
		switch e.Kind {
		case slackfake.EventConnected:
			fmt.Fprintln(out, "\n(resetbot connected to the fake Slack)")
		case slackfake.EventDisconnected:
			fmt.Fprintln(out, "\n(resetbot disconnected from the fake Slack)")
		default:
			tr.print(e)
		}
	}
}

// sandboxHint is what a line that means nothing gets.
const sandboxHint = "type <person>: /reset-sessions <who> [reason], <person>: approve or <person>: cancel; " +
	"people: rita, sam (responders), oscar (not one), alice, bob"

// playPeople reads lines "<person>: <text>" and does in the fake Slack what they say. The end
// of in stops only the reading, so the sandbox can run with its input closed.
func playPeople(ctx context.Context, w *world.World, in io.Reader, hints io.Writer) {
	people := map[string]world.Person{}
	for _, p := range cast(w) {
		people[strings.ToLower(strings.Fields(p.Name)[0])] = p
	}
	sc := bufio.NewScanner(in)
	for sc.Scan() && ctx.Err() == nil {
		if msg := playLine(w, people, sc.Text()); msg != "" {
			fmt.Fprintf(hints, "resetbot demo: %s\n", msg)
		}
	}
}

// playLine acts out one line and returns a hint for the person typing, or "".
func playLine(w *world.World, people map[string]world.Person, line string) string {
	line = strings.TrimSpace(line)
	if line == "" {
		return ""
	}
	who, text, ok := strings.Cut(line, ":")
	p, known := people[strings.ToLower(strings.TrimSpace(who))]
	text = strings.TrimSpace(text)
	if !ok || !known || text == "" {
		return sandboxHint
	}
	hint := ""
	if w.Slack.Snapshot().Live == 0 {
		hint = "no resetbot is connected yet: the fake Slack holds this until `resetbot run` connects"
	}
	switch action := strings.ToLower(text); action {
	case "approve", "cancel":
		card, ok := newestCard(w.Slack.Snapshot())
		if !ok {
			return "there is no card to " + action + " yet: ask first, e.g. rita: /reset-sessions alice@example.com testing"
		}
		ClickCard(w, p, card, action)
		return hint
	}
	if cmd, rest, _ := strings.Cut(text, " "); cmd == "/reset-sessions" {
		text = strings.TrimSpace(rest)
	} else if strings.HasPrefix(text, "/") {
		return "only /reset-sessions is served here; " + sandboxHint
	}
	SendCommand(w, p, text)
	return hint
}

// newestCard is the request card posted last in the security channel.
func newestCard(sn slackfake.Snapshot) (slackfake.Message, bool) {
	for _, m := range slices.Backward(sn.Messages) {
		if IsCard(m) {
			return m, true
		}
	}
	return slackfake.Message{}, false
}
