package hook

import (
	"errors"
	"path/filepath"

	"github.com/resetbot/resetbot/internal/fake"
	"github.com/resetbot/resetbot/internal/hook/hooktest"
	"github.com/resetbot/resetbot/internal/store"

	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/resetbot/resetbot/bot"
	"github.com/resetbot/resetbot/internal/reset"
)

const (
	testSecret = "s3cr3t-okta-hook-value-0123456789"
	alertChan  = "C0ALERTS"
	aliceID    = "00u1alice0000000000"
	adminID    = "00u1qw6mqitPHM8AJ0g7"
)

// person is an Okta actor or target as a LogEvent names it.
type person = hooktest.Person

var (
	alice = person{ID: aliceID, Login: "alice@example.com", Name: "Alice Example"}
	admin = person{ID: adminID, Login: "admin@example.com", Name: "Example Admin"}
)

// submitter records submissions and refuses a repeated source as the bot does; it fails the
// first failures calls with fail, as a bot whose Okta or Slack is down does.
type submitter struct {
	mu       sync.Mutex
	got      []bot.Submission
	seen     map[string]bool
	calls    int
	failures int
	fail     error
}

func (s *submitter) Submit(ctx context.Context, sub bot.Submission) (reset.Request, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.calls <= s.failures {
		return reset.Request{}, s.fail
	}
	if s.seen == nil {
		s.seen = map[string]bool{}
	}
	if s.seen[sub.Source] {
		return reset.Request{}, fmt.Errorf("store request from %s: %w", sub.Source, bot.ErrDuplicate)
	}
	s.seen[sub.Source] = true
	s.got = append(s.got, sub)
	req := reset.Request{ID: fmt.Sprintf("req%d", len(s.got)), State: reset.Pending}
	if sub.Auto {
		req.State = reset.Running
	}
	return req, nil
}

func (s *submitter) submissions() []bot.Submission {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]bot.Submission(nil), s.got...)
}

// counts records what the hook counted, and lets a test wait for the work after the 200.
type counts struct {
	mu       sync.Mutex
	requests map[string]int
	events   map[string]int
	changed  chan struct{}
}

func newCounts() *counts {
	return &counts{requests: map[string]int{}, events: map[string]int{}, changed: make(chan struct{}, 1)}
}

func (c *counts) HookRequest(result string) {
	c.mu.Lock()
	c.requests[result]++
	c.mu.Unlock()
}

func (c *counts) HookEvent(eventType, result string) {
	c.mu.Lock()
	c.events[eventType+" "+result]++
	c.mu.Unlock()
	select {
	case c.changed <- struct{}{}:
	default:
	}
}

func (c *counts) InboxDepth(int, time.Duration) {}

func (c *counts) requestCounts() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.requests)
}

// waitEvents waits until n events in all have been decided on: at the door, or by the
// worker once they were queued (queued and retried are steps, not decisions).
func (c *counts) waitEvents(t *testing.T, n int) map[string]int {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		c.mu.Lock()
		total := 0
		for k, v := range c.events {
			if !strings.HasSuffix(k, " queued") && !strings.HasSuffix(k, " retried") {
				total += v
			}
		}
		snapshot := maps.Clone(c.events)
		c.mu.Unlock()
		if total >= n {
			return snapshot
		}
		select {
		case <-c.changed:
		case <-deadline:
			t.Fatalf("only %d of %d events were decided on: %v", total, n, snapshot)
		}
	}
}

type rig struct {
	h     *Handler
	srv   *httptest.Server
	sub   *submitter
	obs   *counts
	logs  *fake.Buffer
	store *store.Store
	inbox *inbox
}

// inbox is the store as the handler sees it, held shut while block is open, or failing.
type inbox struct {
	*store.Store
	block chan struct{}
	fail  error
}

