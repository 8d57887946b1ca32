package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/resetbot/resetbot/internal/fake"
	"github.com/resetbot/resetbot/internal/fake/binary"
	oktafake "github.com/resetbot/resetbot/internal/fake/okta"
	"github.com/resetbot/resetbot/internal/fake/world"
	"github.com/resetbot/resetbot/internal/reset"
	"github.com/resetbot/resetbot/internal/store"
)

// The command-line tests run `resetbot reset`, `check`, `audit` and friends in-process against
// a world of fakes, and assert on what the operator sees (stdout, stderr, exit code) and on what
// reached each system.

// cliWorld starts a world of fakes for one test.
func cliWorld(t *testing.T) *world.World {
	t.Helper()
	w, err := world.Start(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	return w
}

// cliRun is one invocation: what was printed and the exit code.
type cliRun struct {
	code           int
	stdout, stderr string
}

// runCLI runs resetbot with args against w, as a shell would.
func runCLI(t *testing.T, w *world.World, args ...string) cliRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out, errb bytes.Buffer
	code := Main(ctx, args, Env{Getenv: w.Getenv, Stdout: &out, Stderr: &errb, Roots: w.Roots, Version: "dev"})
	return cliRun{code: code, stdout: out.String(), stderr: errb.String()}
}

func (r cliRun) String() string {
	return fmt.Sprintf("exit %d\n--- stdout:\n%s--- stderr:\n%s", r.code, r.stdout, r.stderr)
}

var nothing = map[string]int{"okta": 0, "google": 0, "zoom": 0, "microsoft": 0, "slack": 0}

// outcomeLines finds the "  <system>: …" lines printed under "Signing out:", by system.
func outcomeLines(stdout string) map[string]string {
	lines := map[string]string{}
	_, after, ok := strings.Cut(stdout, "\nSigning out:\n")
	if !ok {
		return lines
	}
	for _, l := range strings.Split(after, "\n") {
		l = strings.TrimSpace(l)
		if name, _, ok := strings.Cut(l, ": "); ok && slices.Contains([]string{"okta", "google", "zoom", "microsoft", "slack"}, name) {
			lines[name] = l
		}
	}
	return lines
}

// secrets are the values no output may contain.
func assertNoSecrets(t *testing.T, w *world.World, r cliRun) {
	t.Helper()
	for _, s := range w.Secrets() {
		if strings.Contains(r.stdout, s) || strings.Contains(r.stderr, s) {
			t.Errorf("output shows the secret %q:\n%s", s, r)
		}
	}
}

