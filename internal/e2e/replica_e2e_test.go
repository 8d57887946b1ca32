package e2e

import (
	"context"
	"log/slog"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/resetbot/resetbot/internal/app"
	"github.com/resetbot/resetbot/internal/demo"
	"github.com/resetbot/resetbot/internal/fake"
	"github.com/resetbot/resetbot/internal/fake/binary"
	slackfake "github.com/resetbot/resetbot/internal/fake/slack"
	"github.com/resetbot/resetbot/internal/fake/world"
	"github.com/resetbot/resetbot/internal/reset"
	"github.com/resetbot/resetbot/internal/store"
	"github.com/resetbot/resetbot/internal/store/storetest"
)

// startReplica starts another bot on e's world, sharing its database and Slack app.
func (e *e2e) startReplica(name string) *demo.Stage {
	e.t.Helper()
	opt := e.opt
	opt.Replica = name
	st, err := demo.StartStage(e.ctx, e.w, e.logger, opt)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = st.Stop() })
	return st
}

func TestReplicasOnOnePostgresRunAnApprovalOnce(t *testing.T) {
	t.Parallel()
	e := startE2E(t, map[string]string{"RESETBOT_DATABASE_URL": storetest.PostgresURL(t)})
	e.startReplica("second")
	if err := e.w.Slack.WaitConnected(e.ctx, 2); err != nil {
		t.Fatal(err)
	}
	cmdAck := e.mustAck(e.st.Command(e.w.Rita, "alice@example.com"))
	card := e.card(1)
	// Slack spreads envelopes over the app's connections: the click lands on the other one.
	if conn := e.mustAck(e.st.Click(e.w.Sam, card, "approve")).Conn; conn == cmdAck.Conn {
		t.Fatalf("the click reached the command's connection (%d); the fake did not spread envelopes", conn)
	}
	e.summary(card)
	e.cardReads(card, ": done")
	for name, n := range e.revokes() {
		if n != 1 {
			t.Errorf("%s received %d revoke calls; one approval across two replicas must run once", name, n)
		}
	}
	if n := len(e.w.Slack.Snapshot().Thread(card.Channel, card.TS)); n != 1 {
		t.Errorf("%d summaries in the thread; want 1", n)
	}
	if got := kinds(e.audit(demo.RequestID(card))); strings.Count(got, "approved") != 1 || strings.Count(got, "finished") != 1 {
		t.Errorf("audit kinds = %s; want one approval and one finish", got)
	}
}

// TestKilledReplicaIsFinishedByAnother kills, with SIGKILL, the process running a reset while
// one system is slow; the other replica takes the request over once the lease lapses, runs
// only the system without an outcome, and says so in the thread and the audit log.
func TestKilledReplicaIsFinishedByAnother(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	t.Parallel()
	bin := binary.Build(t)
	e := startE2Eless(t, map[string]string{"RESETBOT_DATABASE_URL": storetest.PostgresURL(t)})
	e.w.Zoom.SetLatency("revoke", 5*time.Minute) // holds the first replica mid-reset

	env, home := binary.Env(t, e.w)
	proc := exec.CommandContext(e.ctx, bin, "run", "--lease", "3s", "--replica", "doomed")
	proc.Env, proc.Dir = env, home
	var logs fake.Buffer // written by the process's copier while the test reads it
	proc.Stderr = &logs
	if err := proc.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = proc.Process.Kill(); _ = proc.Wait() })
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the killed replica's log:\n%s", logs.String())
		}
	})
	if err := e.w.Slack.WaitConnected(e.ctx, 1); err != nil {
		t.Fatalf("%v\n%s", err, logs.String())
	}
	e.st = &demo.Stage{World: e.w}
	e.mustAck(e.st.Command(e.w.Rita, "alice@example.com phished"))
	card := e.card(1)
	e.mustAck(e.st.Click(e.w.Sam, card, "approve"))
	// Three systems answer; Zoom hangs.
	e.until("the first replica got going", func() bool {
		return e.w.Okta.Count("revoke")+e.w.Google.Count("revoke")+e.w.Microsoft.Count("revoke") >= 3 && e.w.Zoom.Count("revoke") >= 1
	})
	time.Sleep(200 * time.Millisecond) // let it record the three outcomes
	if err := proc.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = proc.Wait()
	e.w.Zoom.SetLatency("revoke", 0)

	e.st = e.startReplica("survivor")
	sum := e.summary(card)
	e.cardReads(card, ": done")
	for _, want := range []string{"resumed after interruption", "*okta*: revoked", "*google*: revoked", "*zoom*: revoked", "*microsoft*: revoked", "*slack*: revoked"} {
		if !strings.Contains(sum, want) {
			t.Errorf("summary lacks %q:\n%s", want, sum)
		}
	}
	if n := e.w.Okta.Count("revoke"); n != 1 {
		t.Errorf("okta received %d revokes; a system with an outcome must not run again", n)
	}
	events := e.audit(demo.RequestID(card))
	got := kinds(events)
	if !strings.Contains(got, "taken_over") || !strings.HasSuffix(got, "finished") {
		t.Errorf("audit kinds = %s; want the hand-over and the finish", got)
	}
	outcomes := map[string]bool{}
	for _, ev := range events {
		if ev.Kind == "outcome" {
			outcomes[strings.SplitN(ev.Detail, ":", 2)[0]] = true
		}
	}
	if len(outcomes) != 5 {
		t.Errorf("outcomes in the audit log for %v; want every system", outcomes)
	}
}

