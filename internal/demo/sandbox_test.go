package demo

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/resetbot/resetbot/internal/cli"
	"github.com/resetbot/resetbot/internal/fake"
	"github.com/resetbot/resetbot/internal/fake/world"
)

// The sandbox tests start `resetbot demo --serve` in-process, load the env file it writes the
// way the README says (sh: set -a; . ./resetbot.env; set +a) and run the real commands with
// that environment, as a newcomer would in a second terminal.

// fake.Buffer is output that one goroutine writes while the test reads it.

// sandboxRun is `demo --serve` running in-process, its input fed through a pipe.
type sandboxRun struct {
	t              *testing.T
	ctx            context.Context
	stop           context.CancelFunc
	in             *io.PipeWriter
	stdout, stderr *fake.Buffer
	world          *world.World
	envFile        string
	// exited is closed when serveSandbox returns, with code set.
	exited chan struct{}
	code   int
}

// finish stops the sandbox as Ctrl-C does and returns its exit code.
func (s *sandboxRun) finish() int {
	s.stop()
	_ = s.in.Close()
	<-s.exited
	return s.code
}

// startSandbox serves the fakes with the env file at envFile until the test ends. Its HTTP
// address is a free port, so tests run in parallel.
func startSandbox(t *testing.T, envFile string) *sandboxRun {
	t.Helper()
	ctx, stop := context.WithTimeout(context.Background(), 45*time.Second)
	pr, pw := io.Pipe()
	s := &sandboxRun{t: t, ctx: ctx, stop: stop, in: pw, stdout: &fake.Buffer{}, stderr: &fake.Buffer{}, envFile: envFile, exited: make(chan struct{})}
	started := make(chan *world.World, 1)
	a := &session{env: cli.Env{Getenv: func(string) (string, bool) { return "", false }}, stdout: s.stdout, stderr: s.stderr}
	go func() {
		defer close(s.exited)
		s.code = a.serveSandbox(ctx, sandboxOptions{
			envFile: envFile, httpAddr: "127.0.0.1:0", in: pr,
			started: func(w *world.World) { started <- w },
		})
	}()
	t.Cleanup(func() { s.finish() })
	select {
	case s.world = <-started:
	case <-s.exited:
		t.Fatalf("demo --serve ended with %d before the fakes were up\n--- stdout:\n%s--- stderr:\n%s", s.code, s.stdout, s.stderr)
	}
	return s
}

// say types a line into the sandbox, as a person in the fake Slack.
func (s *sandboxRun) say(line string) {
	s.t.Helper()
	if _, err := io.WriteString(s.in, line+"\n"); err != nil {
		s.t.Fatalf("type %q: %v", line, err)
	}
}

// waitFor polls until ok, failing the test with what it waited for when the sandbox's
// deadline passes first.
func (s *sandboxRun) waitFor(what string, ok func() bool) {
	s.t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !ok() {
		select {
		case <-s.ctx.Done():
			s.t.Fatalf("gave up waiting for %s\n--- sandbox stdout:\n%s--- sandbox stderr:\n%s", what, s.stdout, s.stderr)
		case <-tick.C:
		}
	}
}

// waitOutput waits for the sandbox to print want.
func (s *sandboxRun) waitOutput(want string) {
	s.t.Helper()
	s.waitFor("the sandbox to print "+want, func() bool { return strings.Contains(s.stdout.String(), want) })
}

// sourceEnvFile loads path the way the README says, with sh, from an empty environment, and
// returns what a command started from that shell would see.
func sourceEnvFile(t *testing.T, path string) map[string]string {
	t.Helper()
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh to load the env file with")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, sh, "-c", `set -a; . "$1"; set +a; env -0`, "sh", path)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	var errb bytes.Buffer
	cmd.Stderr = &errb
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("sh could not load %s: %v\n%s", path, err, errb.String())
	}
	env := map[string]string{}
	for _, kv := range strings.Split(string(out), "\x00") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	return env
}