func (i *inbox) Enqueue(ctx context.Context, events []store.InboxEvent) ([]string, error) {
	if i.block != nil {
		select {
		case <-i.block:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if i.fail != nil {
		return nil, i.fail
	}
	return i.Store.Enqueue(ctx, events)
}

// newRig serves the hook with a real store as its inbox and, unless noWorker, a worker on it.
func newRig(t *testing.T, edit func(*Config)) *rig {
	t.Helper()
	st, err := store.Open(t.Context(), filepath.Join(t.TempDir(), "resetbot.db"))
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{sub: &submitter{}, obs: newCounts(), logs: &fake.Buffer{}, store: st, inbox: &inbox{Store: st}}
	cfg := Config{
		Secret: testSecret, Channel: alertChan,
		Policies: map[string]Policy{Suspend: Auto, SuspiciousActivity: Approve, PasswordReset: Approve},
		Inbox:    r.inbox, Observer: r.obs,
		Logger: slog.New(slog.NewJSONHandler(r.logs, nil)),
	}
	if edit != nil {
		edit(&cfg)
	}
	h, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r.h = h
	r.srv = httptest.NewServer(h)
	t.Cleanup(func() {
		r.srv.Close()
		h.Close()
		if strings.Contains(r.logs.String(), testSecret) {
			t.Errorf("the logs contain the hook secret")
		}
		_ = st.Close()
	})
	return r
}

// work runs a worker on the rig's inbox until the test ends.
func (r *rig) work(t *testing.T, edit func(*WorkerConfig)) {
	t.Helper()
	cfg := WorkerConfig{Store: r.store, Submitter: r.sub, Observer: r.obs, Logger: slog.New(slog.NewJSONHandler(r.logs, nil)),
		Replica: "test", Poll: 20 * time.Millisecond, Backoff: 20 * time.Millisecond}
	if edit != nil {
		edit(&cfg)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); NewWorker(cfg).Run(ctx) }()
	t.Cleanup(func() { stop(); <-done })
}

// post sends body with the given headers and returns the status, body and response headers.
func (r *rig) post(t *testing.T, body string, headers map[string]string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, r.srv.URL, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", testSecret)
	for k, v := range headers {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b), res.Header
}

func TestVerificationChallengeIsEchoedOnlyWithTheSecret(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	verify := func(headers map[string]string) int {
		req, _ := http.NewRequest(http.MethodGet, r.srv.URL, nil)
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if strings.Contains(string(body), "anyone-can-echo") {
			t.Errorf("the challenge was echoed without the secret: %s", body)
		}
		return res.StatusCode
	}
	for name, headers := range map[string]map[string]string{
		"no secret":    {"X-Okta-Verification-Challenge": "anyone-can-echo"},
		"wrong secret": {"X-Okta-Verification-Challenge": "anyone-can-echo", "Authorization": "not-the-secret"},
	} {
		if status := verify(headers); status != http.StatusUnauthorized {
			t.Errorf("verification with %s answered %d; want 401", name, status)
		}
	}
	if got := r.obs.requestCounts(); got["unauthorized"] != 2 || got["verified"] != 0 {
		t.Errorf("counted %v; want two unauthorized and no verification", got)
	}
	if strings.Contains(r.logs.String(), `"audit"`) {
		t.Errorf("an unauthenticated request was logged as an audit event:\n%s", r.logs)
	}

	req, _ := http.NewRequest(http.MethodGet, r.srv.URL, nil)
	req.Header.Set("Authorization", testSecret)
	req.Header.Set("X-Okta-Verification-Challenge", `9TuDemoNo0lJ9tS7AGSeFo2B8oGaRDO4eQQpnd6F"<>`)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var got map[string]string
	if err := json.NewDecoder(res.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK || got["verification"] != `9TuDemoNo0lJ9tS7AGSeFo2B8oGaRDO4eQQpnd6F"<>` {
		t.Errorf("verification answered %d %v", res.StatusCode, got)
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("content type %q", ct)
	}

	if status := verify(map[string]string{"Authorization": testSecret}); status != http.StatusBadRequest {
		t.Errorf("GET with the secret but no challenge answered %d; want 400", status)
	}
}

func TestAFloodWithoutTheSecretWritesAFewLogLines(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	body := hooktest.Delivery(hooktest.Event("e1", Suspend, "Suspend Okta user", admin, alice))
	start := time.Now()
	for range 500 {
		if status, _, _ := r.post(t, body, map[string]string{"Authorization": "guess"}); status != http.StatusUnauthorized {
			t.Fatalf("status %d; want 401", status)
		}
	}
	lines := strings.Count(r.logs.String(), "\n")
	// The first line, then at most one a second.
	if most := 2 + int(time.Since(start)/time.Second); lines == 0 || lines > most {
		t.Errorf("500 refused requests wrote %d log lines; want the first and then at most one a second", lines)
	}
	if !strings.Contains(r.logs.String(), `"refused_since_last_line"`) || strings.Contains(r.logs.String(), `"audit"`) {
		t.Errorf("sampled lines should carry the count and no audit tag:\n%s", r.logs)
	}
	if got := r.obs.requestCounts(); got["unauthorized"] != 500 {
		t.Errorf("counted %v; every refusal is still counted", got)
	}
}

func TestMisuseIsRefusedAndStartsNothing(t *testing.T) {
	t.Parallel()
	good := hooktest.Delivery(hooktest.Event("e1", Suspend, "Suspend Okta user", admin, alice))
	tests := []struct {
		name    string
		body    string
		headers map[string]string
		method  string
		status  int
		result  string
	}{
		{name: "no secret", body: good, headers: map[string]string{"Authorization": ""}, status: 401, result: "unauthorized"},
		{name: "wrong secret", body: good, headers: map[string]string{"Authorization": "not-the-secret"}, status: 401, result: "unauthorized"},
		{name: "the secret with a prefix", body: good, headers: map[string]string{"Authorization": "Bearer " + testSecret}, status: 401, result: "unauthorized"},
		{name: "the secret's prefix", body: good, headers: map[string]string{"Authorization": testSecret[:10]}, status: 401, result: "unauthorized"},
		{name: "a bad secret is refused before the body is read", body: "{not json", headers: map[string]string{"Authorization": "x"}, status: 401, result: "unauthorized"},
		{name: "malformed JSON", body: `{"eventType": "com.okta.event_hook", "data": {"events": [`, status: 400, result: "malformed"},
		{name: "JSON that is not a delivery", body: `{"eventType": "user.lifecycle.suspend"}`, status: 400, result: "malformed"},
		{name: "events that are not a list", body: `{"eventType": "com.okta.event_hook", "data": {"events": {"uuid": "x"}}}`, status: 400, result: "malformed"},
		{name: "a form instead of JSON", body: "eventType=x", headers: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, status: 415, result: "unsupported_media_type"},
		{name: "a huge body", body: hooktest.Delivery(hooktest.Event("e1", Suspend, strings.Repeat("x", 300<<10), admin, alice)), status: 413, result: "too_large"},
		{name: "another method", method: http.MethodPut, body: good, status: 405, result: "method_not_allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, nil)
			var status int
			if tt.method != "" {
				req, _ := http.NewRequest(tt.method, r.srv.URL, strings.NewReader(tt.body))
				req.Header.Set("Authorization", testSecret)
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				res.Body.Close()
				status = res.StatusCode
			} else {
				status, _, _ = r.post(t, tt.body, tt.headers)
			}
			if status != tt.status {
				t.Errorf("status %d; want %d", status, tt.status)
			}
			// Nothing was accepted, so no work can be pending: checking now is checking for good.
			if got := r.obs.requestCounts(); got[tt.result] != 1 || got["accepted"] != 0 {
				t.Errorf("counted %v; want one %s", got, tt.result)
			}
			if subs := r.sub.submissions(); len(subs) != 0 {
				t.Errorf("submitted %+v", subs)
			}
		})
	}
}

func TestEventsBecomeSubmissionsByPolicy(t *testing.T) {
	t.Parallel()
	suspicious := hooktest.Event("e-sus", SuspiciousActivity, "User report suspicious activity", alice, alice)
	tests := []struct {
		name     string
		policies map[string]Policy
		event    string
		want     *bot.Submission
		counted  string
	}{
		{name: "suspend under auto runs at once", policies: map[string]Policy{Suspend: Auto},
			event: hooktest.Event("e-sus1", Suspend, "Suspend Okta user", admin, alice),
			want: &bot.Submission{Who: aliceID, Reason: "Suspend Okta user", Source: "okta-event:e-sus1", Confirms: []string{"SUSPENDED"}, Event: "suspended",
				Requester: reset.Actor{Name: "okta event user.lifecycle.suspend by admin@example.com"}, Channel: alertChan, Auto: true},
			counted: Suspend + " auto"},
		{name: "suspend under approve waits for a responder", policies: map[string]Policy{Suspend: Approve},
			event: hooktest.Event("e-sus2", Suspend, "Suspend Okta user", admin, alice),
			want: &bot.Submission{Who: aliceID, Reason: "Suspend Okta user", Source: "okta-event:e-sus2", Confirms: []string{"SUSPENDED"}, Event: "suspended",
				Requester: reset.Actor{Name: "okta event user.lifecycle.suspend by admin@example.com"}, Channel: alertChan},
			counted: Suspend + " approve"},
		{name: "suspend under off does nothing", policies: map[string]Policy{Suspend: Off},
			event: hooktest.Event("e-sus3", Suspend, "Suspend Okta user", admin, alice), counted: Suspend + " off"},
		{name: "suspicious activity reported by the user", policies: map[string]Policy{SuspiciousActivity: Approve},
			event: suspicious,
			want: &bot.Submission{Who: aliceID, Reason: "User report suspicious activity", Source: "okta-event:e-sus", Event: "reported as compromised",
				Requester: reset.Actor{Name: "okta event user.account.report_suspicious_activity_by_enduser by alice@example.com"}, Channel: alertChan},
			counted: SuspiciousActivity + " approve"},
		{name: "suspicious activity naming only its actor targets the actor", policies: map[string]Policy{SuspiciousActivity: Auto},
			event: strings.Replace(suspicious, `"target": [{"id": "`+aliceID+`", "type": "User"`, `"target": [{"id": "evt1", "type": "LogEvent"`, 1),
			want: &bot.Submission{Who: aliceID, Reason: "User report suspicious activity", Source: "okta-event:e-sus", Event: "reported as compromised",
				Requester: reset.Actor{Name: "okta event user.account.report_suspicious_activity_by_enduser by alice@example.com"}, Channel: alertChan, Auto: true},
			counted: SuspiciousActivity + " auto"},
		{name: "password reset by an admin", policies: map[string]Policy{PasswordReset: Auto},
			event: hooktest.Event("e-pw1", PasswordReset, "Reset password for Okta user", admin, alice),
			want: &bot.Submission{Who: aliceID, Reason: "Reset password for Okta user", Source: "okta-event:e-pw1",
				Confirms: []string{"RECOVERY", "PASSWORD_EXPIRED"}, Event: "made to reset their password",
				Requester: reset.Actor{Name: "okta event user.account.reset_password by admin@example.com"}, Channel: alertChan, Auto: true},
			counted: PasswordReset + " auto"},
		{name: "password reset by the user themself is not an alarm", policies: map[string]Policy{PasswordReset: Auto},
			event: hooktest.Event("e-pw2", PasswordReset, "Reset password for Okta user", alice, alice), counted: PasswordReset + " self_service"},
		{name: "an event type resetbot does not act on", policies: map[string]Policy{Suspend: Auto},
			event: hooktest.Event("e-x", "user.session.start", "User login to Okta", alice, alice), counted: "other ignored"},
		{name: "an event whose policy is not configured", policies: map[string]Policy{Suspend: Auto},
			event: hooktest.Event("e-pw3", PasswordReset, "Reset password for Okta user", admin, alice), counted: "other ignored"},
		{name: "an action Okta reports as failed", policies: map[string]Policy{Suspend: Auto},
			event:   strings.Replace(hooktest.Event("e-f", Suspend, "Suspend Okta user", admin, alice), `"result": "SUCCESS"`, `"result": "FAILURE"`, 1),
			counted: Suspend + " okta_failure"},
		{name: "an event about no user", policies: map[string]Policy{Suspend: Auto},
			event:   strings.Replace(hooktest.Event("e-n", Suspend, "Suspend Okta user", admin, alice), `"type": "User", "alternateId": "alice`, `"type": "AppInstance", "alternateId": "alice`, 1),
			counted: Suspend + " no_target"},
		{name: "an event without a uuid cannot be deduplicated", policies: map[string]Policy{Suspend: Auto},
			event: hooktest.Event("", Suspend, "Suspend Okta user", admin, alice), counted: Suspend + " malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, func(c *Config) { c.Policies = tt.policies })
			r.work(t, nil)
			status, body, _ := r.post(t, hooktest.Delivery(tt.event), nil)
			if status != http.StatusOK || body != "" {
				t.Fatalf("delivery answered %d %q; want an empty 200", status, body)
			}
			got := r.obs.waitEvents(t, 1)
			if got[tt.counted] != 1 {
				t.Errorf("counted %v; want %q", got, tt.counted)
			}
			subs := r.sub.submissions()
			switch {
			case tt.want == nil && len(subs) != 0:
				t.Errorf("submitted %+v; want nothing", subs)
			case tt.want != nil && (len(subs) != 1 || !reflect.DeepEqual(subs[0], *tt.want)):
				t.Errorf("submitted %+v\nwant %+v", subs, *tt.want)
			}
		})
	}
}

