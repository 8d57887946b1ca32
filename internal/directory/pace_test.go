package directory_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/resetbot/resetbot/internal/directory"
	"github.com/resetbot/resetbot/internal/fake"
	oktafake "github.com/resetbot/resetbot/internal/fake/okta"
	"github.com/resetbot/resetbot/internal/oktaclient"
	"github.com/resetbot/resetbot/internal/pace"
	"github.com/resetbot/resetbot/internal/provider/edge"
	"github.com/resetbot/resetbot/internal/reset"
)

// TestPacedFindsStayUnderOktasLimit looks up many people at once through an org that takes 10
// lookups a second, with a limiter configured five times faster than that: what Okta says of
// its window in every answer keeps the directory under it, so every lookup is served the first
// time and none is refused.
func TestPacedFindsStayUnderOktasLimit(t *testing.T) {
	t.Parallel()
	srv := oktafake.Start()
	t.Cleanup(srv.Close)
	srv.SetToken(apiToken)
	srv.SetRateLimit("lookup", 10)
	const people = 16
	users := make([]oktafake.User, people)
	for i := range users {
		login := fmt.Sprintf("person%02d@example.com", i)
		users[i] = srv.AddUser(oktafake.User{Login: login, Email: login, FirstName: "Person", LastName: fmt.Sprint(i)})
	}
	limiter := pace.New(pace.Config{Rate: 50, Burst: 5, Concurrency: 4})
	client, err := oktaclient.New(t.Context(), oktaclient.Config{OrgURL: srv.URL, APIToken: apiToken, HTTPClient: edge.Client(srv.Roots()),
		RateObserver: func(_ oktaclient.Bucket, w oktaclient.Window) {
			limiter.ObserveWindow(directory.Provider, w.Limit, w.Remaining, w.Reset)
		}})
	if err != nil {
		t.Fatal(err)
	}
	dir := directory.New(client, directory.WithLimiter(limiter))

	var wg sync.WaitGroup
	errs := make([]error, people)
	found := make([]reset.Target, people)
	for i, u := range users {
		wg.Go(func() { found[i], errs[i] = dir.Find(t.Context(), u.Login) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Find(%s): %v", users[i].Login, err)
		} else if found[i].OktaID != users[i].ID {
			t.Errorf("Find(%s) = %s, want %s", users[i].Login, found[i].OktaID, users[i].ID)
		}
	}
	// A refused lookup is asked again, so more lookups than people means Okta said 429.
	if got := srv.Count("lookup"); got != people {
		t.Errorf("lookups reaching Okta = %d for %d people: some were refused with 429", got, people)
	}
}

// recorder is a Limiter that lets everything through and notes what it was told.
type recorder struct {
	mu      sync.Mutex
	waitErr error
	waits   int
	done    []string // each Done's reason, "ok" for nil
}

func (r *recorder) Admit(ctx context.Context, provider string) (func(error), error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if provider != directory.Provider {
		return nil, fmt.Errorf("paced as %q, want %q", provider, directory.Provider)
	}
	r.waits++
	if r.waitErr != nil {
		return nil, r.waitErr
	}
	return func(err error) {
		r.mu.Lock()
		defer r.mu.Unlock()
		reason := "ok"
		if err != nil {
			_, _, reason = reset.Classify(err)
		}
		r.done = append(r.done, reason)
	}, nil
}

func pacedSetup(t *testing.T, l directory.Limiter) (*oktafake.Server, *directory.Directory, oktafake.User) {
	t.Helper()
	srv := oktafake.Start()
	t.Cleanup(srv.Close)
	srv.SetToken(apiToken)
	a := srv.AddUser(alice)
	client, err := oktaclient.New(t.Context(), oktaclient.Config{OrgURL: srv.URL, APIToken: apiToken, HTTPClient: edge.Client(srv.Roots())})
	if err != nil {
		t.Fatal(err)
	}
	return srv, directory.New(client, directory.WithLimiter(l)), a
}

func TestEveryOktaCallIsPaced(t *testing.T) {
	t.Parallel()
	rateLimited := fake.Fault{Status: http.StatusTooManyRequests}
	tests := []struct {
		name      string
		faults    []fake.Fault // for lookups
		run       func(*directory.Directory, oktafake.User) error
		wantDone  []string
		wantCalls int // reaching Okta, all operations
		wantErr   string
	}{
		{name: "a lookup", run: find("alice@example.com"), wantDone: []string{"ok"}, wantCalls: 1},
		{name: "an email that is nobody's login: lookup, filter, search",
			run: find("nobody@example.com"), wantDone: []string{"not_found", "ok", "ok"}, wantCalls: 3,
			wantErr: "no such user"},
		{name: "finding many: a filter per pass, each paced",
			run: func(d *directory.Directory, _ oktafake.User) error {
				_, _, err := d.FindMany(context.Background(), []string{"alice@example.com", "nobody@example.com"})
				return err
			}, wantDone: []string{"ok", "ok", "ok"}, wantCalls: 3},
		{name: "every page of groups", run: func(d *directory.Directory, u oktafake.User) error {
			_, err := d.Groups(context.Background(), u.ID)
			return err
		}, wantDone: []string{"ok", "ok", "ok"}, wantCalls: 3},
		{name: "the user schema", run: func(d *directory.Directory, _ oktafake.User) error {
			_, err := d.Attributes(context.Background(), "secondEmail")
			return err
		}, wantDone: []string{"ok"}, wantCalls: 1},
		{name: "a 429 is waited out and asked again", faults: []fake.Fault{rateLimited},
			run: find("alice@example.com"), wantDone: []string{"rate_limited", "ok"}, wantCalls: 2},
		{name: "Okta refusing three times in a row reaches the caller", faults: []fake.Fault{rateLimited, rateLimited, rateLimited, rateLimited},
			run: find("alice@example.com"), wantDone: []string{"rate_limited", "rate_limited", "rate_limited"}, wantCalls: 3,
			wantErr: "API call exceeded rate limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := &recorder{}
			srv, dir, a := pacedSetup(t, rec)
			srv.SetGroupPageSize(1)
			for _, name := range []string{"Responders", "Approvers", "Everyone"} {
				srv.AddToGroup(a.ID, srv.AddGroup("", name))
			}
			srv.Fail("lookup", tt.faults...)
			err := tt.run(dir, a)
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("error = %v, want %q", err, tt.wantErr)
			}
			if got := len(srv.Calls()); got != tt.wantCalls {
				t.Errorf("calls reaching Okta = %d, want %d", got, tt.wantCalls)
			}
			rec.mu.Lock()
			defer rec.mu.Unlock()
			if rec.waits != len(rec.done) || strings.Join(rec.done, " ") != strings.Join(tt.wantDone, " ") {
				t.Errorf("limiter: %d waits, done %v; want one wait per call and done %v", rec.waits, rec.done, tt.wantDone)
			}
		})
	}
}

