package cli

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/resetbot/resetbot/internal/fake/world"
	"github.com/resetbot/resetbot/internal/reset"
	"github.com/resetbot/resetbot/internal/store"
)

// writePeople writes a --file for one test.
func writePeople(t *testing.T, lines ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "users.txt")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// personLines finds the "[i/n] who: …" lines of a batch, by who.
func personLines(stdout string) map[string]string {
	got := map[string]string{}
	for _, l := range strings.Split(stdout, "\n") {
		l = strings.TrimSpace(l)
		if !strings.HasPrefix(l, "[") {
			continue
		}
		_, rest, _ := strings.Cut(l, "] ")
		who, _, _ := strings.Cut(rest, ": ")
		got[who] = rest
	}
	return got
}

// countRow finds the summary row of one system: its counts in column order.
func countRow(stdout, system string) string {
	for _, l := range strings.Split(stdout, "\n") {
		if f := strings.Fields(l); len(f) > 0 && f[0] == system && !strings.Contains(l, ":") {
			return strings.Join(f[1:], " ")
		}
	}
	return ""
}

func TestResetFileSignsOutEveryone(t *testing.T) {
	t.Parallel()
	w := cliWorld(t)
	path := writePeople(t, "# phishing campaign 2026-11-29", w.Alice.Email, "", "  "+w.Bob.Email+"  ", "nobody@example.com", w.Oscar.Email)
	r := runCLI(t, w, "reset", "--file", path, "--reason", "phish")
	if r.code != exitFailed {
		t.Fatalf("want exit 1 (one person is not in Okta):\n%s", r)
	}
	lines := personLines(r.stdout)
	want := map[string]string{
		w.Alice.Email:        "okta revoked, google revoked, zoom revoked, microsoft revoked, slack revoked",
		w.Bob.Email:          "okta revoked, google revoked, zoom no account, microsoft revoked, slack revoked",
		w.Oscar.Email:        "okta revoked, google revoked, zoom revoked, microsoft revoked, slack revoked",
		"nobody@example.com": "nobody in Okta matches",
	}
	if len(lines) != len(want) {
		t.Errorf("got %d person lines, want %d:\n%s", len(lines), len(want), r)
	}
	for who, words := range want {
		if got := lines[who]; got != who+": "+words {
			t.Errorf("line for %s = %q, want %q", who, got, who+": "+words)
		}
	}
	// columns: revoked, no account, failed, skipped, not in okta — each row adds up to 4 people.
	for system, row := range map[string]string{"okta": "3 0 0 0 1", "google": "3 0 0 0 1", "zoom": "2 1 0 0 1", "microsoft": "3 0 0 0 1", "slack": "3 0 0 0 1"} {
		if got := countRow(r.stdout, system); got != row {
			t.Errorf("%s counts %q, want %q:\n%s", system, got, row, r.stdout)
		}
	}
	for _, p := range []world.Person{w.Alice, w.Oscar} {
		if got := w.SignOuts(p); got["okta"] != 1 || got["google"] != 1 || got["zoom"] != 1 || got["microsoft"] != 1 || got["slack"] != 1 {
			t.Errorf("%s signed out %v, want once everywhere", p.Email, got)
		}
	}
	if !strings.Contains(r.stdout, "Result: 1 of 4 people need attention") {
		t.Errorf("missing result line:\n%s", r)
	}
	assertNoSecrets(t, w, r)
}

// TestResetFileSpendsOktaOncePerPerson: everyone in the file is found with one filter for the
// page, not a lookup each, and the plan-free run signs each out with one request.
func TestResetFileSpendsOktaOncePerPerson(t *testing.T) {
	t.Parallel()
	w := cliWorld(t)
	path := writePeople(t, w.Alice.Email, w.Bob.Email, w.Oscar.Email)
	if r := runCLI(t, w, "reset", "--file", path); r.code != exitOK {
		t.Fatalf("want exit 0:\n%s", r)
	}
	got := map[string]int{}
	for _, op := range []string{"lookup", "search", "groups", "members", "revoke"} {
		got[op] = w.Okta.Count(op)
	}
	if want := map[string]int{"lookup": 0, "search": 1, "groups": 0, "members": 0, "revoke": 3}; !maps.Equal(got, want) {
		t.Errorf("okta requests %v, want %v", got, want)
	}
}

func TestResetFileWaitsOutRateLimits(t *testing.T) {
	t.Parallel()
	w := cliWorld(t)
	// Zoom takes one revoke a second; the batch goes faster than that, so it must hear 429s
	// and wait them out rather than fail anyone.
	w.Zoom.SetRateLimit("revoke", 1)
	path := writePeople(t, w.Alice.Email, w.Rita.Email, w.Sam.Email)
	r := runCLI(t, w, "reset", "--file", path, "--rate", "50", "--concurrency", "3")
	if r.code != exitOK {
		t.Fatalf("want exit 0: a rate limit is a wait, not a failure:\n%s", r)
	}
	if got := countRow(r.stdout, "zoom"); got != "3 0 0 0 0" {
		t.Errorf("zoom counts %q, want all 3 revoked:\n%s", got, r.stdout)
	}
	if got := w.Zoom.Count("revoke"); got <= 3 {
		t.Errorf("zoom saw %d revokes, want more than 3 (some answered 429)", got)
	}
	for _, p := range []world.Person{w.Alice, w.Rita, w.Sam} {
		if got := w.Zoom.Revocations(p.Email); got != 1 {
			t.Errorf("zoom revoked %s %d times, want 1", p.Email, got)
		}
	}
}