// trustedBy reads the certificates SSL_CERT_FILE names: in-process commands are given them as
// extra roots, since Go reads SSL_CERT_FILE from the process environment only.
func trustedBy(t *testing.T, env map[string]string) *x509.CertPool {
	t.Helper()
	b, err := os.ReadFile(env["SSL_CERT_FILE"])
	if err != nil {
		t.Fatalf("SSL_CERT_FILE: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		t.Fatalf("SSL_CERT_FILE %s holds no PEM certificate", env["SSL_CERT_FILE"])
	}
	return pool
}

var nothing = map[string]int{"okta": 0, "google": 0, "zoom": 0, "microsoft": 0, "slack": 0}

// cliRun is one resetbot command's exit code and output.
type cliRun struct {
	code           int
	stdout, stderr string
}

func (r cliRun) String() string {
	return fmt.Sprintf("exit %d\n--- stdout:\n%s--- stderr:\n%s", r.code, r.stdout, r.stderr)
}

// runWithEnv runs resetbot with args and env, as a shell that loaded env would.
func runWithEnv(t *testing.T, env map[string]string, roots *x509.CertPool, args ...string) cliRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out, errb bytes.Buffer
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	code := cli.Main(ctx, args, cli.Env{Getenv: lookup, Stdout: &out, Stderr: &errb, Roots: roots}, Command())
	return cliRun{code: code, stdout: out.String(), stderr: errb.String()}
}

// columns maps the first word of each line after header to its second, e.g. "zoom" → "ok".
func columns(stdout, header string) map[string]string {
	got := map[string]string{}
	_, after, _ := strings.Cut(stdout, "\n"+header+"\n")
	after, _, _ = strings.Cut(after, "\n\n") // a section ends at a blank line
	for _, l := range strings.Split(after, "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		got[f[0]] = strings.Join(f[1:], " ")
	}
	return got
}