func TestRedeliveryIsADuplicateNotAnError(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	r.work(t, nil)
	body := hooktest.Delivery(hooktest.Event("e-dup", Suspend, "Suspend Okta user", admin, alice))
	for range 2 {
		if status, _, _ := r.post(t, body, nil); status != http.StatusOK {
			t.Fatalf("status %d", status)
		}
	}
	got := r.obs.waitEvents(t, 2)
	if got[Suspend+" auto"] != 1 || got[Suspend+" duplicate"] != 1 {
		t.Errorf("counted %v; want one submitted and one duplicate", got)
	}
	if n := len(r.sub.submissions()); n != 1 {
		t.Errorf("%d submissions; want 1", n)
	}
	logs := r.logs.String()
	if !strings.Contains(logs, `"audit":"hook_duplicate"`) || strings.Contains(logs, `"level":"ERROR"`) {
		t.Errorf("a redelivery should be logged as a duplicate, not an error:\n%s", logs)
	}
}

func TestSeveralEventsInOneDelivery(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	r.work(t, nil)
	status, _, _ := r.post(t, hooktest.Delivery(
		hooktest.Event("e-a", Suspend, "Suspend Okta user", admin, alice),
		hooktest.Event("e-b", "group.user_membership.add", "Add user to group membership", admin, alice),
		hooktest.Event("e-c", PasswordReset, "Reset password for Okta user", admin, alice),
	), nil)
	if status != http.StatusOK {
		t.Fatalf("status %d", status)
	}
	got := r.obs.waitEvents(t, 3)
	if got[Suspend+" auto"] != 1 || got["other ignored"] != 1 || got[PasswordReset+" approve"] != 1 {
		t.Errorf("counted %v", got)
	}
	logs := r.logs.String()
	if !strings.Contains(logs, `"audit":"hook_ignored"`) || !strings.Contains(logs, "group.user_membership.add") {
		t.Errorf("the ignored event is not on record:\n%s", logs)
	}
}

