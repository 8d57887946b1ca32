package slackfake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

const (
	// maxResponseSize is Slack's limit on a Socket Mode response: it silently drops frames of
	// 20 KB or more.
	maxResponseSize = 20 * 1024
	// maxFrame bounds what the fake reads from a client frame before closing the connection.
	maxFrame  = 1 << 20
	writeWait = 10 * time.Second
)

// conn is one Socket Mode WebSocket connection. Data frames are written under wmu (gorilla
// allows one writer); pings use WriteControl, which may run alongside.
type conn struct {
	n    int
	ws   *websocket.Conn
	wmu  sync.Mutex
	once sync.Once
	gone chan struct{}
	// dropped is set, under Server.mu, once the connection's end has been recorded.
	dropped bool
}

func (c *conn) write(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(writeWait))
	return c.ws.WriteMessage(websocket.TextMessage, b)
}

func (c *conn) close() {
	c.once.Do(func() {
		close(c.gone)
		_ = c.ws.Close()
	})
}

// envelope is one frame the fake sends; raw frames have no id and expect no ack.
type envelope struct {
	id       string
	typ      string
	payload  json.RawMessage
	frame    []byte
	queuedAt time.Time
	sentAt   time.Time
	conn     int
	acked    bool
	timedOut bool
	timer    *time.Timer
}

func (e *envelope) record() Envelope {
	return Envelope{
		ID: e.id, Type: e.typ, Payload: e.payload, QueuedAt: e.queuedAt, SentAt: e.sentAt,
		Conn: e.conn, Acked: e.acked, TimedOut: e.timedOut,
	}
}

// serveSocket is the URL apps.connections.open hands out. Like Slack it takes any Origin,
// accepts each ticket once, says hello, pings, and reads acks until the connection ends.
func (s *Server) serveSocket(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if v := recover(); v != nil {
			s.log.Error("slack fake socket handler failed", "panic", fmt.Sprint(v))
		}
	}()
	ticket := r.URL.Query().Get("ticket")
	s.mu.Lock()
	used, issued := s.tickets[ticket]
	if issued && !used {
		s.tickets[ticket] = true
	}
	closed := s.closed
	s.mu.Unlock()
	if !issued || used || closed {
		s.mu.Lock()
		s.refuseLocked("socket", "invalid_ticket", nil)
		s.mu.Unlock()
		http.Error(w, "invalid or used ticket", http.StatusUnauthorized)
		return
	}
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	ws, err := up.Upgrade(w, r, nil)
	if err != nil {
		return // Upgrade has answered the client
	}
	ws.SetReadLimit(maxFrame)
	c := &conn{ws: ws, gone: make(chan struct{})}
	ws.SetPongHandler(func(string) error {
		s.mu.Lock()
		s.pongs = append(s.pongs, time.Now())
		s.notifyLocked()
		s.mu.Unlock()
		return nil
	})
	if !s.register(c) {
		c.close()
		return
	}
	go s.ping(c)
	s.read(c)
	s.drop(c)
}

// register says hello and makes c live, then hands it whatever was queued while no
// connection was open. It holds sendMu so no envelope can precede the hello.
func (s *Server) register(c *conn) bool {
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return false
	}
	n := s.dialled + 1
	hello, _ := json.Marshal(map[string]any{
		"type":            "hello",
		"num_connections": len(s.conns) + 1,
		"debug_info": map[string]any{
			"host":                        "applink-fake-" + strconv.Itoa(n),
			"build_number":                1,
			"approximate_connection_time": 18060,
		},
		"connection_info": map[string]any{"app_id": s.cfg.appID},
	})
	s.mu.Unlock()
	if err := c.write(hello); err != nil {
		return false
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return false
	}
	s.conns = append(s.conns, c)
	s.dialled++
	c.n = s.dialled
	s.emitLocked(Event{Kind: EventConnected, Conn: c.n})
	pending := s.pending
	s.pending = nil
	s.mu.Unlock()
	for i, e := range pending {
		if !s.deliver(e) {
			s.mu.Lock()
			s.pending = append(pending[i:], s.pending...)
			s.mu.Unlock()
			break
		}
	}
	return true
}

