package e2e

import (
	"net/url"
	"testing"
	"time"

	"github.com/resetbot/resetbot/internal/demo"
	"github.com/resetbot/resetbot/internal/fake/outage"
	"github.com/resetbot/resetbot/internal/reset"
	"github.com/resetbot/resetbot/internal/store"
	"github.com/resetbot/resetbot/internal/store/storetest"
)

// TestE2EDatabaseOutageMidRequest takes PostgreSQL away while every system is answering a
// reset and brings it back: the answers are stored once the database is back, the end is
// stored before it is told, and the thread gets one summary, with every system asked once.
func TestE2EDatabaseOutageMidRequest(t *testing.T) {
	t.Parallel()
	u, err := url.Parse(storetest.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	db, err := outage.Start(u.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	u.Host = db.Addr()
	e := startE2E(t, map[string]string{"RESETBOT_DATABASE_URL": u.String()})
	for _, f := range []interface{ SetLatency(string, time.Duration) }{e.w.Okta, e.w.Google, e.w.Zoom, e.w.Microsoft} {
		f.SetLatency("revoke", time.Second)
	}
	e.st.Command(e.w.Rita, "alice@example.com")
	card := e.card(1)
	e.cardStored(card)
	e.mustAck(e.st.Click(e.w.Sam, card, "approve"))
	e.until("the systems are asked", func() bool {
		n := 0
		for _, c := range e.revokes() {
			n += c
		}
		return n > 0
	})
	db.Cut()
	time.Sleep(3 * time.Second) // every system answers while the database is away
	db.Restore()

	e.summary(card)
	e.cardReads(card, ": done")
	e.assertRevokedOnce()
	time.Sleep(time.Second) // many sweeps: none may tell the end again
	if n := len(e.w.Slack.Snapshot().Thread(card.Channel, card.TS)); n != 1 {
		t.Errorf("%d summaries in the thread; want 1", n)
	}
	st, err := store.Open(e.ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	req, err := st.Get(e.ctx, demo.RequestID(card))
	if err != nil || req.State != reset.StateDone || req.AnnouncedAt.IsZero() {
		t.Errorf("stored request %s announced %v (%v); want done and told", req.State, req.AnnouncedAt, err)
	}
	outcomes, err := st.Outcomes(e.ctx, req.ID)
	if err != nil || len(outcomes) != 5 {
		t.Errorf("stored %d outcomes (%v); want all five, stored once the database was back", len(outcomes), err)
	}
	if got := kinds(e.audit(req.ID)); got != "requested,approved,outcome,outcome,outcome,outcome,outcome,finished" {
		t.Errorf("audit = %s", got)
	}
}