func TestResetSignsOutEverywhere(t *testing.T) {
	t.Parallel()
	// outcome is the start of a system's line: its status, then for failures the provider's words.
	type outcome map[string]string
	allRevoked := outcome{"okta": "okta: revoked", "google": "google: revoked", "zoom": "zoom: revoked", "microsoft": "microsoft: revoked", "slack": "slack: revoked"}
	cases := []struct {
		name  string
		setup func(w *world.World)
		who   func(w *world.World) world.Person
		// byID names the person by Okta user id instead of email.
		byID  bool
		args  []string
		code  int
		lines outcome
		// also holds more text a system's line must contain.
		also    outcome
		result  string
		revoked map[string]int
	}{
		{
			name:    "everyone has an account",
			who:     func(w *world.World) world.Person { return w.Alice },
			code:    exitOK,
			lines:   allRevoked,
			result:  "done",
			revoked: map[string]int{"okta": 1, "google": 1, "zoom": 1, "microsoft": 1, "slack": 1},
		},
		{
			name:    "an Okta user id names the person too",
			who:     func(w *world.World) world.Person { return w.Alice },
			byID:    true,
			args:    []string{"--reason", "phished"},
			code:    exitOK,
			lines:   allRevoked,
			result:  "done",
			revoked: map[string]int{"okta": 1, "google": 1, "zoom": 1, "microsoft": 1, "slack": 1},
		},
		{
			name:    "a missing Zoom account is no account, not a failure",
			who:     func(w *world.World) world.Person { return w.Bob },
			code:    exitOK,
			lines:   outcome{"okta": "okta: revoked", "google": "google: revoked", "zoom": "zoom: no account", "microsoft": "microsoft: revoked", "slack": "slack: revoked"},
			result:  "done",
			revoked: map[string]int{"okta": 1, "google": 1, "zoom": 0, "microsoft": 1, "slack": 1},
		},
		{
			name: "Zoom failing every attempt leaves a partial reset",
			setup: func(w *world.World) {
				w.Zoom.FailTimes("revoke", 20, fake.Fault{Status: http.StatusInternalServerError})
			},
			who:  func(w *world.World) world.Person { return w.Alice },
			code: exitFailed,
			lines: outcome{"okta": "okta: revoked", "google": "google: revoked", "microsoft": "microsoft: revoked", "slack": "slack: revoked",
				"zoom": "zoom: failed — revoke zoom sessions for alice@example.com: Internal Server Error"},
			also:    outcome{"zoom": "(retrying may help) [5 attempts"},
			result:  "partial",
			revoked: map[string]int{"okta": 1, "google": 1, "zoom": 0, "microsoft": 1, "slack": 1},
		},
		{
			name:  "Microsoft refusing the permission is a failure that retrying will not fix",
			setup: func(w *world.World) { w.Microsoft.FailTimes("revoke", 20, fake.Fault{Status: http.StatusForbidden}) },
			who:   func(w *world.World) world.Person { return w.Alice },
			code:  exitFailed,
			lines: outcome{"okta": "okta: revoked", "google": "google: revoked", "zoom": "zoom: revoked", "slack": "slack: revoked",
				"microsoft": "microsoft: failed — revoke microsoft 365 sessions for alice@example.com: Authorization_RequestDenied: Insufficient privileges"},
			also:    outcome{"microsoft": "(retrying will not help) [1 attempt,"},
			result:  "partial",
			revoked: map[string]int{"okta": 1, "google": 1, "zoom": 1, "microsoft": 0, "slack": 1},
		},
		{
			name:  "every system failing fails the reset",
			setup: func(w *world.World) { cliFailEverywhere(w, http.StatusForbidden) },
			who:   func(w *world.World) world.Person { return w.Alice },
			code:  exitFailed,
			lines: outcome{"okta": "okta: failed", "google": "google: failed", "zoom": "zoom: failed",
				"microsoft": "microsoft: failed", "slack": "slack: failed"},
			result:  "failed",
			revoked: nothing,
		},
		{
			name: "deselected systems are skipped and not called",
			who:  func(w *world.World) world.Person { return w.Alice },
			args: []string{"--providers", "okta, Google"},
			code: exitOK,
			lines: outcome{"okta": "okta: revoked", "google": "google: revoked",
				"zoom": "zoom: skipped — deselected", "microsoft": "microsoft: skipped — deselected", "slack": "slack: skipped — deselected"},
			result:  "done",
			revoked: map[string]int{"okta": 1, "google": 1, "zoom": 0, "microsoft": 0, "slack": 0},
		},
		{
			name: "an unconfigured system is skipped, naming what to set",
			setup: func(w *world.World) {
				for _, k := range []string{"ZOOM_ACCOUNT_ID", "ZOOM_CLIENT_ID", "ZOOM_CLIENT_SECRET"} {
					w.Set(k, "")
				}
			},
			who:  func(w *world.World) world.Person { return w.Alice },
			code: exitOK,
			lines: outcome{"okta": "okta: revoked", "google": "google: revoked", "microsoft": "microsoft: revoked", "slack": "slack: revoked",
				"zoom": "zoom: skipped — not configured: ZOOM_ACCOUNT_ID is not set"},
			result:  "done",
			revoked: map[string]int{"okta": 1, "google": 1, "zoom": 0, "microsoft": 1, "slack": 1},
		},
		{
			name:  "without SLACK_ADMIN_TOKEN slack is skipped, naming it",
			setup: func(w *world.World) { w.Set("SLACK_ADMIN_TOKEN", "") },
			who:   func(w *world.World) world.Person { return w.Alice },
			code:  exitOK,
			lines: outcome{"okta": "okta: revoked", "google": "google: revoked", "zoom": "zoom: revoked", "microsoft": "microsoft: revoked",
				"slack": "slack: skipped — not configured: SLACK_ADMIN_TOKEN is not set"},
			result:  "done",
			revoked: map[string]int{"okta": 1, "google": 1, "zoom": 1, "microsoft": 1, "slack": 0},
		},
		{
			name:  "a Slack token that is not an Org Admin's fails at once, naming what to grant",
			setup: func(w *world.World) { w.Set("SLACK_ADMIN_TOKEN", w.Slack.UserToken(w.Oscar.SlackID)) },
			who:   func(w *world.World) world.Person { return w.Alice },
			code:  exitFailed,
			lines: outcome{"okta": "okta: revoked", "google": "google: revoked", "zoom": "zoom: revoked", "microsoft": "microsoft: revoked",
				"slack": "slack: failed — revoke slack sessions for Alice Example <alice@example.com>: not_an_admin (permission denied; grant: SLACK_ADMIN_TOKEN must be the org-level user token of an Enterprise Grid Org Admin or Owner"},
			also:    outcome{"slack": "(retrying will not help) [1 attempt,"},
			result:  "partial",
			revoked: map[string]int{"okta": 1, "google": 1, "zoom": 1, "microsoft": 1, "slack": 0},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := cliWorld(t)
			if tc.setup != nil {
				tc.setup(w)
			}
			p := tc.who(w)
			who := p.Email
			if tc.byID {
				who = p.OktaID
			}
			r := runCLI(t, w, append([]string{"reset", who}, tc.args...)...)
			if r.code != tc.code {
				t.Errorf("exit code %d, want %d\n%s", r.code, tc.code, r)
			}
			if want := "Target: " + p.Name + " <" + p.Email + ">"; !strings.Contains(r.stdout, want) {
				t.Errorf("stdout does not name the target %q\n%s", want, r)
			}
			got := outcomeLines(r.stdout)
			if len(got) != 5 {
				t.Errorf("want one outcome line per system, got %d\n%s", len(got), r)
			}
			for name, want := range tc.lines {
				if !strings.HasPrefix(got[name], want) {
					t.Errorf("%s line = %q, want it to start with %q", name, got[name], want)
				}
			}
			for name, want := range tc.also {
				if !strings.Contains(got[name], want) {
					t.Errorf("%s line = %q, want it to contain %q", name, got[name], want)
				}
			}
			if want := "\nResult: " + tc.result + "\n"; !strings.Contains(r.stdout, want) {
				t.Errorf("stdout lacks %q\n%s", strings.TrimSpace(want), r)
			}
			if g := w.SignOuts(p); !maps.Equal(g, tc.revoked) {
				t.Errorf("sign-outs that reached the systems = %v, want %v", g, tc.revoked)
			}
			for name, n := range w.RevokeCalls() {
				if strings.HasPrefix(tc.lines[name], name+": skipped") && n != 0 {
					t.Errorf("%s was skipped but its revoke endpoint was called %d times", name, n)
				}
			}
			if r.stderr != "" {
				t.Errorf("stderr should be quiet without --verbose:\n%s", r)
			}
			assertNoSecrets(t, w, r)
		})
	}
}

// cliFailEverywhere makes every system's revoke answer status, for good; Slack, which refuses
// with HTTP 200 and a word, answers not_an_admin.
func cliFailEverywhere(w *world.World, status int) {
	for _, s := range []interface {
		FailTimes(op string, n int, f fake.Fault)
	}{w.Okta, w.Google, w.Zoom, w.Microsoft} {
		s.FailTimes("revoke", 20, fake.Fault{Status: status})
	}
	w.Slack.FailTimes("admin.users.session.reset", 20, fake.Fault{Status: http.StatusOK, Message: "not_an_admin"})
}