// drop forgets a connection that ended.
func (s *Server) drop(c *conn) {
	c.close()
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.dropped {
		return
	}
	c.dropped = true
	for i, x := range s.conns {
		if x == c {
			s.conns = append(s.conns[:i:i], s.conns[i+1:]...)
			break
		}
	}
	s.emitLocked(Event{Kind: EventDisconnected, Conn: c.n})
}

func (s *Server) ping(c *conn) {
	t := time.NewTicker(s.cfg.pingInterval)
	defer t.Stop()
	for n := 1; ; n++ {
		select {
		case <-c.gone:
			return
		case <-s.done:
			return
		case <-t.C:
		}
		if err := c.ws.WriteControl(websocket.PingMessage, []byte(strconv.Itoa(n)), time.Now().Add(writeWait)); err != nil {
			return
		}
		s.mu.Lock()
		s.pings++
		s.mu.Unlock()
	}
}

func (s *Server) read(c *conn) {
	for {
		typ, b, err := c.ws.ReadMessage()
		if err != nil {
			return
		}
		at := time.Now()
		if typ == websocket.TextMessage || typ == websocket.BinaryMessage {
			s.receive(c, b, at)
		}
	}
}

// receive records a frame from the client: an ack when Slack would take it as one.
func (s *Server) receive(c *conn, b []byte, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ignore := func(reason string) {
		s.ignored = append(s.ignored, IgnoredFrame{At: at, Size: len(b), Reason: reason})
		s.notifyLocked()
	}
	if len(b) >= maxResponseSize {
		ignore(fmt.Sprintf("a Socket Mode response of %d bytes: Slack drops responses of %d bytes or more", len(b), maxResponseSize))
		return
	}
	var res struct {
		EnvelopeID string          `json:"envelope_id"`
		Payload    json.RawMessage `json:"payload"`
	}
	if err := json.Unmarshal(b, &res); err != nil {
		ignore("not a JSON object: " + err.Error())
		return
	}
	if res.EnvelopeID == "" {
		ignore("no envelope_id")
		return
	}
	if bytes.Equal(bytes.TrimSpace(res.Payload), []byte("null")) {
		res.Payload = nil
	}
	a := Ack{EnvelopeID: res.EnvelopeID, Payload: res.Payload, At: at, Conn: c.n}
	if e, ok := s.envelopes[res.EnvelopeID]; ok {
		a.Known = true
		a.SentAt = e.sentAt
		a.Latency = at.Sub(e.sentAt)
		a.Duplicate = e.acked
		a.Late = e.timedOut || a.Latency > s.cfg.ackTimeout
		e.acked = true
		if e.timer != nil {
			e.timer.Stop()
			delete(s.timers, e.timer)
			e.timer = nil
		}
		if e.typ == "slash_commands" && !a.Duplicate && !a.Late && len(a.Payload) > 0 {
			s.ackResponseLocked(e, a)
		}
	}
	if _, seen := s.ackByID[a.EnvelopeID]; !seen {
		s.ackByID[a.EnvelopeID] = len(s.acks)
	}
	s.acks = append(s.acks, a)
	s.emitLocked(Event{Kind: EventAck, At: at, EnvelopeID: a.EnvelopeID, Latency: a.Latency, Conn: c.n})
}

// ackResponseLocked shows the payload of a slash command's ack the way Slack does: as a
// reply to the command (ephemeral unless response_type says in_channel).
func (s *Server) ackResponseLocked(e *envelope, a Ack) {
	var p struct {
		Text         string          `json:"text"`
		Blocks       json.RawMessage `json:"blocks"`
		ResponseType string          `json:"response_type"`
	}
	if json.Unmarshal(a.Payload, &p) != nil || (p.Text == "" && len(p.Blocks) == 0) {
		return
	}
	var cmd struct {
		ChannelID   string `json:"channel_id"`
		UserID      string `json:"user_id"`
		ResponseURL string `json:"response_url"`
	}
	_ = json.Unmarshal(e.payload, &cmd)
	if p.ResponseType == "" {
		p.ResponseType = "ephemeral"
	}
	blocks := nullToNil(p.Blocks)
	s.responses = append(s.responses, Response{
		URL: cmd.ResponseURL, EnvelopeID: e.id, Kind: "command", Channel: cmd.ChannelID, User: cmd.UserID,
		Text: p.Text, Blocks: blocks, ResponseType: p.ResponseType, At: a.At, Via: "ack",
	})
	s.emitLocked(Event{Kind: EventResponse, At: a.At, Channel: cmd.ChannelID, User: cmd.UserID, Text: p.Text,
		Blocks: blocks, EnvelopeID: e.id, ResponseType: p.ResponseType})
}

