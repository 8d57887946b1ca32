package e2e

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/resetbot/resetbot/internal/demo"
	"github.com/resetbot/resetbot/internal/fake"
	"github.com/resetbot/resetbot/internal/fake/binary"
	slackfake "github.com/resetbot/resetbot/internal/fake/slack"
	"github.com/resetbot/resetbot/internal/fake/world"
	"github.com/resetbot/resetbot/internal/reset"
	"github.com/resetbot/resetbot/internal/store"
	"github.com/resetbot/resetbot/internal/store/storetest"
)

// The soak runs two `resetbot run` processes on one PostgreSQL database against the fakes,
// under a steady mix of slash commands, clicks and Okta event deliveries, while the fakes hang,
// refuse (429), fail (5xx) and drop connections at random and one replica is killed with
// SIGKILL and started again every few periods. Then it stops the load and the faults and
// checks what an operator would: every request ended, nothing ran twice (one end, one summary,
// at most one answer per system and person), every accepted Okta event ended, and the replica
// that was never killed is back to its goroutines and heap from before the load.

// soakPlan is how hard and how long a soak pushes.
type soakPlan struct {
	Load      time.Duration // how long commands and deliveries are issued
	KillEvery time.Duration
	Every     time.Duration // one command or delivery this often
}

func TestSoak60s(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two resetbot processes for a minute")
	}
	t.Parallel()
	r := runSoak(t, soakPlan{Load: 60 * time.Second, KillEvery: 20 * time.Second, Every: 400 * time.Millisecond})
	t.Log("\n" + r.table())
	r.assert(t)
}

// BenchmarkSoak is the long soak: RESETBOT_SOAK=30m sets how long the load lasts (60s when
// unset); a replica is killed every tenth of it, and at least every three minutes.
//
//	RESETBOT_SOAK=30m RESETBOT_TEST_DATABASE_URL=... go test -run '^$' -bench Soak -benchtime 1x -timeout 60m ./internal/e2e/
func BenchmarkSoak(b *testing.B) {
	load := 60 * time.Second
	if v := os.Getenv("RESETBOT_SOAK"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			b.Fatalf("RESETBOT_SOAK=%q: %v", v, err)
		}
		load = d
	}
	for b.Loop() {
		r := runSoak(b, soakPlan{Load: load, KillEvery: min(max(load/10, 20*time.Second), 3*time.Minute), Every: 400 * time.Millisecond})
		fmt.Println(r.table()) // b.Log keeps only a benchmark's first ten lines
		r.assert(b)
		b.ReportMetric(float64(r.requests()), "requests")
		b.ReportMetric(float64(r.kills), "kills")
		b.ReportMetric(r.end.goroutines-r.base.goroutines, "goroutines-grown")
		b.ReportMetric(r.end.heap/r.base.heap, "heap-end/base")
	}
}

// soakFaults is what the fault loop picks from: a system's operation and what happens to one
// call of it. Hangs end when the fault loop releases them, a few seconds later; an Okta lookup
// held 12 s outlasts the bot's 10 s step deadline, so its requester is told privately.
var soakFaults = []struct {
	name, system, op string
	fault            fake.Fault
	hold             time.Duration
}{
	{"429", "google", "revoke", fake.Fault{Status: http.StatusTooManyRequests, Header: http.Header{"Retry-After": {"1"}}}, 0},
	{"429", "zoom", "revoke", fake.Fault{Status: http.StatusTooManyRequests, Header: http.Header{"Retry-After": {"1"}}}, 0},
	{"429", "microsoft", "revoke", fake.Fault{Status: http.StatusTooManyRequests, Header: http.Header{"Retry-After": {"1"}}}, 0},
	{"429", "okta", "revoke", fake.Fault{Status: http.StatusTooManyRequests}, 0},
	{"429", "slack", "admin.users.session.reset", fake.Fault{Status: http.StatusTooManyRequests, Header: http.Header{"Retry-After": {"1"}}}, 0},
	{"429", "slack", "chat.postMessage", fake.Fault{Status: http.StatusTooManyRequests, Header: http.Header{"Retry-After": {"1"}}}, 0},
	{"5xx", "google", "revoke", fake.Fault{Status: http.StatusServiceUnavailable}, 0},
	{"5xx", "zoom", "revoke", fake.Fault{Status: http.StatusBadGateway}, 0},
	{"5xx", "microsoft", "revoke", fake.Fault{Status: http.StatusServiceUnavailable}, 0},
	{"5xx", "okta", "revoke", fake.Fault{Status: http.StatusInternalServerError}, 0},
	{"5xx", "okta", "lookup", fake.Fault{Status: http.StatusServiceUnavailable}, 0},
	{"dropped", "google", "revoke", fake.Fault{Drop: true}, 0},
	{"dropped", "zoom", "revoke", fake.Fault{Drop: true}, 0},
	{"dropped", "microsoft", "revoke", fake.Fault{Drop: true}, 0},
	{"dropped", "okta", "lookup", fake.Fault{Drop: true}, 0},
	{"dropped", "slack", "chat.update", fake.Fault{Drop: true}, 0},
	{"slow", "zoom", "revoke", fake.Fault{Delay: 3 * time.Second}, 0},
	{"slow", "slack", "chat.postMessage", fake.Fault{Delay: 2 * time.Second}, 0},
	{"hang", "microsoft", "revoke", fake.Fault{Hang: true}, 6 * time.Second},
	{"hang", "google", "revoke", fake.Fault{Hang: true}, 4 * time.Second},
	{"hang", "okta", "lookup", fake.Fault{Hang: true}, 12 * time.Second},
	{"hang", "slack", "users.info", fake.Fault{Hang: true}, 3 * time.Second},
}