func TestResetRetriesAFlakySystemToSuccess(t *testing.T) {
	t.Parallel()
	w := cliWorld(t)
	w.Zoom.FailTimes("revoke", 2, fake.Fault{Status: http.StatusTooManyRequests, Header: http.Header{"Retry-After": {"0"}}})
	r := runCLI(t, w, "reset", w.Alice.Email)
	if r.code != exitOK {
		t.Fatalf("exit code %d, want 0\n%s", r.code, r)
	}
	if got := outcomeLines(r.stdout)["zoom"]; !strings.HasPrefix(got, "zoom: revoked [3 attempts") {
		t.Errorf("zoom line = %q, want revoked after 3 attempts", got)
	}
	if got := w.Zoom.Revocations(w.Alice.Email); got != 1 {
		t.Errorf("zoom revocations = %d, want 1", got)
	}
}

func TestResetDryRunRevokesNothing(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		args   func(w *world.World) []string
		reason string
		plan   map[string]string
	}{
		{
			name: "flag before the person",
			args: func(w *world.World) []string { return []string{"reset", "--dry-run", w.Alice.Email} },
			plan: map[string]string{"okta": "account found", "google": "account found", "zoom": "account found", "microsoft": "account found", "slack": "account found"},
		},
		{
			name: "flags after the person, as people type",
			args: func(w *world.World) []string {
				return []string{"reset", w.Bob.Email, "--reason", "phished", "--dry-run"}
			},
			reason: "phished",
			plan:   map[string]string{"okta": "account found", "google": "account found", "zoom": "no account", "microsoft": "account found", "slack": "account found"},
		},
		{
			name: "a flag with its value after =",
			args: func(w *world.World) []string {
				return []string{"reset", w.Bob.Email, "--dry-run", "--reason=lost laptop"}
			},
			reason: "lost laptop",
			plan:   map[string]string{"okta": "account found", "google": "account found", "zoom": "no account", "microsoft": "account found", "slack": "account found"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := cliWorld(t)
			r := runCLI(t, w, tc.args(w)...)
			if r.code != exitOK {
				t.Fatalf("exit code %d, want 0\n%s", r.code, r)
			}
			_, plan, ok := strings.Cut(r.stdout, "\nPlan:\n")
			if !ok {
				t.Fatalf("no plan printed\n%s", r)
			}
			for _, l := range strings.Split(plan, "\n") {
				f := strings.Fields(l)
				if len(f) < 3 {
					continue
				}
				if want, ok := tc.plan[f[0]]; ok && !strings.HasPrefix(strings.Join(f[1:], " "), want) {
					t.Errorf("plan line %q, want %q", strings.TrimSpace(l), want)
				}
				delete(tc.plan, f[0])
			}
			if len(tc.plan) != 0 {
				t.Errorf("plan lacks %v\n%s", tc.plan, r)
			}
			if !strings.Contains(r.stdout, "Dry run: nothing was revoked.") {
				t.Errorf("stdout does not say nothing was revoked\n%s", r)
			}
			if strings.Contains(r.stdout, "Signing out:") {
				t.Errorf("a dry run signed out\n%s", r)
			}
			if tc.reason != "" && !strings.Contains(r.stdout, "Reason: "+tc.reason+"\n") {
				t.Errorf("the reason %q is not shown\n%s", tc.reason, r)
			}
			if c := w.RevokeCalls(); !maps.Equal(c, nothing) {
				t.Errorf("a dry run reached the systems' revoke endpoints: %v", c)
			}
		})
	}
}

func TestResetJSON(t *testing.T) {
	t.Parallel()
	w := cliWorld(t)
	r := runCLI(t, w, "reset", "--json", "--reason", "phished", w.Bob.Email)
	if r.code != exitOK {
		t.Fatalf("exit code %d, want 0\n%s", r.code, r)
	}
	var rep struct {
		Target   reset.Target      `json:"target"`
		Reason   string            `json:"reason"`
		DryRun   bool              `json:"dry_run"`
		Plan     []reset.PlanEntry `json:"plan"`
		Outcomes []reset.Outcome   `json:"outcomes"`
		Result   string            `json:"result"`
	}
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rep); err != nil {
		t.Fatalf("stdout is not the JSON report: %v\n%s", err, r)
	}
	if dec.More() {
		t.Errorf("stdout holds more than one JSON document\n%s", r)
	}
	if rep.Target.Email != w.Bob.Email || rep.Target.OktaID != w.Bob.OktaID || rep.Reason != "phished" || rep.DryRun {
		t.Errorf("target/reason/dry_run = %+v %q %v", rep.Target, rep.Reason, rep.DryRun)
	}
	wantPlan := []reset.PlanEntry{
		{Provider: "okta", Account: reset.AccountFound},
		{Provider: "google", Account: reset.AccountFound},
		{Provider: "zoom", Account: reset.AccountNone},
		{Provider: "microsoft", Account: reset.AccountFound},
		{Provider: "slack", Account: reset.AccountFound},
	}
	if !reflect.DeepEqual(rep.Plan, wantPlan) {
		t.Errorf("plan = %+v, want %+v", rep.Plan, wantPlan)
	}
	var got []string
	for _, o := range rep.Outcomes {
		got = append(got, o.Provider+"="+string(o.Status))
		if o.Attempts != 1 {
			t.Errorf("%s: %d attempts, want 1", o.Provider, o.Attempts)
		}
	}
	want := []string{"okta=revoked", "google=revoked", "zoom=no account", "microsoft=revoked", "slack=revoked"}
	if !slices.Equal(got, want) {
		t.Errorf("outcomes = %v, want %v in summary order", got, want)
	}
	if rep.Result != "done" {
		t.Errorf("result = %q, want done", rep.Result)
	}
	if g := w.SignOuts(w.Bob); !maps.Equal(g, map[string]int{"okta": 1, "google": 1, "zoom": 0, "microsoft": 1, "slack": 1}) {
		t.Errorf("sign-outs = %v", g)
	}
}

