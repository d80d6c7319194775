package gateway

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"spectra/internal/money"
	"spectra/internal/pricing"
	"spectra/internal/store"
)

// journaled starts another gateway of e, with its settle journal in dir, and serves it.
// New replays whatever dir holds.
func (e *env) journaled(dir, node string, waitSync ...bool) (*Gateway, *httptest.Server) {
	e.t.Helper()
	g, err := New(Config{Team: e.team, Ledger: e.ledger, Metering: e.metering, Store: e.db, Now: e.clock.Now,
		Log: quietLog, DefaultMaxTokens: 1000, HoldTTL: 10 * time.Minute, NodeID: node, JournalDir: dir,
		JournalSync: len(waitSync) > 0 && waitSync[0]})
	must(e.t, err)
	return g, e.serve(g)
}

// die stops g as kill -9 would: its batch settles never run and its journal is left as
// it is on disk.
func die(g *Gateway) {
	g.settler.journal.abandon()
}

// answered sends a chat request to the gateway served at url, expects it answered, and
// returns its request id and the cost the client was told.
func (e *env) answered(url string) (id string, cost money.Amount) {
	e.t.Helper()
	resp, body := e.postTo(url, "/v1/chat/completions", fixedBody, e.secret)
	if resp.StatusCode != 200 {
		e.t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	cost, err := money.Parse(resp.Header.Get("X-Spectra-Cost"))
	must(e.t, err)
	return resp.Header.Get("X-Request-Id"), cost
}

// chargedOnce checks that request id is one event, and that the balance is the grant
// less its cost once.
func (e *env) chargedOnce(id string, grant, cost money.Amount) {
	e.t.Helper()
	n := 0
	for _, ev := range e.events() {
		if ev.ID == id {
			n++
			if ev.Cost != cost {
				e.t.Errorf("request %s charged %s, the client was told %s", id, ev.Cost, cost)
			}
		}
	}
	if n != 1 {
		e.t.Fatalf("request %s is %d events, want 1 (%d events in all)", id, n, len(e.events()))
	}
	if b := e.balance(); b.Balance != grant-cost {
		e.t.Errorf("balance %s, want %s less %s once", b.Balance, grant, cost)
	}
	rep, err := e.db.Verify(context.Background())
	must(e.t, err)
	if !rep.OK() {
		e.t.Errorf("verify: %+v", rep)
	}
}

// An answered request whose batch settle never ran (the node died first) is charged
// exactly once when the node starts again, and not again at a further start.
func TestAnsweredRequestChargedAfterCrash(t *testing.T) {
	bothModes(t, func(t *testing.T, waitSync bool) { testAnsweredRequestChargedAfterCrash(t, waitSync) })
}

func testAnsweredRequestChargedAfterCrash(t *testing.T, waitSync bool) {
	eachStore(t, func(t *testing.T, db *store.DB, clk *clock) {
		const grant = 10 * money.Scale
		e := newEnv(t, db, clk, envOpts{grant: grant})
		dir := t.TempDir()
		g1, srv1 := e.journaled(dir, "node-1", waitSync)
		g1.settler.stall = make(chan struct{}) // its batches never commit
		id, cost := e.answered(srv1.URL)
		if n := len(e.events()); n != 0 {
			t.Fatalf("%d events before the settle ran", n)
		}
		die(g1)

		g2, _ := e.journaled(dir, "node-1")
		e.chargedOnce(id, grant, cost)
		must(t, g2.Flush(context.Background()))
		must(t, g2.Close())
		g3, _ := e.journaled(dir, "node-1")
		e.chargedOnce(id, grant, cost)
		must(t, g3.Close())
	})
}

// A request whose settle was committed before the node died is found again in the
// journal at the next start, and is not charged a second time.
func TestSettledRequestNotChargedTwiceAfterReplay(t *testing.T) {
	eachStore(t, func(t *testing.T, db *store.DB, clk *clock) {
		const grant = 10 * money.Scale
		e := newEnv(t, db, clk, envOpts{grant: grant})
		dir := t.TempDir()
		g1, srv1 := e.journaled(dir, "node-1")
		id, cost := e.answered(srv1.URL)
		must(t, g1.Flush(context.Background()))
		e.chargedOnce(id, grant, cost)
		if n := recordsIn(t, g1.settler.journal.cur.path); n != 1 {
			t.Fatalf("the journal holds %d records: the replay of the committed one would not be tested", n)
		}
		die(g1)

		g2, _ := e.journaled(dir, "node-1")
		e.chargedOnce(id, grant, cost)
		must(t, g2.Close())
	})
}

// A replayed request is charged at the price in effect when it was made, even when a
// new price took effect before the replay.
func TestReplayChargesThePriceOfTheRequestTime(t *testing.T) {
	eachStore(t, func(t *testing.T, db *store.DB, clk *clock) {
		const grant = 10 * money.Scale
		e := newEnv(t, db, clk, envOpts{grant: grant})
		dir := t.TempDir()
		g1, srv1 := e.journaled(dir, "node-1")
		g1.settler.stall = make(chan struct{})
		id, cost := e.answered(srv1.URL)
		die(g1)

		p := testPrice
		p.Input, p.Output, p.EffectiveFrom = 10*testPrice.Input, 10*testPrice.Output, clk.Now().Add(time.Minute)
		must(t, db.AddPrice(context.Background(), pricing.Price(p)))
		clk.Advance(2 * time.Minute)
		e.metering.Invalidate()
		g2, _ := e.journaled(dir, "node-1")
		e.chargedOnce(id, grant, cost)
		must(t, g2.Close())
	})
}