func TestCustomHeaderCarriesTheSecret(t *testing.T) {
	t.Parallel()
	r := newRig(t, func(c *Config) { c.Header = "X-Resetbot-Secret" })
	r.work(t, nil)
	body := hooktest.Delivery(hooktest.Event("e-h", Suspend, "Suspend Okta user", admin, alice))
	if status, _, _ := r.post(t, body, nil); status != http.StatusUnauthorized {
		t.Errorf("the secret in Authorization was accepted (%d) though the hook reads X-Resetbot-Secret", status)
	}
	if status, _, _ := r.post(t, body, map[string]string{"Authorization": "", "X-Resetbot-Secret": testSecret}); status != http.StatusOK {
		t.Errorf("the secret in X-Resetbot-Secret was refused (%d)", status)
	}
	r.obs.waitEvents(t, 1)
}

func TestFloodIsToldToComeBackLater(t *testing.T) {
	t.Parallel()
	r := newRig(t, func(c *Config) { c.Workers = 2 })
	r.work(t, nil)
	r.inbox.block = make(chan struct{}) // the store is slow: two deliveries are being written
	answered := make(chan int, 2)
	for i := range 2 {
		go func() {
			status, _, _ := r.post(t, hooktest.Delivery(hooktest.Event(fmt.Sprintf("e-%d", i), Suspend, "Suspend Okta user", admin, alice)), nil)
			answered <- status
		}()
	}
	for deadline := time.Now().Add(10 * time.Second); len(r.h.slots) < 2; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the two deliveries never reached the store")
		}
	}
	status, _, header := r.post(t, hooktest.Delivery(hooktest.Event("e-flood", Suspend, "Suspend Okta user", admin, alice)), nil)
	if status != http.StatusTooManyRequests || header.Get("Retry-After") == "" {
		t.Errorf("a delivery beyond the workers answered %d (Retry-After %q); want 429 with Retry-After", status, header.Get("Retry-After"))
	}
	close(r.inbox.block)
	for range 2 {
		if status := <-answered; status != http.StatusOK {
			t.Errorf("a delivery being stored answered %d", status)
		}
	}
	if status, _, _ := r.post(t, hooktest.Delivery(hooktest.Event("e-after", Suspend, "Suspend Okta user", admin, alice)), nil); status != http.StatusOK {
		t.Errorf("once the flood drained, a delivery answered %d", status)
	}
	r.obs.waitEvents(t, 3)
	if n := len(r.sub.submissions()); n != 3 {
		t.Errorf("%d submissions; want the 3 accepted deliveries", n)
	}
}