func TestResetFileRefusesWhatItCannotDo(t *testing.T) {
	t.Parallel()
	w := cliWorld(t)
	empty := writePeople(t, "# nobody yet", "")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "a person and a file", args: []string{"reset", "--file", empty, "alice@example.com"}, want: "--file takes nobody else"},
		{name: "dry run", args: []string{"reset", "--file", empty, "--dry-run"}, want: "no --dry-run"},
		{name: "an empty file", args: []string{"reset", "--file", empty}, want: "names nobody"},
		{name: "a missing file", args: []string{"reset", "--file", filepath.Join(t.TempDir(), "nope.txt")}, want: "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := runCLI(t, w, tt.args...)
			if r.code != exitUsage || !strings.Contains(r.stderr, tt.want) {
				t.Errorf("want exit 2 and %q:\n%s", tt.want, r)
			}
			if got := w.RevokeCalls(); got["okta"]+got["google"]+got["zoom"]+got["microsoft"]+got["slack"] != 0 {
				t.Errorf("revokes reached the fakes: %v", got)
			}
		})
	}
}

func TestResetFileIsOneRequestInTheAuditLog(t *testing.T) {
	t.Parallel()
	w := cliWorld(t)
	path := writePeople(t, w.Alice.Email, w.Bob.Email, "nobody@example.com")
	if r := runCLI(t, w, "reset", "--file", path, "--reason", "campaign 7"); r.code != exitFailed {
		t.Fatalf("want exit 1 (one person is not in Okta):\n%s", r)
	}
	r := runCLI(t, w, "audit", "--json")
	var events []struct {
		RequestID string
		Kind      string
		Target    string
		Reason    string
		Detail    string
	}
	if err := json.Unmarshal([]byte(r.stdout), &events); err != nil {
		t.Fatalf("audit --json: %v\n%s", err, r)
	}
	requests := map[string]bool{}
	byKind := map[string][]string{}
	for _, e := range events {
		requests[e.RequestID] = true
		byKind[e.Kind] = append(byKind[e.Kind], e.Target+" "+e.Detail)
	}
	if len(requests) != 1 || len(byKind["requested"]) != 1 || len(byKind["approved"]) != 1 || len(byKind["finished"]) != 1 {
		t.Errorf("want one request with one requested, approved and finished event; got %d requests, %v", len(requests), byKind)
	}
	if got := byKind["requested"]; len(got) == 1 && !strings.Contains(got[0], "3 people") {
		t.Errorf("the request is named %q, want it to say 3 people", got[0])
	}
	// 3 people × 5 systems: the person Okta does not know failed everywhere, in Okta's words,
	// as a batch from Slack records it.
	if got := len(byKind["outcome"]); got != 3*5 {
		t.Errorf("%d outcome events, want 15:\n%s", got, strings.Join(byKind["outcome"], "\n"))
	}
	outcomes := strings.Join(byKind["outcome"], "\n")
	for _, want := range []string{w.Bob.Email + " zoom: no account", w.Alice.Email + " zoom: revoked", "nobody@example.com zoom: failed — could not find them in Okta"} {
		if !strings.Contains(outcomes, want) {
			t.Errorf("outcome events lack %q:\n%s", want, outcomes)
		}
	}
	if got := byKind["finished"]; len(got) == 1 && !strings.Contains(got[0], " partial: okta 2 revoked, 1 failed;") {
		t.Errorf("finished %q, want partial with every system's counts", got[0])
	}
	// The whole batch as a spreadsheet: a header and one row per event, every outcome there.
	var id string
	for r := range requests {
		id = r
	}
	csvOut := runCLI(t, w, "audit", "--request", id, "--csv")
	rows, err := csv.NewReader(strings.NewReader(csvOut.stdout)).ReadAll()
	if err != nil || csvOut.code != exitOK {
		t.Fatalf("audit --csv: %v\n%s", err, csvOut)
	}
	if len(rows) != 1+len(events) || strings.Join(rows[0], ",") != "time_utc,request,event,actor,target,reason,detail" {
		t.Errorf("csv has %d rows (want a header and %d events), header %v", len(rows), len(events), rows[0])
	}
	zoomRows := 0
	for _, row := range rows[1:] {
		if row[2] == "outcome" && strings.HasPrefix(row[6], "zoom: ") {
			zoomRows++
		}
	}
	if zoomRows != 3 {
		t.Errorf("csv has %d zoom outcome rows, want one per person (3):\n%s", zoomRows, csvOut.stdout)
	}
	// One person's story is found by their address.
	bob := runCLI(t, w, "audit", "--target", w.Bob.Email)
	if !strings.Contains(bob.stdout, "zoom: no account") || strings.Contains(bob.stdout, "nobody@example.com") {
		t.Errorf("audit --target %s:\n%s", w.Bob.Email, bob)
	}
}