func find(who string) func(*directory.Directory, oktafake.User) error {
	return func(d *directory.Directory, _ oktafake.User) error {
		_, err := d.Find(context.Background(), who)
		return err
	}
}

func TestAnEndedWaitSendsNothing(t *testing.T) {
	t.Parallel()
	rec := &recorder{waitErr: context.DeadlineExceeded}
	srv, dir, _ := pacedSetup(t, rec)
	_, err := dir.Find(t.Context(), "alice@example.com")
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "waiting for Okta's rate limit") {
		t.Errorf("error = %v, want the wait's end, named", err)
	}
	if got := len(srv.Calls()); got != 0 {
		t.Errorf("calls reaching Okta = %d, want none", got)
	}
	if len(rec.done) != 0 {
		t.Errorf("done called %v after a refused Admit", rec.done)
	}
}

// TestAHungOktaStopsNoLaterLookup is the hang that pinned the bot: as many lookups as the
// directory may have in flight (RESETBOT_CONCURRENCY's default, 8) find Okta hung and end at
// their deadline, classified as timeouts; once Okta answers again, the next lookup is served
// at once instead of queueing behind calls that will never answer. When what hangs is the
// service app's token request, which the SDK sends without the lookup's context, the eight are
// still held when the ninth is served: only their ended contexts can have given their places
// in the queue back.
func TestAHungOktaStopsNoLaterLookup(t *testing.T) {
	t.Parallel()
	const concurrency = 8
	tests := []struct {
		name       string
		serviceApp bool
		hung       string // the op that hangs for the first eight lookups
		// heldPastDeadline: the eight have not returned when the ninth is served.
		heldPastDeadline bool
		wantLookups      int // lookups reaching Okta by the time the ninth is served
	}{
		{name: "reads hang", hung: "lookup", wantLookups: concurrency + 1},
		{name: "the token request the SDK cannot cancel hangs", serviceApp: true, hung: "token",
			heldPastDeadline: true, wantLookups: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := oktafake.Start()
			t.Cleanup(srv.Close)
			t.Cleanup(func() { srv.Release("") }) // before Close, which waits for held calls
			srv.SetToken(apiToken)
			cfg := oktaclient.Config{OrgURL: srv.URL, APIToken: apiToken, HTTPClient: edge.Client(srv.Roots())}
			if tt.serviceApp {
				key := srv.NewServiceApp("0oadirectory")
				cfg = oktaclient.Config{OrgURL: srv.URL, ClientID: "0oadirectory", PrivateKeyPEM: key, HTTPClient: edge.Client(srv.Roots())}
			}
			client, err := oktaclient.New(t.Context(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			a := srv.AddUser(alice)
			dir := directory.New(client, directory.WithLimiter(pace.New(pace.Config{Rate: 100, Burst: 1, Concurrency: concurrency})))

			srv.FailTimes(tt.hung, concurrency, fake.Fault{Hang: true})
			hungErrs := make(chan error, concurrency)
			deadlines := make([]context.Context, concurrency)
			for i := range deadlines {
				ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
				t.Cleanup(cancel)
				deadlines[i] = ctx
				go func() {
					_, err := dir.Find(ctx, a.Login)
					hungErrs <- err
				}()
			}
			for _, ctx := range deadlines {
				<-ctx.Done()
			}

			// Okta answers again (the hangs were the first eight calls only). The deadline
			// only keeps a failing test from hanging.
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			got, err := dir.Find(ctx, a.Login)
			returned := len(hungErrs)
			if err != nil || got.OktaID != a.ID {
				t.Fatalf("the lookup after Okta answered again = %+v, %v; want %s", got, err, a.ID)
			}
			if n := srv.Count("lookup"); n != tt.wantLookups {
				t.Errorf("lookups reaching Okta = %d, want %d", n, tt.wantLookups)
			}
			if tt.heldPastDeadline && returned != 0 {
				t.Errorf("%d of the hung lookups had returned before the next was served, want none: "+
					"only their returning could have freed a place", returned)
			}

			srv.Release(tt.hung)
			for range concurrency {
				var err error
				select {
				case err = <-hungErrs:
				case <-ctx.Done():
					t.Fatal("a hung lookup never returned")
				}
				if _, _, reason := reset.Classify(err); reason != "timeout" {
					t.Errorf("a lookup Okta never answered in time = %v (%s), want a timeout", err, reason)
				}
			}
		})
	}
}