func TestAClosedHookRefusesDeliveriesAndKeepsWhatItAccepted(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	if status, _, _ := r.post(t, hooktest.Delivery(hooktest.Event("e-1", Suspend, "Suspend Okta user", admin, alice)), nil); status != http.StatusOK {
		t.Fatalf("status %d", status)
	}
	r.h.Close()
	status, _, header := r.post(t, hooktest.Delivery(hooktest.Event("e-2", Suspend, "Suspend Okta user", admin, alice)), nil)
	if status != http.StatusServiceUnavailable || header.Get("Retry-After") == "" {
		t.Errorf("a delivery after Close answered %d; want 503 with Retry-After, so Okta delivers it again", status)
	}
	// What was accepted is in the inbox, for whichever replica's worker is alive.
	r.work(t, nil)
	r.obs.waitEvents(t, 1)
	if got := r.sub.submissions(); len(got) != 1 || got[0].Source != "okta-event:e-1" {
		t.Errorf("submitted %+v; want the accepted delivery only", got)
	}
}

func TestADeliveryTheStoreCannotTakeIsRefusedForOktaToDeliverAgain(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	r.work(t, nil)
	r.inbox.fail = errors.New("database is locked")
	body := hooktest.Delivery(hooktest.Event("e-1", Suspend, "Suspend Okta user", admin, alice))
	if status, _, header := r.post(t, body, nil); status != http.StatusServiceUnavailable || header.Get("Retry-After") == "" {
		t.Errorf("answered %d; want 503 with Retry-After: a 200 would tell Okta the event is safe", status)
	}
	if got := r.obs.requestCounts(); got["accepted"] != 0 || got["store_unavailable"] != 1 {
		t.Errorf("counted %v", got)
	}
	r.inbox.fail = nil
	if status, _, _ := r.post(t, body, nil); status != http.StatusOK {
		t.Fatalf("Okta's redelivery answered %d", status)
	}
	r.obs.waitEvents(t, 1)
	if n := len(r.sub.submissions()); n != 1 {
		t.Errorf("%d submissions; want the redelivered event once", n)
	}
}

