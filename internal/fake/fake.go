// Package fake holds what every fake system shares: faults a test programs (latency, N
// failures, rate limits, hangs) and a record of the calls that reached the fake. Each subpackage
// speaks one system's wire format over real HTTP, so the real SDKs are what is under test.
package fake

import (
	"bytes"
	"crypto/x509"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"
)

// Fault is one programmed answer: instead of serving the call, the fake waits Delay and then,
// when Status is not zero, answers with Status, Header and the system's own error body.
type Fault struct {
	Status int
	Header http.Header
	// Message overrides the error text the fake puts in its body.
	Message string
	// Delay is waited before answering (or before serving normally when Status is zero).
	Delay time.Duration
	// Hang holds the call, instead of Delay and any latency, until its client gives up or the
	// test calls Release for its op: a system that took the request and never answers. A
	// released call is then answered as the rest of the fault says. httptest's Close waits
	// for calls in progress, so a test that leaves clients waiting releases them first.
	Hang bool
	// Drop closes the connection once the hold is over, without an answer: a load balancer or
	// a dying node that takes the request and hangs up.
	Drop bool
}

// Call is one request that reached a fake.
type Call struct {
	Method string
	Path   string
	// Op is the fake's name for the operation, e.g. "revoke", "lookup", "token".
	Op string
	At time.Time
}

// Script programs faults per operation and records calls. Fakes embed it; it is safe for
// concurrent use.
type Script struct {
	mu      sync.Mutex
	latency map[string]time.Duration
	faults  map[string][]Fault
	calls   []Call
	// limits and served implement SetRateLimit: per op, the limit and when the calls served
	// in the last second arrived.
	limits map[string]int
	served map[string][]time.Time
	now    func() time.Time
	// released is closed by Release to end, per op, the holds of the calls that have arrived.
	released map[string]chan struct{}
}

// SetRateLimit makes op enforce a limit of perSecond calls in any sliding second, as the
// providers do: a call beyond it gets a 429 with Retry-After (whole seconds, rounded up, until
// the window has room), which the fake answers with its system's own 429 body. Rejected calls
// do not count against the window. perSecond <= 0 removes the limit. Queued faults (Fail) are
// played before the limit is checked.
func (s *Script) SetRateLimit(op string, perSecond int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.limits == nil {
		s.limits = map[string]int{}
		s.served = map[string][]time.Time{}
	}
	if perSecond <= 0 {
		delete(s.limits, op)
		delete(s.served, op)
		return
	}
	s.limits[op] = perSecond
}

// SetClock replaces the clock the rate limit reads; tests use it to move time by hand.
func (s *Script) SetClock(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = now
}

// limited reports the 429 fault for a call of op arriving at now, or false when the window
// has room (the call is then counted). s.mu is held.
func (s *Script) limited(op string, now time.Time) (Fault, bool) {
	limit, ok := s.limits[op]
	if !ok {
		return Fault{}, false
	}
	window := s.served[op]
	i := 0
	for i < len(window) && !window[i].After(now.Add(-time.Second)) {
		i++
	}
	window = window[i:]
	if len(window) < limit {
		s.served[op] = append(window, now)
		return Fault{}, false
	}
	s.served[op] = window
	free := window[len(window)-limit].Add(time.Second).Sub(now)
	secs := max(int((free+time.Second-1)/time.Second), 1)
	return Fault{Status: http.StatusTooManyRequests, Header: http.Header{"Retry-After": {fmt.Sprint(secs)}}}, true
}

// SetLatency makes every call of op wait d before it is served ("" means every op). The wait
// ends early when the client gives up or Release is called for the call's op.
func (s *Script) SetLatency(op string, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.latency == nil {
		s.latency = map[string]time.Duration{}
	}
	s.latency[op] = d
}

// Fail queues faults for op: the next len(faults) calls of op get them, in order; later calls
// are served normally.
func (s *Script) Fail(op string, faults ...Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.faults == nil {
		s.faults = map[string][]Fault{}
	}
	s.faults[op] = append(s.faults[op], faults...)
}

// FailTimes queues n copies of f for op.
func (s *Script) FailTimes(op string, n int, f Fault) {
	for range n {
		s.Fail(op, f)
	}
}

