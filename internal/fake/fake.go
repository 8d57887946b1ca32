// Package fake holds what every fake system shares: faults a test programs (latency, N
// failures, rate limits) and a record of the calls that reached the fake. Each subpackage
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

// SetLatency makes every call of op wait d before it is served ("" means every op).
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

// Next records a call of op and returns the fault to apply (zero Fault when none) and the
// latency to wait before serving. Fakes call it first in every handler.
func (s *Script) Next(r *http.Request, op string) (Fault, time.Duration) {
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
	return f, wait + f.Delay
}

// Play is what a fake's handler does first: record the call of op, wait its latency, and for
// a scripted fault put the fault's headers on w (the fake then writes its system's own error
// body). It returns the fault, zero when the call is served normally, and false when the
// client went away while waiting.
func (s *Script) Play(w http.ResponseWriter, r *http.Request, op string) (Fault, bool) {
	f, wait := s.Next(r, op)
	if !Wait(r, wait) {
		return Fault{}, false
	}
	f.SetHeaders(w)
	return f, true
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
func Wait(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

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