func TestAFailingEventIsTriedAgainUntilItWorks(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	r.sub.failures, r.sub.fail = 3, reset.RetryableError(503, 0, "server_error", errors.New("find user in okta: 503 service unavailable"))
	r.work(t, nil)
	if status, _, _ := r.post(t, hooktest.Delivery(hooktest.Event("e-1", Suspend, "Suspend Okta user", admin, alice)), nil); status != http.StatusOK {
		t.Fatalf("status %d", status)
	}
	got := r.obs.waitEvents(t, 1)
	if got[Suspend+" auto"] != 1 || got[Suspend+" retried"] != 3 {
		t.Errorf("counted %v; want three retries, then the reset", got)
	}
	e, err := r.store.Event(t.Context(), "e-1")
	if err != nil || e.State != store.EventDone || e.RequestID == "" || e.Attempts != 4 {
		t.Errorf("inbox holds %+v (%v); want done after 4 attempts, with its request", e, err)
	}
	events, err := r.store.Audit(t.Context(), store.Filter{})
	if err != nil || len(events) != 1 || events[0].Kind != store.KindEvent || !strings.HasPrefix(events[0].Detail, "done: "+Suspend+" e-1") {
		t.Errorf("audit = %+v (%v); want the event's end on record", events, err)
	}
}