// soakScript is the part of a fake the fault loop programs.
type soakScript interface {
	Fail(op string, faults ...fake.Fault)
	Release(op string)
}

// soakMetrics is what the steady replica's /metrics says about its own process.
type soakMetrics struct{ goroutines, heap, rss float64 }

type soakReplica struct {
	name, addr string
	bin, dir   string
	env        []string
	log        *os.File
	cmd        *exec.Cmd
}

func (r *soakReplica) start(ctx context.Context) error {
	cmd := exec.Command(r.bin, "run", "--lease", "5s", "--grace", "2s", "--event-timeout", "5s", "--replica", r.name)
	cmd.Env = append(slices.Clone(r.env), "RESETBOT_HTTP_ADDR="+r.addr)
	cmd.Dir, cmd.Stdout, cmd.Stderr = r.dir, r.log, r.log
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start replica %s: %w", r.name, err)
	}
	r.cmd = cmd
	for ctx.Err() == nil {
		if status, _, err := get(ctx, "http://"+r.addr+"/readyz"); err == nil && status == http.StatusOK {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("replica %s never became ready", r.name)
}

func (r *soakReplica) signal(sig os.Signal) {
	if r.cmd != nil {
		_ = r.cmd.Process.Signal(sig)
		_ = r.cmd.Wait()
		r.cmd = nil
	}
}

func (r *soakReplica) metrics(ctx context.Context) (soakMetrics, error) {
	status, body, err := get(ctx, "http://"+r.addr+"/metrics")
	if err != nil || status != http.StatusOK {
		return soakMetrics{}, fmt.Errorf("scrape %s: %d %v", r.name, status, err)
	}
	m := parseMetrics(body)
	return soakMetrics{goroutines: m["go_goroutines"], heap: m["go_memstats_heap_inuse_bytes"], rss: m["process_resident_memory_bytes"]}, nil
}

func get(ctx context.Context, url string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, string(b), err
}

// soak is one run: the world, the replicas, and what was done to them.
type soak struct {
	tb       testing.TB
	ctx      context.Context
	w        *world.World
	st       *store.Store
	people   []world.Person
	replicas [2]*soakReplica // [0] is never killed; [1] is killed every KillEvery

	mu           sync.Mutex
	rng          *rand.Rand
	commands     int
	deliveries   int
	redelivered  int
	refusedPosts int // deliveries a replica did not take (killed, starting), posted again
	uuids        []string
	clicks       int
	clickedAgain int
	clicked      map[string]time.Time // request id → last click
	ended        map[string]bool      // request ids known to be final
	kills        int
	faults       map[string]int
	base, end    soakMetrics
	elapsed      time.Duration
	problems     []string
	states       map[reset.State]int
	eventStates  map[string]int
	revokeCalls  int
	answers      int
	takenOver    int
	fromCommands int
}

func (s *soak) intn(n int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rng.IntN(n)
}

func (s *soak) problemf(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.problems = append(s.problems, fmt.Sprintf(format, args...))
}

func runSoak(tb testing.TB, plan soakPlan) *soak {
	dbURL := storetest.PostgresURL(tb)
	bin := binary.Build(tb)
	ctx, cancel := context.WithTimeout(context.Background(), plan.Load+15*time.Minute)
	tb.Cleanup(cancel)
	w, err := world.Start(tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(w.Close)
	for k, v := range map[string]string{
		"RESETBOT_DATABASE_URL":              dbURL,
		"RESETBOT_OKTA_HOOK_SECRET":          hookSecret,
		"RESETBOT_ALERT_CHANNEL":             alertChannel,
		"RESETBOT_EVENT_SUSPICIOUS_ACTIVITY": "approve",
		"RESETBOT_EVENT_SUSPEND":             "auto",
		"RESETBOT_REQUEST_TTL":               "2m", // a card whose process died before it was posted ends soon
		"RESETBOT_LOG_LEVEL":                 "warn",
	} {
		w.Set(k, v)
	}
	w.Slack.AddChannel(slackfake.Channel{ID: alertChannel, Name: "security-alerts", Member: true})
	s := &soak{tb: tb, ctx: ctx, w: w, rng: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7)),
		clicked: map[string]time.Time{}, ended: map[string]bool{}, faults: map[string]int{},
		states: map[reset.State]int{}, eventStates: map[string]int{}}
	for i := range 40 {
		email := fmt.Sprintf("soak%02d@example.com", i)
		p := w.AddPerson("Soak", fmt.Sprintf("P%02d", i), email, fmt.Sprintf("U0SOAK%02d", i), false)
		w.Zoom.AddUser(email)
		s.people = append(s.people, p)
	}
	env, home := binary.Env(tb, w)
	for i, name := range []string{"steady", "flaky"} {
		f, err := os.Create(filepath.Join(tb.TempDir(), name+".log"))
		if err != nil {
			tb.Fatal(err)
		}
		r := &soakReplica{name: name, addr: freeAddr(tb), bin: bin, dir: home, env: env, log: f}
		s.replicas[i] = r
		tb.Cleanup(func() {
			r.signal(syscall.SIGKILL)
			if tb.Failed() {
				b, _ := os.ReadFile(f.Name())
				tb.Logf("replica %s's log (warnings and errors):\n%s", name, tail(string(b), 40))
			}
			_ = f.Close()
		})
		if err := r.start(ctx); err != nil {
			tb.Fatal(err)
		}
	}
	if s.st, err = store.Open(ctx, dbURL); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = s.st.Close() })

	// Warm up without faults, so the baseline is a replica that has done its first resets.
	clickerCtx, stopClicker := context.WithCancel(ctx)
	clicking := s.goLoop(clickerCtx, 200*time.Millisecond, s.clickCards)
	var deliveries sync.WaitGroup
	for range 6 {
		s.issue(&deliveries)
		time.Sleep(plan.Every)
	}
	deliveries.Wait()
	s.drain(time.Minute)
	s.base = s.settled(soakMetrics{}, 3*time.Second)

	started := time.Now()
	loadCtx, stopLoad := context.WithTimeout(ctx, plan.Load)
	faulting := s.goLoop(loadCtx, 1500*time.Millisecond, s.injectFault)
	killing := s.goLoop(loadCtx, plan.KillEvery, s.killFlaky)
	issuing := s.goLoop(loadCtx, plan.Every, func() { s.issue(&deliveries) })
	<-loadCtx.Done()
	stopLoad()
	issuing.Wait()
	faulting.Wait()
	killing.Wait()
	deliveries.Wait()
	for _, f := range s.scripts() {
		f.Release("")
	}
	if s.replicas[1].cmd == nil {
		if err := s.replicas[1].start(ctx); err != nil {
			tb.Fatal(err)
		}
	}
	s.drain(4 * time.Minute)
	stopClicker()
	clicking.Wait()
	s.elapsed = time.Since(started)
	s.end = s.settled(s.base, 100*time.Second) // past the transports' 90 s idle-connection timeout
	s.check()
	s.replicas[1].signal(syscall.SIGTERM)
	s.replicas[0].signal(syscall.SIGTERM)
	return s
}