func TestResetRefusesWhatItCannotDo(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		// unset lists variables removed from the world's environment.
		unset []string
		set   map[string]string
		args  []string
		code  int
		// stderr must contain every one of these.
		stderr []string
	}{
		{name: "no person", args: []string{"reset"}, code: exitUsage, stderr: []string{"name exactly one person", "usage: resetbot reset"}},
		{name: "two people", args: []string{"reset", "alice@example.com", "bob@example.com"}, code: exitUsage, stderr: []string{"name exactly one person"}},
		{name: "a blank person", args: []string{"reset", "  "}, code: exitUsage, stderr: []string{"name exactly one person"}},
		{name: "an unknown flag", args: []string{"reset", "--dryrun", "alice@example.com"}, code: exitUsage, stderr: []string{"flag provided but not defined: -dryrun"}},
		{name: "a flag missing its value", args: []string{"reset", "alice@example.com", "--reason"}, code: exitUsage, stderr: []string{"flag needs an argument: -reason"}},
		{name: "an unknown system", args: []string{"reset", "--providers", "okta,github", "alice@example.com"}, code: exitUsage, stderr: []string{`unknown system "github"`, "okta, google, zoom, microsoft, slack"}},
		{name: "no system at all", args: []string{"reset", "--providers", " , ", "alice@example.com"}, code: exitUsage, stderr: []string{"--providers: name at least one system"}},
		{name: "nobody by that name", args: []string{"reset", "nobody@example.com"}, code: exitFailed, stderr: []string{`nobody in Okta matches "nobody@example.com"`}},
		{name: "half-configured Zoom", unset: []string{"ZOOM_CLIENT_SECRET"}, args: []string{"reset", "alice@example.com"}, code: exitUsage, stderr: []string{"ZOOM_CLIENT_SECRET"}},
		{name: "half-configured Microsoft", unset: []string{"AZURE_TENANT_ID"}, args: []string{"reset", "alice@example.com"}, code: exitUsage, stderr: []string{"AZURE_TENANT_ID"}},
		{name: "no Okta org", unset: []string{"OKTA_ORG_URL"}, args: []string{"reset", "alice@example.com"}, code: exitUsage, stderr: []string{"OKTA_ORG_URL is not set"}},
		{name: "no Okta at all", unset: []string{"OKTA_ORG_URL", "OKTA_API_TOKEN"}, args: []string{"reset", "alice@example.com"}, code: exitUsage, stderr: []string{"OKTA_ORG_URL is not set", "resetbot finds people in Okta"}},
		{name: "Google admin without a key", unset: []string{"GOOGLE_APPLICATION_CREDENTIALS"}, args: []string{"reset", "alice@example.com"}, code: exitUsage, stderr: []string{"GOOGLE_APPLICATION_CREDENTIALS is not set"}},
		{name: "a URL that is not one", set: map[string]string{"ZOOM_API_URL": "api.zoom.us/v2"}, args: []string{"reset", "alice@example.com"}, code: exitUsage, stderr: []string{"ZOOM_API_URL is not a URL"}},
		{name: "a wrong Okta token", set: map[string]string{"OKTA_API_TOKEN": "00wrongtoken"}, args: []string{"reset", "alice@example.com"}, code: exitFailed, stderr: []string{`could not look "alice@example.com" up in Okta`}},
		{name: "check with a half-configured Zoom", unset: []string{"ZOOM_CLIENT_SECRET"}, args: []string{"check"}, code: exitUsage, stderr: []string{"resetbot check:", "ZOOM_CLIENT_SECRET"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := cliWorld(t)
			for _, k := range tc.unset {
				w.Set(k, "")
			}
			for k, v := range tc.set {
				w.Set(k, v)
			}
			r := runCLI(t, w, tc.args...)
			if r.code != tc.code {
				t.Errorf("exit code %d, want %d\n%s", r.code, tc.code, r)
			}
			for _, want := range tc.stderr {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("stderr lacks %q\n%s", want, r)
				}
			}
			if strings.Contains(r.stdout, "Signing out:") {
				t.Errorf("signed out after all\n%s", r)
			}
			if c := w.RevokeCalls(); !maps.Equal(c, nothing) {
				t.Errorf("revoke endpoints were called: %v", c)
			}
			assertNoSecrets(t, w, r)
			if v, ok := tc.set["OKTA_API_TOKEN"]; ok && strings.Contains(r.stderr, v) {
				t.Errorf("stderr shows the Okta token\n%s", r)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		setup func(w *world.World)
		code  int
		// want maps a system to the first word of its line.
		want map[string]string
		// detail, when set, must appear on the named system's line.
		detail map[string]string
		// hidden must appear nowhere in the output.
		hidden string
	}{
		{
			name: "every system answers",
			code: exitOK,
			want: map[string]string{"okta": "ok", "google": "ok", "zoom": "ok", "microsoft": "ok", "slack": "ok"},
		},
		{
			name:   "a wrong Zoom secret",
			setup:  func(w *world.World) { w.Set("ZOOM_CLIENT_SECRET", "wrong-zoom-secret-value") },
			code:   exitFailed,
			want:   map[string]string{"okta": "ok", "google": "ok", "zoom": "FAILED", "microsoft": "ok", "slack": "ok"},
			detail: map[string]string{"zoom": "Invalid client_id or client_secret"},
			hidden: "wrong-zoom-secret-value",
		},
		{
			name:   "a wrong Microsoft secret",
			setup:  func(w *world.World) { w.Set("AZURE_CLIENT_SECRET", "wrong-azure-secret-value") },
			code:   exitFailed,
			want:   map[string]string{"okta": "ok", "google": "ok", "zoom": "ok", "microsoft": "FAILED", "slack": "ok"},
			hidden: "wrong-azure-secret-value",
		},
		{
			name: "an unconfigured system",
			setup: func(w *world.World) {
				for _, k := range []string{"AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET"} {
					w.Set(k, "")
				}
			},
			code:   exitOK,
			want:   map[string]string{"okta": "ok", "google": "ok", "zoom": "ok", "microsoft": "skipped", "slack": "ok"},
			detail: map[string]string{"microsoft": "not configured: AZURE_TENANT_ID is not set"},
		},
		{
			name:   "Slack without SLACK_ADMIN_TOKEN",
			setup:  func(w *world.World) { w.Set("SLACK_ADMIN_TOKEN", "") },
			code:   exitOK,
			want:   map[string]string{"okta": "ok", "google": "ok", "zoom": "ok", "microsoft": "ok", "slack": "skipped"},
			detail: map[string]string{"slack": "not configured: SLACK_ADMIN_TOKEN is not set"},
		},
		{
			name:   "a Slack token that is not an Org Admin's",
			setup:  func(w *world.World) { w.Set("SLACK_ADMIN_TOKEN", w.Slack.UserToken(w.Oscar.SlackID)) },
			code:   exitFailed,
			want:   map[string]string{"okta": "ok", "google": "ok", "zoom": "ok", "microsoft": "ok", "slack": "FAILED"},
			detail: map[string]string{"slack": "who is not an Org Admin or Owner of E0EXAMPLE"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := cliWorld(t)
			if tc.setup != nil {
				tc.setup(w)
			}
			r := runCLI(t, w, "check")
			if r.code != tc.code {
				t.Errorf("exit code %d, want %d\n%s", r.code, tc.code, r)
			}
			if !strings.HasPrefix(r.stdout, "Configuration: valid\n") {
				t.Errorf("stdout does not start with the configuration verdict\n%s", r)
			}
			_, systems, _ := strings.Cut(r.stdout, "\nSystems:\n")
			systems, _, _ = strings.Cut(systems, "\n\n")
			seen := map[string]bool{}
			for _, l := range strings.Split(systems, "\n") {
				f := strings.Fields(l)
				if len(f) < 2 {
					continue
				}
				want, ok := tc.want[f[0]]
				if !ok {
					t.Errorf("unexpected line %q", l)
					continue
				}
				seen[f[0]] = true
				if f[1] != want {
					t.Errorf("%s: %q, want %s", f[0], strings.TrimSpace(l), want)
				}
				if d := tc.detail[f[0]]; d != "" && !strings.Contains(l, d) {
					t.Errorf("%s line %q lacks %q", f[0], strings.TrimSpace(l), d)
				}
			}
			if len(seen) != len(tc.want) {
				t.Errorf("systems listed: %v, want %v\n%s", seen, tc.want, r)
			}
			if c := w.RevokeCalls(); !maps.Equal(c, nothing) {
				t.Errorf("check revoked something: %v", c)
			}
			assertNoSecrets(t, w, r)
			if tc.hidden != "" && (strings.Contains(r.stdout, tc.hidden) || strings.Contains(r.stderr, tc.hidden)) {
				t.Errorf("output shows the configured secret\n%s", r)
			}
		})
	}
}

func TestHelpVersionAndUnknownCommands(t *testing.T) {
	t.Parallel()
	cases := []struct {
		args []string
		code int
		// want must appear in stdout or stderr.
		want []string
	}{
		{args: []string{"version"}, code: exitOK, want: []string{"resetbot dev"}},
		{args: []string{"--help"}, code: exitOK, want: []string{"usage: resetbot <command>", "reset", "check", "audit"}},
		{args: []string{"help"}, code: exitOK, want: []string{"usage: resetbot <command>"}},
		{args: nil, code: exitUsage, want: []string{"usage: resetbot <command>"}},
		{args: []string{"run", "--help"}, code: exitOK, want: []string{"usage: resetbot run", "-grace"}},
		{args: []string{"reset", "--help"}, code: exitOK, want: []string{"usage: resetbot reset", "-dry-run", "-providers", "-json", "-reason"}},
		{args: []string{"reset", "alice@example.com", "-h"}, code: exitOK, want: []string{"usage: resetbot reset"}},
		{args: []string{"check", "--help"}, code: exitOK, want: []string{"usage: resetbot check"}},
		{args: []string{"audit", "--help"}, code: exitOK, want: []string{"usage: resetbot audit", "-since", "-target", "-request"}},
		{args: []string{"version", "--help"}, code: exitOK, want: []string{"usage: resetbot version"}},
		{args: []string{"revoke", "alice@example.com"}, code: exitUsage, want: []string{`unknown command "revoke"`, "usage: resetbot <command>"}},
	}
	for _, tc := range cases {
		t.Run(strings.Join(append([]string{"resetbot"}, tc.args...), " "), func(t *testing.T) {
			t.Parallel()
			w := cliWorld(t)
			r := runCLI(t, w, tc.args...)
			if r.code != tc.code {
				t.Errorf("exit code %d, want %d\n%s", r.code, tc.code, r)
			}
			out := r.stdout + r.stderr
			if tc.code == exitOK {
				out = r.stdout // help that was asked for goes to stdout, so it can be paged
			}
			for _, want := range tc.want {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q\n%s", want, r)
				}
			}
			if c := w.RevokeCalls(); !maps.Equal(c, nothing) {
				t.Errorf("revoke endpoints were called: %v", c)
			}
		})
	}
}

