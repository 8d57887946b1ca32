package fake_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/resetbot/resetbot/internal/fake"
)

// patience bounds how long a test waits for something that must happen; it only keeps a
// failing test from hanging, and is never what a test asserts.
const patience = 30 * time.Second

// holdingFake serves /{op} through a Script, answering a fault's status or 200, and reports
// on ends how each handler ended: "op answered", or "op gone" when its client went away.
func holdingFake(t *testing.T) (s *fake.Script, url string, ends <-chan string) {
	t.Helper()
	s = &fake.Script{}
	ended := make(chan string, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		op := r.URL.Path[1:]
		f, ok := s.Play(w, r, op)
		if !ok {
			ended <- op + " gone"
			return
		}
		ended <- op + " answered"
		if f.Status != 0 {
			w.WriteHeader(f.Status)
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { s.Release("") }) // before Close, which waits for held calls
	return s, srv.URL, ended
}

// call asks the fake for op and returns the status it answered.
func call(ctx context.Context, url, op string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/"+op, nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// arrived waits until n calls of op reached s.
func arrived(t *testing.T, s *fake.Script, op string, n int) {
	t.Helper()
	for end := time.Now().Add(patience); s.Count(op) < n; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("%d calls of %s reached the fake, want %d", s.Count(op), op, n)
		}
	}
}

// nextEnd waits for the next handler to end and says how it did.
func nextEnd(t *testing.T, ends <-chan string) string {
	t.Helper()
	select {
	case end := <-ends:
		return end
	case <-time.After(patience):
		t.Fatal("the fake's handler is still holding the call")
		return ""
	}
}

func TestAHungCallEndsWhenItsClientGivesUp(t *testing.T) {
	t.Parallel()
	s, url, ends := holdingFake(t)
	s.Fail("lookup", fake.Fault{Hang: true})
	heldUntilTheClientGivesUp(t, url, "lookup", ends)
}

// heldUntilTheClientGivesUp calls op under a short deadline and checks that the fake held the
// call until the client gave up, and then wrote nothing.
func heldUntilTheClientGivesUp(t *testing.T, url, op string, ends <-chan string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if _, err := call(ctx, url, op); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a held %s = %v, want the client's deadline", op, err)
	}
	if got := nextEnd(t, ends); got != op+" gone" {
		t.Errorf("the handler ended %q, want %q: it stops when its client does", got, op+" gone")
	}
}

func TestReleaseEndsAHold(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		hold       func(*fake.Script)
		release    string
		wantStatus int
	}{
		{name: "a released hang answers as its fault says",
			hold:    func(s *fake.Script) { s.Fail("lookup", fake.Fault{Hang: true, Status: http.StatusServiceUnavailable}) },
			release: "lookup", wantStatus: http.StatusServiceUnavailable},
		{name: "a released hang without a status is served",
			hold: func(s *fake.Script) { s.Fail("lookup", fake.Fault{Hang: true}) }, release: "lookup", wantStatus: http.StatusOK},
		{name: "Release ends a latency too",
			hold: func(s *fake.Script) { s.SetLatency("lookup", time.Hour) }, release: "lookup", wantStatus: http.StatusOK},
		{name: "Release of every op ends any hold",
			hold: func(s *fake.Script) { s.Fail("lookup", fake.Fault{Hang: true}) }, release: "", wantStatus: http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, url, ends := holdingFake(t)
			tt.hold(s)
			type answer struct {
				status int
				err    error
			}
			answers := make(chan answer, 1)
			go func() {
				status, err := call(t.Context(), url, "lookup")
				answers <- answer{status, err}
			}()
			arrived(t, s, "lookup", 1)
			s.Release(tt.release)
			if got := nextEnd(t, ends); got != "lookup answered" {
				t.Fatalf("the released call ended %q, want \"lookup answered\"", got)
			}
			if got := <-answers; got.err != nil || got.status != tt.wantStatus {
				t.Errorf("released call = %d, %v; want %d", got.status, got.err, tt.wantStatus)
			}
		})
	}
}

// TestAHoldHoldsOnlyItsOwnCall: while one call hangs, calls of other ops are served, a Release
// of another op leaves it hanging, and the next call of its own op is held as scripted again.
func TestAHoldHoldsOnlyItsOwnCall(t *testing.T) {
	t.Parallel()
	s, url, ends := holdingFake(t)
	s.Fail("lookup", fake.Fault{Hang: true}, fake.Fault{Hang: true})
	hung := make(chan error, 1)
	go func() {
		_, err := call(t.Context(), url, "lookup")
		hung <- err
	}()
	arrived(t, s, "lookup", 1)
	s.Release("revoke")
	ctx, cancel := context.WithTimeout(t.Context(), patience)
	defer cancel()
	if status, err := call(ctx, url, "revoke"); err != nil || status != http.StatusOK {
		t.Fatalf("a revoke while a lookup hangs = %d, %v; want it served", status, err)
	}
	if got := nextEnd(t, ends); got != "revoke answered" {
		t.Fatalf("first to end: %q, want \"revoke answered\": the lookup still hangs", got)
	}
	s.Release("lookup")
	if err := <-hung; err != nil {
		t.Fatalf("the released lookup = %v, want it answered", err)
	}
	if got := nextEnd(t, ends); got != "lookup answered" {
		t.Fatalf("the released lookup ended %q, want \"lookup answered\"", got)
	}
	// The second queued hang holds the next lookup until its client gives up.
	heldUntilTheClientGivesUp(t, url, "lookup", ends)
}

func TestADroppedCallGetsNoAnswerAndTheNextIsServed(t *testing.T) {
	t.Parallel()
	s, url, ends := holdingFake(t)
	s.Fail("revoke", fake.Fault{Drop: true})
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	if status, err := call(ctx, url, "revoke"); err == nil {
		t.Fatalf("a dropped call was answered %d", status)
	}
	if status, err := call(ctx, url, "revoke"); err != nil || status != http.StatusOK {
		t.Fatalf("the call after the dropped one: %d, %v", status, err)
	}
	if got := <-ends; got != "revoke answered" {
		t.Errorf("handler ended %q; the dropped call's handler must not go on", got)
	}
	if n := s.Count("revoke"); n != 2 {
		t.Errorf("%d calls recorded; want both", n)
	}
}