func TestSandboxServesTheRealCommands(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := startSandbox(t, filepath.Join(dir, "resetbot.env"))
	w := s.world
	s.waitOutput("Fakes of Slack, Okta, Google Workspace, Zoom and Microsoft 365 are up")
	for _, want := range []string{"set -a; . ", "resetbot check", "resetbot run", "rita: /reset-sessions alice@example.com testing", "sam: approve"} {
		if !strings.Contains(s.stdout.String(), want) {
			t.Errorf("the sandbox does not say what to do next: %q missing\n%s", want, s.stdout)
		}
	}

	fi, err := os.Stat(s.envFile)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("env file mode %v, want 0600: it holds (fake) secrets", fi.Mode().Perm())
	}
	env := sourceEnvFile(t, s.envFile)
	for k, v := range w.Env() {
		if env[k] != v {
			t.Errorf("after loading the env file %s = %q, want %q", k, env[k], v)
		}
	}
	if db := env["RESETBOT_DATABASE_URL"]; filepath.Dir(db) != filepath.Join(dir, "resetbot-sandbox") {
		t.Errorf("RESETBOT_DATABASE_URL = %q, want a file in the sandbox directory beside the env file", db)
	}
	if env["RESETBOT_HTTP_ADDR"] != "127.0.0.1:0" || env["RESETBOT_OKTA_HOOK_SECRET"] == "" {
		t.Errorf("env file lacks the HTTP side: RESETBOT_HTTP_ADDR=%q, hook secret set: %t", env["RESETBOT_HTTP_ADDR"], env["RESETBOT_OKTA_HOOK_SECRET"] != "")
	}
	roots := trustedBy(t, env)

	// 1. check: every system answers.
	r := runWithEnv(t, env, roots, "check")
	if r.code != cli.ExitOK {
		t.Errorf("check: exit %d\n%s", r.code, r)
	}
	if got, want := firstWords(columns(r.stdout, "Systems:")), map[string]string{"okta": "ok", "google": "ok", "zoom": "ok", "microsoft": "ok", "slack": "ok"}; !maps.Equal(got, want) {
		t.Errorf("check systems = %v, want %v\n%s", got, want, r)
	}

	// 2. a dry run shows the plan: Bob has no Zoom account.
	r = runWithEnv(t, env, roots, "reset", w.Bob.Email, "--dry-run")
	if r.code != cli.ExitOK {
		t.Errorf("reset --dry-run: exit %d\n%s", r.code, r)
	}
	plan := columns(r.stdout, "Plan:")
	for name, want := range map[string]string{"okta": "account found", "google": "account found", "zoom": "no account", "microsoft": "account found", "slack": "account found"} {
		if plan[name] != want {
			t.Errorf("plan for %s = %q, want %q\n%s", name, plan[name], want, r)
		}
	}
	if c := w.RevokeCalls(); !maps.Equal(c, nothing) {
		t.Fatalf("check and a dry run reached revoke endpoints: %v", c)
	}

	// 3. the bot, started as `resetbot run` from that shell.
	runCtx, stopRun := context.WithCancel(s.ctx)
	defer stopRun()
	runErr := &fake.Buffer{}
	runDone := make(chan int, 1)
	go func() {
		runDone <- cli.Main(runCtx, []string{"run"}, cli.Env{Getenv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }, Stdout: io.Discard, Stderr: runErr, Roots: roots})
	}()
	var listening struct {
		Addr     string `json:"addr"`
		OktaHook bool   `json:"okta_hook"`
	}
	s.waitFor("resetbot run to listen", func() bool {
		for _, l := range strings.Split(runErr.String(), "\n") {
			if strings.Contains(l, `"msg":"http listening"`) {
				return json.Unmarshal([]byte(l), &listening) == nil
			}
		}
		return false
	})
	if !listening.OktaHook {
		t.Errorf("resetbot run serves no Okta hook with the sandbox's settings\n%s", runErr)
	}
	base := "http://" + listening.Addr
	s.waitFor("/readyz to answer 200", func() bool { code, _ := httpGet(t, base+"/readyz", nil); return code == http.StatusOK })
	if code, body := httpGet(t, base+"/hooks/okta", http.Header{"X-Okta-Verification-Challenge": {"sandbox-challenge"},
		"Authorization": {env["RESETBOT_OKTA_HOOK_SECRET"]}}); code != http.StatusOK || !strings.Contains(body, "sandbox-challenge") {
		t.Errorf("Okta's verification of /hooks/okta: %d %q", code, body)
	}

	// 4. people in the fake Slack, typed into the sandbox.
	s.say("zed: hello")
	s.waitFor("a hint for a line that names nobody", func() bool { return strings.Contains(s.stderr.String(), "type <person>:") })
	s.say("rita: /reset-sessions alice@example.com testing")
	s.waitOutput("resetbot posted in #security-incidents:")
	s.waitOutput("Target: Alice Example alice@example.com")
	s.say("SAM: approve")
	if err := s.in.Close(); err != nil { // the end of input stops only the reading
		t.Fatal(err)
	}
	s.waitOutput("↳ resetbot replied in the thread:")
	_, thread, _ := strings.Cut(s.stdout.String(), "↳ resetbot replied in the thread:")
	thread, _, _ = strings.Cut(thread, "\n\n")
	for _, want := range []string{"Result: done for Alice Example <alice@example.com>", "okta: revoked", "google: revoked", "zoom: revoked", "microsoft: revoked", "slack: revoked"} {
		if !strings.Contains(thread, want) {
			t.Errorf("thread summary lacks %q:\n%s", want, thread)
		}
	}
	if !strings.Contains(s.stdout.String(), "Sam clicked [Approve]") {
		t.Errorf("the transcript does not show Sam's click\n%s", s.stdout)
	}
	if n := w.Okta.SessionsCleared(w.Alice.OktaID); n != 1 {
		t.Errorf("Okta cleared Alice's sessions %d times, want once", n)
	}
	if g := w.SignOuts(w.Alice); !maps.Equal(g, map[string]int{"okta": 1, "google": 1, "zoom": 1, "microsoft": 1, "slack": 1}) {
		t.Errorf("sign-outs of Alice that reached the systems = %v, want one each", g)
	}

	// 5. with its input closed the sandbox still serves, and the audit log has the story.
	select {
	case <-s.exited:
		t.Fatalf("demo --serve ended (%d) when its input closed", s.code)
	default:
	}
	if r := runWithEnv(t, env, roots, "check"); r.code != cli.ExitOK {
		t.Errorf("check after the input closed: exit %d\n%s", r.code, r)
	}
	r = runWithEnv(t, env, roots, "audit", "--target", w.Alice.Email)
	for _, want := range []string{"requested", "approved", "okta: revoked", "finished", "done", "reason: testing"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("audit lacks %q\n%s", want, r)
		}
	}

	stopRun()
	if code := <-runDone; code != cli.ExitOK {
		t.Errorf("resetbot run ended with %d\n%s", code, runErr)
	}
	if code := s.finish(); code != cli.ExitOK {
		t.Errorf("demo --serve ended with %d\n%s", code, s.stderr)
	}
	for _, secret := range append(w.Secrets(), env["RESETBOT_OKTA_HOOK_SECRET"]) {
		if strings.Contains(s.stdout.String()+s.stderr.String(), secret) {
			t.Errorf("the sandbox printed the secret %q", secret)
		}
	}
}