func TestAuditFlagsMayFollowEachOther(t *testing.T) {
	t.Parallel()
	w := cliWorld(t)
	dbURL, _ := w.Getenv("RESETBOT_DATABASE_URL")
	ctx := context.Background()
	st, err := store.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	rita := reset.Actor{SlackID: w.Rita.SlackID, OktaLogin: w.Rita.Email, Name: w.Rita.Name}
	for _, e := range []store.Event{
		{RequestID: "req-alice-0001", Kind: store.KindRequested, Actor: rita, Target: w.Alice.Email, Reason: "phished"},
		{RequestID: "req-bob-0002", Kind: store.KindRequested, Actor: rita, Target: w.Bob.Email, Reason: "lost laptop"},
	} {
		if err := st.Append(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name       string
		args       []string
		code       int
		show, hide string
	}{
		{name: "request filter", args: []string{"audit", "--request", "req-bob-0002"}, code: exitOK, show: "lost laptop", hide: "phished"},
		{name: "request filter after another flag", args: []string{"audit", "--since", "1h", "--request", "req-alice-0001"}, code: exitOK, show: "phished", hide: "lost laptop"},
		{name: "target filter", args: []string{"audit", "--target", w.Bob.Email}, code: exitOK, show: "lost laptop", hide: "phished"},
		{name: "a person given without --target", args: []string{"audit", w.Bob.Email}, code: exitUsage, show: "use --target bob@example.com"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := runCLI(t, w, tc.args...)
			if r.code != tc.code {
				t.Errorf("exit code %d, want %d\n%s", r.code, tc.code, r)
			}
			if !strings.Contains(r.stdout+r.stderr, tc.show) {
				t.Errorf("output lacks %q\n%s", tc.show, r)
			}
			if tc.hide != "" && strings.Contains(r.stdout, tc.hide) {
				t.Errorf("output shows %q, which the filter excludes\n%s", tc.hide, r)
			}
		})
	}
}