func TestAnEventThatKeepsFailingEndsFailedOnRecord(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	r.sub.failures, r.sub.fail = 1000, errors.New("post card in C0ALERTS: channel_not_found")
	r.work(t, func(c *WorkerConfig) { c.RetryFor = 300 * time.Millisecond })
	if status, _, _ := r.post(t, hooktest.Delivery(hooktest.Event("e-1", Suspend, "Suspend Okta user", admin, alice)), nil); status != http.StatusOK {
		t.Fatalf("status %d", status)
	}
	if got := r.obs.waitEvents(t, 1); got[Suspend+" failed"] != 1 {
		t.Errorf("counted %v; want the event failed", got)
	}
	e, err := r.store.Event(t.Context(), "e-1")
	if err != nil || e.State != store.EventFailed || !strings.Contains(e.Reason, "channel_not_found") {
		t.Errorf("inbox holds %+v (%v); want failed, with the reason", e, err)
	}
	events, _ := r.store.Audit(t.Context(), store.Filter{})
	if len(events) != 1 || !strings.HasPrefix(events[0].Detail, "failed: ") || !strings.Contains(events[0].Detail, "channel_not_found") {
		t.Errorf("audit = %+v; want the failure and its reason on record", events)
	}
	// A uuid is consumed only once its card or reset exists: Okta's redelivery queues it again.
	r.sub.mu.Lock()
	r.sub.failures = 0
	r.sub.mu.Unlock()
	if status, _, _ := r.post(t, hooktest.Delivery(hooktest.Event("e-1", Suspend, "Suspend Okta user", admin, alice)), nil); status != http.StatusOK {
		t.Fatalf("redelivery answered %d", status)
	}
	if got := r.obs.waitEvents(t, 2); got[Suspend+" auto"] != 1 {
		t.Errorf("counted %v; want the redelivered event reset", got)
	}
}

func TestAnEventWhoseRequestExistsIsDone(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	// An earlier attempt made the card, and its worker stopped before recording it.
	r.sub.seen = map[string]bool{"okta-event:e-1": true}
	r.work(t, nil)
	if status, _, _ := r.post(t, hooktest.Delivery(hooktest.Event("e-1", Suspend, "Suspend Okta user", admin, alice)), nil); status != http.StatusOK {
		t.Fatalf("status %d", status)
	}
	r.obs.waitEvents(t, 1)
	if e, err := r.store.Event(t.Context(), "e-1"); err != nil || e.State != store.EventDone {
		t.Errorf("inbox holds %+v (%v); want done", e, err)
	}
}

func TestNewRefusesAHookWithoutASecret(t *testing.T) {
	t.Parallel()
	if _, err := New(Config{Channel: alertChan, Inbox: &inbox{}}); err == nil {
		t.Error("a hook without a secret was built")
	}
}