func freeAddr(tb testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func tail(s string, lines int) string {
	all := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(all[max(0, len(all)-lines):], "\n")
}

// goLoop calls f every period until ctx ends.
func (s *soak) goLoop(ctx context.Context, period time.Duration, f func()) *sync.WaitGroup {
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				f()
			}
		}
	})
	return &wg
}

func (s *soak) scripts() map[string]soakScript {
	return map[string]soakScript{"okta": s.w.Okta, "google": s.w.Google, "zoom": s.w.Zoom, "microsoft": s.w.Microsoft, "slack": s.w.Slack}
}

// issue sends one thing a responder or Okta would: mostly a slash command, else an event
// delivery (a suspicious-activity report, which asks for approval, or a suspension Okta
// confirms, which signs the person out at once).
func (s *soak) issue(deliveries *sync.WaitGroup) {
	p := s.people[s.intn(len(s.people))]
	switch n := s.intn(20); {
	case n < 13:
		demo.SendCommand(s.w, s.w.Rita, p.Email+" soak")
		s.mu.Lock()
		s.commands++
		s.mu.Unlock()
	case n < 17:
		ev := hookEvent{s.uuid(), "user.account.report_suspicious_activity_by_enduser", "User report suspicious activity", p.OktaID, p.Email, p}
		deliveries.Go(func() { s.deliver(ev) })
	default:
		s.w.Okta.SetStatus(p.OktaID, "SUSPENDED")
		ev := hookEvent{s.uuid(), "user.lifecycle.suspend", "Suspend Okta user", hookAdminID, hookAdmin, p}
		deliveries.Go(func() { s.deliver(ev) })
	}
}