// TestBinaryResetsAgainstTheFakes builds the real binary and runs it as an operator would:
// configuration only from the environment, the fakes' certificate trusted through
// SSL_CERT_FILE, no test hooks.
func TestBinaryResetsAgainstTheFakes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	t.Parallel()
	bin := binary.Build(t)
	w := cliWorld(t)
	env, home := binary.Env(t, w)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "reset", w.Alice.Email, "--reason", "phished")
	cmd.Env = env
	cmd.Dir = home
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	code := 0
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			t.Fatalf("run %s: %v", bin, err)
		}
		code = exit.ExitCode()
	}
	r := cliRun{code: code, stdout: out.String(), stderr: errb.String()}
	if r.code != exitOK {
		t.Fatalf("exit code %d, want 0\n%s", r.code, r)
	}
	lines := outcomeLines(r.stdout)
	for _, name := range []string{"okta", "google", "zoom", "microsoft", "slack"} {
		if !strings.HasPrefix(lines[name], name+": revoked") {
			t.Errorf("%s line = %q, want revoked\n%s", name, lines[name], r)
		}
	}
	if !strings.Contains(r.stdout, "\nResult: done\n") {
		t.Errorf("stdout lacks the result\n%s", r)
	}
	if g := w.SignOuts(w.Alice); !maps.Equal(g, map[string]int{"okta": 1, "google": 1, "zoom": 1, "microsoft": 1, "slack": 1}) {
		t.Errorf("sign-outs that reached the systems = %v, want one each", g)
	}
	assertNoSecrets(t, w, r)
}

func TestCommandLineResetIsInTheAuditLog(t *testing.T) {
	t.Parallel()
	w := cliWorld(t)
	if r := runCLI(t, w, "reset", "bob@example.com", "--reason", "phished"); r.code != exitOK {
		t.Fatalf("reset: %s", r)
	}
	r := runCLI(t, w, "audit", "--target", "BOB@example.com", "--json")
	var events []struct {
		Kind   string
		Reason string
		Detail string
		Actor  struct{ Name string }
	}
	if err := json.Unmarshal([]byte(r.stdout), &events); err != nil {
		t.Fatalf("audit --json: %v\n%s", err, r)
	}
	var kinds []string
	details := ""
	for _, e := range events {
		kinds = append(kinds, e.Kind)
		details += e.Detail + "\n"
		if !strings.HasPrefix(e.Actor.Name, "cli:") {
			t.Errorf("event %s names actor %q; want the operator (cli:…)", e.Kind, e.Actor.Name)
		}
	}
	if got := strings.Join(kinds, ","); got != "requested,approved,outcome,outcome,outcome,outcome,outcome,finished" {
		t.Errorf("audit kinds = %s", got)
	}
	for _, want := range []string{"okta: revoked", "zoom: no account", "done"} {
		if !strings.Contains(details, want) {
			t.Errorf("audit details lack %q:\n%s", want, details)
		}
	}
}

// TestExitCodesSayWhoseFaultItIs: 2 is for the operator's usage and configuration only; a
// database or a system that does not answer at startup is 1, with the cause.
func TestExitCodesSayWhoseFaultItIs(t *testing.T) {
	t.Parallel()
	// A port nothing listens on: connections are refused at once.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	tests := []struct {
		name string
		args []string
		env  map[string]string
		code int
		want string
	}{
		{"run with a database URL of an unknown kind", []string{"run"}, map[string]string{"RESETBOT_DATABASE_URL": "mysql://db/resetbot"}, exitUsage, "unsupported database URL scheme"},
		{"audit with a database URL of an unknown kind", []string{"audit"}, map[string]string{"RESETBOT_DATABASE_URL": "mysql://db/resetbot"}, exitUsage, "unsupported database URL scheme"},
		{"run with a database that does not answer", []string{"run"}, map[string]string{"RESETBOT_DATABASE_URL": "postgres://resetbot@" + closed + "/resetbot?connect_timeout=2"}, ExitFailed, "RESETBOT_DATABASE_URL"},
		{"audit with a database that does not answer", []string{"audit"}, map[string]string{"RESETBOT_DATABASE_URL": "postgres://resetbot@" + closed + "/resetbot?connect_timeout=2"}, ExitFailed, "RESETBOT_DATABASE_URL"},
		{"run with Okta not answering", []string{"run"}, map[string]string{"OKTA_ORG_URL": "https://" + closed}, ExitFailed, "RESETBOT_REQUESTER_GROUPS"},
		{"run with a group Okta does not know", []string{"run"}, map[string]string{"RESETBOT_REQUESTER_GROUPS": "Nobody Here"}, exitUsage, `no Okta group is named or has the id "Nobody Here"`},
		{"run with a bad setting", []string{"run"}, map[string]string{"RESETBOT_REQUEST_TTL": "soon"}, exitUsage, "RESETBOT_REQUEST_TTL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := cliWorld(t)
			for k, v := range tt.env {
				w.Set(k, v)
			}
			r := runCLI(t, w, tt.args...)
			if r.code != tt.code || !strings.Contains(r.stderr, tt.want) {
				t.Errorf("exit %d, want %d and a message naming %q\n%s", r.code, tt.code, tt.want, r)
			}
			if w.Slack.Connections() != 0 {
				t.Error("resetbot connected to Slack although it could not start")
			}
		})
	}
}