// send queues an envelope and delivers it to a live connection (round-robin), or keeps it
// until one connects.
func (s *Server) send(e *envelope, ev Event) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	e.queuedAt = time.Now()
	if e.id != "" {
		s.envelopes[e.id] = e
	}
	s.order = append(s.order, e)
	ev.EnvelopeID = e.id
	s.emitLocked(ev)
	s.mu.Unlock()

	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	s.mu.Lock()
	queued := len(s.pending) > 0
	if queued {
		s.pending = append(s.pending, e)
	}
	s.mu.Unlock()
	if !queued && !s.deliver(e) {
		s.mu.Lock()
		s.pending = append(s.pending, e)
		s.mu.Unlock()
	}
}

// deliver writes e to the next live connection, dropping connections that fail. The caller
// holds sendMu. It reports false when no connection could take it.
func (s *Server) deliver(e *envelope) bool {
	for {
		s.mu.Lock()
		if s.closed || len(s.conns) == 0 {
			s.mu.Unlock()
			return false
		}
		c := s.conns[s.rr%len(s.conns)]
		s.rr++
		// The send time is taken before the write so that an ack racing the write's return
		// still finds it.
		e.sentAt, e.conn = time.Now(), c.n
		s.mu.Unlock()
		if err := c.write(e.frame); err != nil {
			s.mu.Lock()
			e.sentAt, e.conn = time.Time{}, 0
			s.mu.Unlock()
			s.drop(c)
			continue
		}
		if e.id != "" {
			s.mu.Lock()
			if !e.acked && !s.closed {
				// The callback takes s.mu, so it sees e.timer set.
				e.timer = time.AfterFunc(s.cfg.ackTimeout, func() { s.ackTimedOut(e) })
				s.timers[e.timer] = true
			}
			s.mu.Unlock()
		}
		return true
	}
}

func (s *Server) ackTimedOut(e *envelope) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e.timer == nil || e.acked || s.closed {
		return
	}
	delete(s.timers, e.timer)
	e.timer = nil
	e.timedOut = true
	s.emitLocked(Event{Kind: EventAckTimeout, EnvelopeID: e.id, Conn: e.conn})
}

// Disconnect does what Slack does when it refreshes a connection: it sends each live
// connection {"type":"disconnect","reason":"refresh_requested"} and closes it. slack-go then
// opens a new one (apps.connections.open and a new dial); envelopes sent meanwhile wait for it.
func (s *Server) Disconnect() {
	s.closeConns(true)
}

// Drop cuts every live connection without a word, as a network failure would.
func (s *Server) Drop() {
	s.closeConns(false)
}

func (s *Server) closeConns(polite bool) {
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	s.mu.Lock()
	conns := s.conns
	s.conns = nil
	s.notifyLocked()
	s.mu.Unlock()
	for _, c := range conns {
		if polite {
			msg, _ := json.Marshal(map[string]any{
				"type":       "disconnect",
				"reason":     "refresh_requested",
				"debug_info": map[string]any{"host": "applink-fake-" + strconv.Itoa(c.n)},
			})
			_ = c.write(msg)
			c.wmu.Lock()
			_ = c.ws.WriteControl(websocket.CloseMessage,
				websocket.FormatCloseMessage(websocket.CloseNormalClosure, "refresh_requested"), time.Now().Add(writeWait))
			c.wmu.Unlock()
		}
		c.close()
	}
}