func (s *soak) uuid() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", s.rng.Uint32(), s.rng.IntN(1<<16), s.rng.IntN(1<<12), s.rng.IntN(1<<12), s.rng.Uint64()&(1<<48-1))
}

// deliver posts ev as Okta would: to any replica, again on a refusal or a dropped connection,
// and now and then a second time although the first was taken (Okta delivers at least once).
func (s *soak) deliver(ev hookEvent) {
	body := hookDelivery(ev)
	first := s.intn(2)
	accepted := false
	for attempt := 0; attempt < 30 && !accepted && s.ctx.Err() == nil; attempt++ {
		if attempt > 0 {
			s.mu.Lock()
			s.refusedPosts++
			s.mu.Unlock()
			time.Sleep(time.Second)
		}
		accepted = s.post(s.replicas[(first+attempt)%2], body)
	}
	if !accepted {
		s.problemf("event %s: no replica took it in 30 tries", ev.uuid)
		return
	}
	again := s.intn(5) == 0
	if again {
		s.post(s.replicas[(first+1)%2], body)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deliveries++
	s.uuids = append(s.uuids, ev.uuid)
	if again {
		s.redelivered++
	}
}

func (s *soak) post(r *soakReplica, body string) bool {
	ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+r.addr+"/hooks/okta", strings.NewReader(body))
	if err != nil {
		return false
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", hookSecret)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, res.Body)
	return res.StatusCode == http.StatusOK
}

// clickCards is the approvers: every card whose location is stored gets a click from Sam, one
// in eight a Cancel; a card still waiting 15 s after its click (the click went to a replica
// that was killed) is clicked again, as a person would.
func (s *soak) clickCards() {
	for _, m := range s.w.Slack.Messages() {
		id := demo.RequestID(m)
		if m.ThreadTS != "" || id == "" {
			continue
		}
		s.mu.Lock()
		last, done := s.clicked[id], s.ended[id]
		s.mu.Unlock()
		if done || (!last.IsZero() && time.Since(last) < 15*time.Second) {
			continue
		}
		req, err := s.st.Get(s.ctx, id)
		if err != nil {
			continue
		}
		if req.State.Terminal() {
			s.mu.Lock()
			s.ended[id] = true
			s.mu.Unlock()
			continue
		}
		if req.State != reset.Pending || req.MessageTS != m.TS {
			continue
		}
		action := "approve"
		if len(id) > 0 && id[len(id)-1]%8 == 0 {
			action = "cancel"
		}
		demo.ClickCard(s.w, s.w.Sam, m, action)
		s.mu.Lock()
		s.clicks++
		if !last.IsZero() {
			s.clickedAgain++
		}
		s.clicked[id] = time.Now()
		s.mu.Unlock()
	}
}

func (s *soak) injectFault() {
	f := soakFaults[s.intn(len(soakFaults))]
	sc := s.scripts()[f.system]
	sc.Fail(f.op, f.fault)
	if f.hold > 0 {
		time.AfterFunc(f.hold, func() { sc.Release(f.op) })
	}
	s.mu.Lock()
	s.faults[f.name]++
	s.mu.Unlock()
}

// killFlaky kills the flaky replica with SIGKILL and starts it again a second later.
func (s *soak) killFlaky() {
	r := s.replicas[1]
	r.signal(syscall.SIGKILL)
	s.mu.Lock()
	s.kills++
	s.mu.Unlock()
	time.Sleep(time.Second)
	if err := r.start(s.ctx); err != nil {
		s.problemf("%v", err)
	}
}

// drain waits until every request in the store and every accepted event has ended.
func (s *soak) drain(limit time.Duration) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) && s.ctx.Err() == nil {
		if s.open() == 0 {
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// open counts the requests and events that have not ended.
func (s *soak) open() int {
	reqs, err := s.st.Recent(s.ctx, 1<<20)
	if err != nil {
		return -1
	}
	n := 0
	for _, r := range reqs {
		if !r.State.Terminal() {
			n++
		}
	}
	s.mu.Lock()
	uuids := slices.Clone(s.uuids)
	s.mu.Unlock()
	for _, u := range uuids {
		if ev, err := s.st.Event(s.ctx, u); err != nil || ev.State == store.EventPending {
			n++
		}
	}
	return n
}

// settled scrapes the steady replica until its goroutines are back within a few of base's (or
// patience runs out) and returns the lowest figures seen: idle connections to the fakes close
// on their own clock (90 s unused), so the first scrapes after the load may still count them.
func (s *soak) settled(base soakMetrics, patience time.Duration) soakMetrics {
	low := soakMetrics{}
	for end := time.Now().Add(patience); ; {
		m, err := s.replicas[0].metrics(s.ctx)
		if err == nil {
			if low.goroutines == 0 || m.goroutines < low.goroutines {
				low.goroutines = m.goroutines
			}
			if low.heap == 0 || m.heap < low.heap {
				low.heap = m.heap
			}
			if low.rss == 0 || m.rss < low.rss {
				low.rss = m.rss
			}
		}
		if time.Now().After(end) || (base.goroutines > 0 && low.goroutines <= base.goroutines+soakGoroutineSlack) {
			return low
		}
		time.Sleep(time.Second)
	}
}

// soakGoroutineSlack is how many more goroutines than before the load the steady replica may
// keep: a few more idle keep-alive connections to the fakes (two goroutines each). A leak of one
// per request would be hundreds.
const soakGoroutineSlack = 16

// check reads the store, the audit log and Slack as an operator would after the soak.
func (s *soak) check() {
	reqs, err := s.st.Recent(s.ctx, 1<<20)
	if err != nil {
		s.problemf("read the requests: %v", err)
		return
	}
	msgs := s.w.Slack.Messages()
	cards := map[string]int{}
	threads := map[string]int{}
	for _, m := range msgs {
		if m.ThreadTS == "" {
			if id := demo.RequestID(m); id != "" {
				cards[id]++
			}
		} else {
			threads[m.Channel+"/"+m.ThreadTS]++
		}
	}
	fromEvent := map[string]int{}
	for _, r := range reqs {
		s.states[r.State]++
		if r.Source == "slack" {
			s.fromCommands++
		}
		if uuid, ok := strings.CutPrefix(r.Source, "okta-event:"); ok {
			fromEvent[uuid]++
		}
		if !r.State.Terminal() {
			s.problemf("request %s is still %s", r.ID, r.State)
			continue
		}
		if cards[r.ID] > 1 {
			s.problemf("request %s has %d cards", r.ID, cards[r.ID])
		}
		events, err := s.st.Audit(s.ctx, store.Filter{RequestID: r.ID})
		if err != nil {
			s.problemf("audit of %s: %v", r.ID, err)
			continue
		}
		ran := r.State != reset.Cancelled && r.State != reset.Expired
		if n := countKind(events, store.KindFinished); (ran && n != 1) || (!ran && n != 0) {
			s.problemf("request %s (%s) finished %d times in the audit log", r.ID, r.State, n)
		}
		s.takenOver += countKind(events, store.KindTakenOver)
		answered := map[string]int{}
		for _, ev := range events {
			if ev.Kind == store.KindOutcome {
				system, _, _ := strings.Cut(ev.Detail, ":")
				answered[ev.Target+" "+system]++
				s.answers++
			}
		}
		for k, n := range answered {
			if n > 1 {
				s.problemf("request %s: %d answers for %s", r.ID, n, k)
			}
		}
		if summaries := threads[r.Channel+"/"+r.MessageTS]; ran && r.MessageTS != "" && summaries != 1 {
			s.problemf("request %s (%s): %d summaries in its thread", r.ID, r.State, summaries)
		}
	}
	for uuid, n := range fromEvent {
		if n > 1 {
			s.problemf("event %s became %d requests", uuid, n)
		}
	}
	s.mu.Lock()
	uuids := slices.Clone(s.uuids)
	s.mu.Unlock()
	for _, u := range uuids {
		ev, err := s.st.Event(s.ctx, u)
		if err != nil {
			s.problemf("event %s was taken but is not in the inbox: %v", u, err)
			continue
		}
		s.eventStates[ev.State]++
		if ev.State == store.EventPending {
			s.problemf("event %s is still pending (%d attempts)", u, ev.Attempts)
		}
	}
	for _, n := range s.w.RevokeCalls() {
		s.revokeCalls += n
	}
	if s.end.goroutines > s.base.goroutines+soakGoroutineSlack {
		s.problemf("the steady replica kept %v goroutines after the load; %v before", s.end.goroutines, s.base.goroutines)
	}
	if s.end.heap > 2*s.base.heap+8<<20 {
		s.problemf("the steady replica's heap in use is %.1f MB after the load; %.1f MB before", s.end.heap/(1<<20), s.base.heap/(1<<20))
	}
}

func (s *soak) requests() int {
	n := 0
	for _, c := range s.states {
		n += c
	}
	return n
}

func (s *soak) assert(tb testing.TB) {
	tb.Helper()
	if s.requests() == 0 || s.answers == 0 {
		tb.Errorf("the soak made %d requests and %d answers; it did nothing", s.requests(), s.answers)
	}
	if s.kills == 0 {
		tb.Error("no replica was killed")
	}
	for _, p := range s.problems {
		tb.Error(p)
	}
}

// table is the soak's result as docs/benchmarks.md shows it.
func (s *soak) table() string {
	var b strings.Builder
	row := func(k, format string, args ...any) { fmt.Fprintf(&b, "| %s | %s |\n", k, fmt.Sprintf(format, args...)) }
	b.WriteString("| figure | value |\n| --- | --- |\n")
	row("load, then until everything ended", "%s", s.elapsed.Round(time.Second))
	row("slash commands", "%d", s.commands)
	row("commands that made no request (Okta held past the step deadline: told privately; or a replica killed first)", "%d", s.commands-s.fromCommands)
	row("Okta event deliveries taken (of them delivered twice)", "%d (%d)", s.deliveries, s.redelivered)
	row("deliveries a replica did not take, posted again", "%d", s.refusedPosts)
	row("clicks (again, after a click a killed replica took)", "%d (%d)", s.clicks, s.clickedAgain)
	row("replica killed with SIGKILL and started again", "%d times", s.kills)
	row("faults injected", "%s", counts(s.faults))
	row("requests and their end", "%d: %s", s.requests(), counts(s.states))
	row("Okta events and their end", "%s", counts(s.eventStates))
	row("requests taken over from the killed replica", "%d", s.takenOver)
	row("answers stored / revoke calls that reached the systems", "%d / %d", s.answers, s.revokeCalls)
	row("not ended, or ended, announced or answered twice", "%d", len(s.problems))
	row("steady replica goroutines, before → after", "%.0f → %.0f", s.base.goroutines, s.end.goroutines)
	row("steady replica heap in use, before → after", "%.1f → %.1f MB", s.base.heap/(1<<20), s.end.heap/(1<<20))
	row("steady replica RSS, before → after", "%.1f → %.1f MB", s.base.rss/(1<<20), s.end.rss/(1<<20))
	return b.String()
}

func counts[K cmp.Ordered](m map[K]int) string {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%v %d", k, m[k]))
	}
	return cmp.Or(strings.Join(parts, ", "), "none")
}