func TestRetryRunsOnlyWhatFailed(t *testing.T) {
	t.Parallel()
	w := cliWorld(t)
	w.Zoom.FailTimes("revoke", 5, fake.Fault{Status: http.StatusServiceUnavailable}) // every attempt of the reset
	first := runCLI(t, w, "reset", w.Alice.Email, "--reason", "phished")
	if first.code != exitFailed || !strings.Contains(first.stdout, "Result: partial") {
		t.Fatalf("reset with Zoom down: want partial and exit 1\n%s", first)
	}
	var events []struct {
		RequestID string
		Kind      string
	}
	if err := json.Unmarshal([]byte(runCLI(t, w, "audit", "--json").stdout), &events); err != nil || len(events) == 0 {
		t.Fatalf("audit: %v", err)
	}
	id := events[0].RequestID
	before := w.RevokeCalls()

	r := runCLI(t, w, "retry", id)
	if r.code != exitOK || !strings.Contains(r.stdout, "zoom: revoked") || !strings.Contains(r.stdout, "Result: done") {
		t.Fatalf("retry: want zoom revoked and done\n%s", r)
	}
	if strings.Contains(r.stdout, "okta: revoked") {
		t.Errorf("the retry printed a system that had not failed:\n%s", r)
	}
	after := w.RevokeCalls()
	for name, n := range after {
		want := before[name]
		if name == "zoom" {
			want++
		}
		if n != want {
			t.Errorf("%s got %d revoke calls after the retry, want %d", name, n, want)
		}
	}
	if again := runCLI(t, w, "retry", id); again.code != exitFailed || !strings.Contains(again.stderr, "is done: only a request that ended partial or failed") {
		t.Errorf("retrying a done request: want a refusal\n%s", again)
	}
	if r := runCLI(t, w, "retry"); r.code != exitUsage {
		t.Errorf("retry without an id: exit %d, want %d", r.code, exitUsage)
	}
	audit := runCLI(t, w, "audit", "--request", id).stdout
	if !strings.Contains(audit, "retried") || strings.Count(audit, "finished") != 2 {
		t.Errorf("audit of the retried request:\n%s", audit)
	}
}