// Release ends the holds of the calls of op that have arrived, hung ones (Fault.Hang) and
// those waiting out a latency alike: each is then answered as scripted. Later calls are held
// as scripted again. Release("") releases the calls of every op.
func (s *Script) Release(op string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, ch := range s.released {
		if op == "" || name == op {
			close(ch)
			delete(s.released, name)
		}
	}
}

// Arrival is how the Script treats one call: the fault to answer with (zero when the call is
// served normally), and how long to hold the call first.
type Arrival struct {
	Fault Fault
	wait  time.Duration
	// released ends the hold when Release is called for the call's op.
	released <-chan struct{}
}

// Arrive records a call of op and returns how to treat it; the handler then calls Hold.
// Fakes call it first in every handler.
func (s *Script) Arrive(r *http.Request, op string) Arrival {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	if s.now != nil {
		now = s.now()
	}
	s.calls = append(s.calls, Call{Method: r.Method, Path: r.URL.Path, Op: op, At: now})
	wait := s.latency[op] + s.latency[""]
	var f Fault
	if q := s.faults[op]; len(q) > 0 {
		f, s.faults[op] = q[0], q[1:]
	} else if lf, ok := s.limited(op, now); ok {
		f = lf
	}
	if s.released == nil {
		s.released = map[string]chan struct{}{}
	}
	ch, ok := s.released[op]
	if !ok {
		ch = make(chan struct{})
		s.released[op] = ch
	}
	return Arrival{Fault: f, wait: wait + f.Delay, released: ch}
}

// Hold waits as scripted: for a hung call until Release, else for its latency and the
// fault's Delay, ending early at Release. It reports false when the client went away first,
// and the handler then writes nothing. It holds no lock, so other calls go on meanwhile. A
// Drop fault does not return: it aborts the handler, and net/http closes the connection.
func (a Arrival) Hold(r *http.Request) bool {
	ok := a.hold(r)
	if a.Fault.Drop {
		panic(http.ErrAbortHandler)
	}
	return ok
}

func (a Arrival) hold(r *http.Request) bool {
	var timeout <-chan time.Time
	if !a.Fault.Hang {
		if a.wait <= 0 {
			return true
		}
		t := time.NewTimer(a.wait)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-timeout:
		return true
	case <-a.released:
		return true
	case <-r.Context().Done():
		return false
	}
}

// Next records a call of op and returns the fault to apply (zero Fault when none) and the
// latency to wait before serving. It holds nothing: fakes use Arrive and Hold, or Play,
// which also hang a call and let Release end a hold.
func (s *Script) Next(r *http.Request, op string) (Fault, time.Duration) {
	a := s.Arrive(r, op)
	return a.Fault, a.wait
}

// Play is what a fake's handler does first: record the call of op, hold it as scripted, and
// for a scripted fault put the fault's headers on w (the fake then writes its system's own
// error body). It returns the fault, zero when the call is served normally, and false when
// the client went away while the call was held.
func (s *Script) Play(w http.ResponseWriter, r *http.Request, op string) (Fault, bool) {
	a := s.Arrive(r, op)
	if !a.Hold(r) {
		return Fault{}, false
	}
	a.Fault.SetHeaders(w)
	return a.Fault, true
}

// SetHeaders puts the fault's headers on w.
func (f Fault) SetHeaders(w http.ResponseWriter) {
	for k, vs := range f.Header {
		w.Header()[http.CanonicalHeaderKey(k)] = append([]string(nil), vs...)
	}
}

// Calls returns the calls recorded so far, in arrival order.
func (s *Script) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// Count returns how many calls of op arrived.
func (s *Script) Count(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.calls {
		if c.Op == op {
			n++
		}
	}
	return n
}

// Wait sleeps d unless the request's context ends first; it reports whether to go on.
func Wait(r *http.Request, d time.Duration) bool { return Arrival{wait: d}.Hold(r) }

// Roots returns a pool trusting the certificate of TLS fakes started with httptest (they all
// share httptest's built-in certificate), for clients built with edge.Client.
func Roots(srv *httptest.Server) *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	return pool
}

// Buffer is a bytes.Buffer that may be written and read at once: the output of a process or a
// logger that a test reads while it still runs.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