// TestCommandLineBatchKeepsItsLeaseWhileItRuns: a `reset --file` running longer than its lease
// renews it, so a bot replica sharing the database, trying to take over lapsed requests all the
// while, never takes over one still running in a terminal, and nobody is signed out twice.
func TestCommandLineBatchKeepsItsLeaseWhileItRuns(t *testing.T) {
	t.Parallel()
	w := cliWorld(t)
	w.Zoom.SetLatency("revoke", time.Second) // three people one at a time: over 3 s, three leases
	path := writePeople(t, w.Alice.Email, w.Bob.Email, w.Oscar.Email)
	const lease = time.Second

	replica, err := store.Open(t.Context(), w.Env()["RESETBOT_DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	defer replica.Close()
	ctx, stop := context.WithCancel(t.Context())
	var taken atomic.Int32
	sweeping := make(chan struct{})
	go func() {
		defer close(sweeping)
		for ctx.Err() == nil {
			got, err := replica.TakeOver(ctx, "bot-replica", time.Minute)
			if err == nil {
				taken.Add(int32(len(got)))
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()

	var out, errb bytes.Buffer
	code := Main(t.Context(), []string{"reset", "--file", path, "--concurrency", "1", "--reason", "campaign"},
		Env{Getenv: w.Getenv, Stdout: &out, Stderr: &errb, Roots: w.Roots, Lease: lease})
	stop()
	<-sweeping
	r := cliRun{code: code, stdout: out.String(), stderr: errb.String()}
	if r.code != exitOK || r.stderr != "" {
		t.Fatalf("want exit 0 and no warning:\n%s", r)
	}
	if n := taken.Load(); n != 0 {
		t.Errorf("a replica took over %d request(s) while the command was running", n)
	}
	for _, p := range []world.Person{w.Alice, w.Bob, w.Oscar} {
		if got := w.SignOuts(p); got["okta"] != 1 || got["google"] != 1 || got["microsoft"] != 1 || got["slack"] != 1 {
			t.Errorf("%s signed out %v, want once in each system", p.Email, got)
		}
	}
	audit := runCLI(t, w, "audit")
	if strings.Contains(audit.stdout, "taken_over") || !strings.Contains(audit.stdout, "finished") {
		t.Errorf("audit log should show the batch finished by the command alone:\n%s", audit)
	}
}

// TestInterruptedCommandLineBatchIsLeftForAReplica: a `reset --file` stopped halfway (Ctrl-C)
// says so and leaves its request open with its lease released, so a replica sharing the
// database takes it over at once to finish it, rather than the batch staying half-done.
func TestInterruptedCommandLineBatchIsLeftForAReplica(t *testing.T) {
	t.Parallel()
	w := cliWorld(t)
	w.Zoom.SetLatency("revoke", time.Second)
	path := writePeople(t, w.Alice.Email, w.Bob.Email, w.Oscar.Email)

	ctx, interrupt := context.WithCancel(t.Context())
	go func() {
		for w.Zoom.Count("revoke") == 0 && ctx.Err() == nil {
			time.Sleep(10 * time.Millisecond)
		}
		interrupt()
	}()
	var out, errb bytes.Buffer
	code := Main(ctx, []string{"reset", "--file", path, "--concurrency", "1", "--reason", "campaign"},
		Env{Getenv: w.Getenv, Stdout: &out, Stderr: &errb, Roots: w.Roots}) // the lease: two minutes
	r := cliRun{code: code, stdout: out.String(), stderr: errb.String()}
	if r.code == exitOK || !strings.Contains(r.stderr, "interrupted: request ") || !strings.Contains(r.stderr, "`resetbot run` on this RESETBOT_DATABASE_URL finishes what is left") {
		t.Fatalf("want a failing exit and the interruption explained:\n%s", r)
	}
	for _, p := range []world.Person{w.Alice, w.Bob, w.Oscar} {
		if !strings.Contains(r.stdout, "[-] "+p.Email+": interrupted") {
			t.Errorf("%s is not shown as interrupted:\n%s", p.Email, r)
		}
	}
	audit := runCLI(t, w, "audit")
	if strings.Contains(audit.stdout, "finished") {
		t.Errorf("the interrupted batch is recorded as finished:\n%s", audit)
	}

	replica, err := store.Open(t.Context(), w.Env()["RESETBOT_DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	defer replica.Close()
	got, err := replica.TakeOver(t.Context(), "bot-replica", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || len(got[0].Targets) != 3 {
		t.Fatalf("took over %+v, want the one batch of 3", got)
	}
	// What the replica finds done: sign-outs that happened, never the interruption's failures,
	// so it runs Zoom (cut short) and everyone else again.
	done, err := replica.PersonOutcomes(t.Context(), got[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	for person, outcomes := range done {
		for _, o := range outcomes {
			if o.Status == reset.Failed || o.Provider == "zoom" || person != w.Alice.Email {
				t.Errorf("recorded %s %s: %s, want only Alice's sign-outs that happened", person, o.Provider, o.Status)
			}
		}
	}
}