// approvedOnFirst starts replica "first", has Rita ask for text and Sam approve the card.
func (e *e2e) approvedOnFirst(text string) (*demo.Stage, slackfake.Message) {
	e.t.Helper()
	first := e.startReplica("first")
	if err := e.w.Slack.WaitConnected(e.ctx, 1); err != nil {
		e.t.Fatal(err)
	}
	e.st = first
	e.st.Command(e.w.Rita, text)
	card := e.card(1)
	e.st.Click(e.w.Sam, card, "approve")
	return first, card
}

// startE2Eless is startE2E without a bot of its own: the test starts its replicas itself.
func startE2Eless(t *testing.T, env map[string]string) *e2e {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	w, err := world.Start(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	for k, v := range env {
		w.Set(k, v)
	}
	fast := reset.RetryPolicy{MaxAttempts: 3, BaseDelay: 10 * time.Millisecond, MaxDelay: 50 * time.Millisecond}
	return &e2e{t: t, ctx: ctx, w: w, clock: &testClock{}, logger: slog.New(slog.DiscardHandler),
		opt: app.BotOptions{Sweep: 100 * time.Millisecond, Lease: 3 * time.Second, Retry: &fast}}
}

// TestShutdownReleasesTheLeaseOfAnUnfinishedReset stops a replica (as SIGTERM does) while a
// slow system holds its reset past the grace period: the lease is released on the way out,
// so the next replica finishes the reset at once instead of waiting for the lease to lapse.
func TestShutdownReleasesTheLeaseOfAnUnfinishedReset(t *testing.T) {
	t.Parallel()
	e := startE2Eless(t, nil)
	e.opt.Lease = time.Hour // only a release, never a lapse, can hand this over
	e.w.Zoom.SetLatency("revoke", 5*time.Minute)
	first, card := e.approvedOnFirst("alice@example.com")
	e.until("the reset reached Zoom", func() bool { return e.w.Zoom.Count("revoke") >= 1 })
	if err := first.Stop(); err != nil { // waits out the grace, then releases
		t.Fatal(err)
	}
	if n := len(e.w.Slack.Snapshot().Thread(card.Channel, card.TS)); n != 0 {
		t.Fatalf("%d summaries before the reset finished", n)
	}
	e.w.Zoom.SetLatency("revoke", 0)
	e.st = e.startReplica("second")
	sum := e.summary(card)
	if !strings.Contains(sum, "resumed after interruption") || !strings.Contains(sum, "*zoom*: revoked") {
		t.Errorf("summary after the hand-over:\n%s", sum)
	}
}

func TestInterruptedBatchIsFinishedWithoutRedoingAnyone(t *testing.T) {
	t.Parallel()
	e := startE2Eless(t, nil)
	e.opt.Lease = time.Hour // only a release, never a lapse, can hand this over
	e.opt.Progress = 50 * time.Millisecond
	financeGroup(e, 4) // 6 people
	e.w.Zoom.SetLatency("revoke", 5*time.Minute)
	first, card := e.approvedOnFirst("group:Finance phishing wave")
	// Wait until everyone is signed out of the four quick systems and stuck in Zoom.
	e.until("the batch reached every system for everyone", func() bool {
		got := e.revokes()
		return got["okta"] >= 6 && got["google"] >= 6 && got["zoom"] >= 6 && got["microsoft"] >= 6 && got["slack"] >= 6
	})
	// The card shows each system's answers while Zoom keeps everyone under way.
	var running string
	if err := e.w.Slack.WaitFor(e.ctx, func(sn slackfake.Snapshot) bool {
		m, _ := sn.Message(card.Channel, card.TS)
		running = string(m.Blocks)
		return strings.Contains(running, "0 of 6 people done") && strings.Contains(running, "*microsoft*: 6 revoked")
	}); err != nil {
		t.Errorf("the running card never showed progress: %s", running)
	}
	if err := first.Stop(); err != nil { // waits out the grace, then releases
		t.Fatal(err)
	}
	e.w.Zoom.SetLatency("revoke", 0)
	e.st = e.startReplica("second")
	sum := e.summary(card)
	for _, want := range []string{"Result: done* for 6 people", "resumed after interruption", "*okta*: 6 revoked", "*zoom*: 5 revoked, 1 no account"} {
		if !strings.Contains(sum, want) {
			t.Errorf("summary after the hand-over lacks %q:\n%s", want, sum)
		}
	}
	// Only Zoom ran again: 6 interrupted calls and 6 new ones; nobody was signed out of the
	// other systems twice.
	if got := e.revokes(); got["okta"] != 6 || got["google"] != 6 || got["microsoft"] != 6 || got["slack"] != 6 || got["zoom"] != 12 {
		t.Errorf("revokes = %v; want 6 at okta, google, microsoft and slack, and 12 at zoom", got)
	}
	events := e.audit(demo.RequestID(card))
	if outcomes := countKind(events, store.KindOutcome); outcomes != 6*5 || !strings.Contains(kinds(events), "taken_over") {
		t.Errorf("audit: %d outcomes (want 30: the interrupted Zoom calls are not outcomes), kinds %s", countKind(events, store.KindOutcome), kinds(events))
	}
}

// TestCommandLineBatchLeftRunningIsFinishedByTheBot: a `reset --file` whose process died
// leaves a running batch whose people were never looked up; the bot that takes it over finds
// them in Okta first, and someone Okta does not know ends failed everywhere, not lost.
func TestCommandLineBatchLeftRunningIsFinishedByTheBot(t *testing.T) {
	t.Parallel()
	e := startE2Eless(t, nil)
	db, err := store.Open(e.ctx, e.w.Env()["RESETBOT_DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	req := reset.Request{ID: "cli-batch-0001", Source: "cli", Reason: "campaign", Requester: reset.Actor{Name: "cli:ops"},
		Target:  reset.Target{DisplayName: "2 people from users.txt"},
		Targets: []reset.Target{{Login: e.w.Alice.Email}, {Login: "nobody@example.com"}},
		State:   reset.Pending, CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
	if err := db.Create(e.ctx, req); err != nil {
		t.Fatal(err)
	}
	// Approved by a process whose lease has already lapsed.
	if _, err := db.Approve(e.ctx, req.ID, req.Requester, now, "cli-4242", -time.Second); err != nil {
		t.Fatal(err)
	}
	_ = db.Close()

	e.st = e.startReplica("bot")
	var events []store.Event
	e.until("the batch was finished", func() bool {
		events = e.audit(req.ID)
		return strings.Contains(kinds(events), "finished")
	})
	var alice, nobody []string
	for _, ev := range events {
		switch {
		case ev.Kind == store.KindOutcome && ev.Target == e.w.Alice.Email:
			alice = append(alice, ev.Detail)
		case ev.Kind == store.KindOutcome && strings.Contains(ev.Detail, "could not find them in Okta"):
			nobody = append(nobody, ev.Detail)
		case ev.Kind == store.KindFinished && !strings.HasPrefix(ev.Detail, "partial"):
			t.Errorf("finished %q, want partial", ev.Detail)
		}
	}
	if len(alice) != 5 || len(nobody) != 5 {
		t.Errorf("outcomes: alice %v, nobody %v; want 5 each", alice, nobody)
	}
	if got := e.revokes(); got["okta"] != 1 || got["google"] != 1 || got["zoom"] != 1 || got["microsoft"] != 1 || got["slack"] != 1 {
		t.Errorf("revokes = %v; want Alice signed out once everywhere", got)
	}
}