// TestCheckNames pins what check says of the Okta profile attributes other systems are asked
// under: each mapped attribute and secondEmail, one line each, read from Okta's user schema.
func TestCheckNames(t *testing.T) {
	t.Parallel()
	readOnly := func(w *world.World) {
		w.Okta.SetSchemaAttribute("secondEmail", false, oktafake.SelfReadOnly)
		w.Okta.SetSchemaAttribute("msUpn", true, oktafake.SelfReadOnly)
		w.Okta.SetSchemaAttribute("googleMail", true, oktafake.SelfHide)
		w.Set("RESETBOT_MICROSOFT_ID_ATTRIBUTE", "msUpn")
		w.Set("RESETBOT_GOOGLE_ID_ATTRIBUTE", "googleMail")
	}
	serviceApp := func(t *testing.T, w *world.World) {
		key := filepath.Join(t.TempDir(), "okta-key.pem")
		if err := os.WriteFile(key, w.Okta.NewServiceApp("0oaresetbot"), 0o600); err != nil {
			t.Fatal(err)
		}
		w.Set("OKTA_API_TOKEN", "")
		w.Set("OKTA_CLIENT_ID", "0oaresetbot")
		w.Set("OKTA_PRIVATE_KEY_FILE", key)
	}
	cases := []struct {
		name  string
		setup func(t *testing.T, w *world.World)
		code  int
		// want are the section's lines, each "<status>  <start of the text>".
		want []string
		// unread: the schema request never reaches Okta (the token for it is refused).
		unread bool
	}{
		{
			name:  "every name read only or hidden",
			setup: func(_ *testing.T, w *world.World) { readOnly(w) },
			code:  exitOK,
			want: []string{
				"ok       RESETBOT_GOOGLE_ID_ATTRIBUTE names googleMail, which people cannot edit themselves (User permission: Hide)",
				"ok       RESETBOT_MICROSOFT_ID_ATTRIBUTE names msUpn, which people cannot edit themselves (User permission: Read only)",
				"ok       secondEmail, asked last in every system, cannot be edited by people themselves (User permission: Read only)",
			},
		},
		{
			name: "secondEmail as Okta sets it up: editable by the person",
			code: exitOK,
			want: []string{
				"WARNING  secondEmail, asked last in every system, is one people can edit themselves in Okta: a stolen session could point it at someone else's account. " +
					"In Okta's Profile Editor set secondEmail's User permission to Read only",
			},
		},
		{
			name: "a mapped attribute people can edit",
			setup: func(_ *testing.T, w *world.World) {
				readOnly(w)
				w.Okta.SetSchemaAttribute("msUpn", true, oktafake.SelfReadWrite)
			},
			code: exitOK,
			want: []string{
				"ok       RESETBOT_GOOGLE_ID_ATTRIBUTE names googleMail",
				"WARNING  RESETBOT_MICROSOFT_ID_ATTRIBUTE names msUpn, which people can edit themselves in Okta: a stolen session could point it at someone else's account. " +
					"In Okta's Profile Editor set msUpn's User permission to Read only",
				"ok       secondEmail, asked last in every system, cannot be edited",
			},
		},
		{
			name: "mapped attributes Okta does not have",
			setup: func(_ *testing.T, w *world.World) {
				readOnly(w)
				w.Set("RESETBOT_GOOGLE_ID_ATTRIBUTE", "googleEmail")
				w.Set("RESETBOT_ZOOM_ID_ATTRIBUTE", "msupn")
			},
			code: exitUsage,
			want: []string{
				"FAILED   RESETBOT_GOOGLE_ID_ATTRIBUTE names googleEmail, which Okta's user schema does not have: no one would ever be found under it. " +
					"Set RESETBOT_GOOGLE_ID_ATTRIBUTE to an attribute's variable name as Okta's Profile Editor shows it",
				"FAILED   RESETBOT_ZOOM_ID_ATTRIBUTE names msupn, which Okta's user schema does not have (it has msUpn: Okta's names are case-sensitive): no one would ever be found under it.",
				"ok       RESETBOT_MICROSOFT_ID_ATTRIBUTE names msUpn",
				"ok       secondEmail",
			},
		},
		{
			name: "a permission resetbot does not know is no all-clear",
			setup: func(_ *testing.T, w *world.World) {
				readOnly(w)
				w.Okta.SetSchemaAttribute("msUpn", true, "READ_APPEND")
			},
			code: exitOK,
			want: []string{
				"ok       RESETBOT_GOOGLE_ID_ATTRIBUTE names googleMail",
				`WARNING  RESETBOT_MICROSOFT_ID_ATTRIBUTE names msUpn, which has no User permission resetbot knows ("READ_APPEND") in Okta's user schema: ` +
					"in Okta's Profile Editor make sure msUpn's User permission is Read only",
				"ok       secondEmail",
			},
		},
		{
			name: "an API token whose admin may not read the schema",
			setup: func(_ *testing.T, w *world.World) {
				readOnly(w)
				w.Okta.Fail("schema", fake.Fault{Status: http.StatusForbidden})
			},
			code: exitOK,
			want: []string{
				"skipped  Okta would not show resetbot its user schema, so check cannot tell whether people can edit googleMail, msUpn, secondEmail themselves, nor whether Okta has googleMail, msUpn. " +
					"To have it checked, give the admin behind OKTA_API_TOKEN a role that may read the user schema (Directory → Profile Editor); resetbot itself does not need it. " +
					"(read okta's user schema: You do not have permission to perform the requested action",
			},
		},
		{
			name:   "a service app not granted okta.schemas.read",
			setup:  func(t *testing.T, w *world.World) { serviceApp(t, w) },
			code:   exitOK,
			unread: true,
			want: []string{
				"skipped  Okta would not show resetbot its user schema, so check cannot tell whether people can edit secondEmail themselves. " +
					"To have it checked, grant the service app the scope okta.schemas.read (its Okta API Scopes tab) and an admin role that may read the user schema; resetbot itself does not need it. " +
					"(read okta's user schema: okta refused the service app an access token: invalid_scope",
			},
		},
		{
			name: "a service app granted okta.schemas.read",
			setup: func(t *testing.T, w *world.World) {
				serviceApp(t, w)
				w.Okta.GrantScopes(oktafake.ScopeUsersRead, oktafake.ScopeUsersManage, oktafake.ScopeGroupsRead, oktafake.ScopeSchemasRead)
			},
			code: exitOK,
			want: []string{"WARNING  secondEmail, asked last in every system, is one people can edit themselves in Okta"},
		},
		{
			name: "Okta failing to answer",
			setup: func(_ *testing.T, w *world.World) {
				w.Okta.Fail("schema", fake.Fault{Status: http.StatusInternalServerError})
			},
			code: exitFailed,
			want: []string{"FAILED   read okta's user schema: Internal Server Error"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := cliWorld(t)
			if tc.setup != nil {
				tc.setup(t, w)
			}
			r := runCLI(t, w, "check")
			if r.code != tc.code {
				t.Errorf("exit code %d, want %d\n%s", r.code, tc.code, r)
			}
			// The other checks run and pass whatever the schema says.
			for _, want := range []string{"  okta       ok", "  requesters  " + world.ResponderGroup, "resetbot's Okta admin:"} {
				if !strings.Contains(r.stdout, want) {
					t.Errorf("stdout lacks %q\n%s", want, r)
				}
			}
			_, section, ok := strings.Cut(r.stdout, "\nOkta profile attributes other systems are asked under (default user type):\n")
			if !ok {
				t.Fatalf("no section on profile attributes\n%s", r)
			}
			section, _, _ = strings.Cut(section, "\n\n")
			lines := strings.Split(strings.TrimSuffix(section, "\n"), "\n")
			if len(lines) != len(tc.want) {
				t.Fatalf("%d lines, want %d:\n%s", len(lines), len(tc.want), section)
			}
			for i, want := range tc.want {
				if !strings.HasPrefix(lines[i], "  "+want) {
					t.Errorf("line %d:\n  %q\nwant it to start with\n  %q", i, lines[i], "  "+want)
				}
			}
			if n, want := w.Okta.Count("schema"), map[bool]int{false: 1, true: 0}[tc.unread]; n != want {
				t.Errorf("schema reads = %d, want %d", n, want)
			}
			if c := w.RevokeCalls(); !maps.Equal(c, nothing) {
				t.Errorf("check revoked something: %v", c)
			}
			assertNoSecrets(t, w, r)
		})
	}
}