// firstWords keeps the first word of each value: check's "ok token obtained…" is "ok".
func firstWords(m map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k], _, _ = strings.Cut(v, " ")
	}
	return out
}

func httpGet(t *testing.T, url string, h http.Header) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	maps.Copy(req.Header, h)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestSandboxLeavesOthersFilesAlone(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		// files are written before the sandbox starts, relative to its directory.
		files map[string]string
	}{
		{name: "someone's env file", files: map[string]string{"resetbot.env": "SLACK_BOT_TOKEN=xoxb-my-real-token\n"}},
		{name: "an empty env file", files: map[string]string{"resetbot.env": ""}},
		{name: "an env file that quotes the marker below its first line",
			files: map[string]string{"resetbot.env": "OKTA_API_TOKEN=real\n" + sandboxMarker + "\n"}},
		{name: "someone's directory where the fakes' files would go",
			files: map[string]string{"resetbot-sandbox/resetbot.db": "my own database"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			for name, body := range tc.files {
				p := filepath.Join(dir, name)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			// The refusal comes before the fakes start; an ended context makes a sandbox that
			// wrongly started stop at once instead of waiting for Ctrl-C.
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			var out, errb bytes.Buffer
			code := cli.Main(ctx, []string{"demo", "--serve", "--env-file", filepath.Join(dir, "resetbot.env")},
				cli.Env{Getenv: func(string) (string, bool) { return "", false }, Stdout: &out, Stderr: &errb}, Command())
			r := cliRun{code: code, stdout: out.String(), stderr: errb.String()}
			if r.code != cli.ExitUsage {
				t.Errorf("exit %d, want %d\n%s", r.code, cli.ExitUsage, r)
			}
			if !strings.Contains(r.stderr, "was not written by resetbot demo --serve: it is left alone") {
				t.Errorf("stderr does not say why\n%s", r)
			}
			for name, body := range tc.files {
				got, err := os.ReadFile(filepath.Join(dir, name))
				if err != nil || string(got) != body {
					t.Errorf("%s changed: %q, %v; want %q", name, got, err, body)
				}
			}
			want := map[string]bool{}
			for name := range tc.files {
				want[strings.Split(name, "/")[0]] = true
			}
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				if !want[e.Name()] {
					t.Errorf("the refused sandbox left %s behind", e.Name())
				}
			}
		})
	}
}

func TestSandboxReplacesWhatItWroteBefore(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	old := map[string]string{
		"resetbot.env":                 sandboxMarker + " on 2020-01-01T00:00:00Z.\nSLACK_API_URL='http://127.0.0.1:1/api/'\n",
		"resetbot-sandbox/README.txt":  sandboxMarker + "\n",
		"resetbot-sandbox/resetbot.db": "requests of fakes that are gone",
	}
	for name, body := range old {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s := startSandbox(t, filepath.Join(dir, "resetbot.env"))
	env := sourceEnvFile(t, s.envFile)
	if env["SLACK_API_URL"] != s.world.Slack.APIURL() {
		t.Errorf("SLACK_API_URL = %q, want the running fake's %q", env["SLACK_API_URL"], s.world.Slack.APIURL())
	}
	if fi, err := os.Stat(s.envFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("env file: %v, %v; want mode 0600", fi, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "resetbot-sandbox", "resetbot.db")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the previous sandbox's database is still there (%v): a new sandbox starts empty", err)
	}
}

func TestDemoHelpDescribesServe(t *testing.T) {
	t.Parallel()
	if r := runWithEnv(t, nil, nil, "--help"); !strings.Contains(r.stdout, "demo ") {
		t.Errorf("resetbot --help does not list demo\n%s", r)
	}
	r := runWithEnv(t, nil, nil, "demo", "--help")
	if r.code != cli.ExitOK {
		t.Errorf("exit %d\n%s", r.code, r)
	}
	for _, want := range []string{"resetbot demo --serve [--env-file PATH] [--http-addr ADDR]", "-serve", "-env-file PATH", "-http-addr ADDR", "rita: /reset-sessions"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("demo --help lacks %q\n%s", want, r)
		}
	}
	if r := runWithEnv(t, nil, nil, "demo", "serve"); r.code != cli.ExitUsage || !strings.Contains(r.stderr, `unexpected argument "serve"`) {
		t.Errorf("demo with a stray argument: want a usage error\n%s", r)
	}
}
