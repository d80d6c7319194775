package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"pgregory.net/rapid"

	"spectra/internal/ledger"
	"spectra/internal/money"
	"spectra/internal/store"
	"spectra/internal/store/storetest"
)

// memLedger is a wallet's ledger in memory, with the store's guards and lease rules
// (store/leases.go): a lease (or its growth above what it covers) must leave
// balance − held ≥ 0, a new one must find balance − held > 0, growth beyond the minimum
// is capped at a share of what is left, and a refusal while other leases may hold unused
// room (each counts whole) flags them for reclaim.
type memLedger struct {
	mu      sync.Mutex
	balance money.Amount
	holds   map[string]*memLease
}

type memLease struct {
	node             string
	amount, inflight money.Amount
	reclaim          int // 0 none, 1 asked, 2 answered (until the next publication)
}

// set is a change by the lease's node.
func (x *memLease) set(amount, inflight money.Amount, answer bool) {
	x.amount, x.inflight = amount, inflight
	switch {
	case answer:
		x.reclaim = 2
	case x.reclaim == 2:
		x.reclaim = 0
	}
}

func newMemLedger(balance money.Amount) *memLedger {
	return &memLedger{balance: balance, holds: map[string]*memLease{}}
}

func (l *memLedger) held() money.Amount {
	var h money.Amount
	for _, x := range l.holds {
		h += x.amount
	}
	return h
}

// shownHeld is held as users see it: each lease up to its published inflight.
func (l *memLedger) shownHeld() money.Amount {
	var h money.Amount
	for _, x := range l.holds {
		h += min(x.amount, x.inflight)
	}
	return h
}

func (l *memLedger) refuse(self string, shortfall money.Amount) error {
	var spare money.Amount
	for id, x := range l.holds {
		if id != self && x.amount > 0 {
			spare += x.amount // whole: its node's published figures may be stale
		}
	}
	if spare <= 0 || spare < shortfall {
		return ledger.ErrInsufficient
	}
	for id, x := range l.holds {
		if id != self && x.amount > 0 {
			x.reclaim = 1
		}
	}
	return ledger.ErrReclaimPending
}

func (l *memLedger) grant(ls ledger.Lease, room money.Amount) money.Amount {
	extra, left := ls.Amount()-ls.Min, room-ls.Min
	if extra <= 0 || left <= 0 {
		return ls.Min
	}
	return ls.Min + min(extra, left/money.Amount(ledger.LeaseShare*max(len(l.holds), 1)))
}

func (l *memLedger) ReserveLease(_ context.Context, ls ledger.Lease) (money.Amount, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if x, ok := l.holds[ls.ID]; ok {
		return x.amount, nil
	}
	free := l.balance - l.held()
	if free <= 0 || ls.Min > free {
		return 0, l.refuse(ls.ID, max(ls.Min-free, 1))
	}
	x := &memLease{node: ls.Node, inflight: ls.Inflight}
	l.holds[ls.ID] = x
	x.amount = l.grant(ls, free)
	return x.amount, nil
}

func (l *memLedger) ResizeLease(_ context.Context, ls ledger.Lease) (money.Amount, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	x, ok := l.holds[ls.ID]
	if !ok {
		return 0, ledger.ErrHoldNotFound
	}
	threshold := min(x.amount, ls.Covered)
	room := x.amount + l.balance - l.held()
	if limit := max(room, threshold); ls.Min > limit {
		return 0, l.refuse(ls.ID, ls.Min-limit)
	}
	x.set(l.grant(ls, room), ls.Inflight, ls.Reclaimed)
	return x.amount, nil
}

func (l *memLedger) PublishLeases(_ context.Context, ls []ledger.Lease) ([]error, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]error, len(ls))
	for i, c := range ls {
		x, ok := l.holds[c.ID]
		switch {
		case !ok:
			out[i] = ledger.ErrHoldNotFound
		case c.Min > min(x.amount, c.Covered):
			out[i] = ledger.ErrInsufficient
		default:
			x.set(c.Min, c.Inflight, c.Reclaimed)
		}
	}
	return out, nil
}

func (l *memLedger) LeaseReclaims(_ context.Context, node string) ([]string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var ids []string
	for id, x := range l.holds {
		if x.node == node && x.reclaim == 1 {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

func (l *memLedger) ReleaseNodeLeases(_ context.Context, node string) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for id, x := range l.holds {
		if x.node == node {
			delete(l.holds, id)
			n++
		}
	}
	return n, nil
}

func (l *memLedger) Release(_ context.Context, id string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.holds[id]; !ok {
		return ledger.ErrHoldNotFound
	}
	delete(l.holds, id)
	return nil
}

// quiesce waits until no lease resize is in flight.
func (b *holdBook) quiesce() {
	b.mu.Lock()
	ws := make([]*wallet, 0, len(b.wallets))
	for _, w := range b.wallets {
		ws = append(ws, w)
	}
	b.mu.Unlock()
	for _, w := range ws {
		w.mu.Lock()
		for w.op != nil {
			op := w.op
			w.mu.Unlock()
			<-op.done
			w.mu.Lock()
		}
		w.mu.Unlock()
	}
}

// Whatever sequence of requests, settles, releases, grants and flushes two nodes see,
// the wallet never spends more than it has: the admitted, unsettled estimates of both
// nodes always fit in the balance, and each node's lease in the ledger covers them.
func TestHoldBookNeverOverspends(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		led := newMemLedger(money.Amount(rapid.Int64Range(0, 10_000).Draw(rt, "grant")))
		clk := storetest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
		var books [2]*holdBook
		for i := range books {
			books[i] = testBook(led, fmt.Sprintf("node-%d", i), clk)
			books[i].linger = time.Hour // idle releases happen only through flush here
			books[i].reclaimTries = 0   // a reclaim is answered by a publish step, never waited for
		}
		type open struct {
			book int
			h    *hold
		}
		var holds []open
		ctx := context.Background()
		for step := range rapid.IntRange(1, 60).Draw(rt, "steps") {
			switch rapid.IntRange(0, 7).Draw(rt, "op") {
			case 0, 1: // a request arrives at a node
				n := rapid.IntRange(0, 1).Draw(rt, "node")
				est := money.Amount(rapid.Int64Range(0, 3_000).Draw(rt, "estimate"))
				h, err := books[n].reserve(ctx, "ws", est)
				if err == nil {
					holds = append(holds, open{n, h})
				} else if err != errInsufficient {
					rt.Fatalf("step %d: %v", step, err)
				}
			case 2: // a request ends: its cost (at most its estimate) is committed, then settled
				if len(holds) == 0 {
					continue
				}
				i := rapid.IntRange(0, len(holds)-1).Draw(rt, "settle")
				o := holds[i]
				cost := money.Amount(rapid.Int64Range(0, int64(o.h.amount)).Draw(rt, "cost"))
				led.mu.Lock()
				led.balance -= cost
				led.mu.Unlock()
				books[o.book].settle(o.h, cost)
				holds = append(holds[:i], holds[i+1:]...)
			case 3: // a request fails upstream
				if len(holds) == 0 {
					continue
				}
				i := rapid.IntRange(0, len(holds)-1).Draw(rt, "release")
				books[holds[i].book].release(holds[i].h)
				holds = append(holds[:i], holds[i+1:]...)
			case 4: // a recharge
				led.mu.Lock()
				led.balance += money.Amount(rapid.Int64Range(1, 2_000).Draw(rt, "recharge"))
				led.mu.Unlock()
			case 5:
				n := rapid.IntRange(0, 1).Draw(rt, "flush")
				if err := books[n].flush(); err != nil {
					rt.Fatal(err)
				}
			case 6, 7: // a node publishes: in-flight, settled costs, oversized room, reclaims
				n := rapid.IntRange(0, 1).Draw(rt, "publish")
				if _, err := books[n].publish(ctx); err != nil {
					rt.Fatal(err)
				}
				books[n].quiesce()
				if st := books[n].state("ws"); st.Lease != "" {
					led.mu.Lock()
					x := led.holds[st.Lease]
					if x == nil || x.inflight != st.Inflight || x.reclaim == 1 || st.Settled != 0 {
						rt.Fatalf("step %d: node %d published %+v, book %+v", step, n, x, st)
					}
					led.mu.Unlock()
				}
			}
			for _, b := range books {
				b.quiesce()
			}
			led.mu.Lock()
			var inflight money.Amount
			for n, b := range books {
				st := b.state("ws")
				inflight += st.Inflight
				if st.Lease == "" {
					continue
				}
				// What the node counts on is what the ledger holds for it.
				if x := led.holds[st.Lease]; x == nil || x.amount != st.Leased || x.amount < st.Inflight+st.Settled {
					rt.Fatalf("step %d: node %d's lease %s is %+v in the ledger, book %+v", step, n, st.Lease, x, st)
				}
			}
			if led.balance-inflight < 0 || led.balance < 0 {
				rt.Fatalf("step %d: balance %s with %s admitted and unsettled", step, led.balance, inflight)
			}
			// Held as users see it never counts more than the ledger holds.
			if sh := led.shownHeld(); sh > led.held() || sh < 0 {
				rt.Fatalf("step %d: shown held %s, ledger held %s", step, sh, led.held())
			}

			led.mu.Unlock()
		}
		for _, o := range holds {
			books[o.book].release(o.h)
		}
		for _, b := range books {
			if err := b.flush(); err != nil {
				rt.Fatal(err)
			}
		}
		if len(led.holds) != 0 {
			rt.Fatalf("leases left after flush: %v", led.holds)
		}
	})
}

// testBook is a hold book on l for node, on the test clock, that publishes only when
// told to (publish).
func testBook(l leaseLedger, node string, clk *clock) *holdBook {
	b := newHoldBook(l, node, clk.Now, 10*time.Minute, slog.New(slog.NewTextHandler(io.Discard, nil)))
	b.publishEvery = 0
	return b
}

// storeBook is a hold book for node on e's store, publishing only when told to.
func (e *env) storeBook(node string) *holdBook {
	return testBook(leaseOps{e.ledger, e.db}, node, e.clock)
}

// waitFor polls cond until it holds (a condition to reach, not a timing to assert).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("still waiting for %s", what)
		}
	}
}

// leaseExists reports whether lease is an active hold, by a resize that keeps it as is.
func (e *env) leaseExists(st bookState) bool {
	e.t.Helper()
	_, err := e.db.ResizeLease(context.Background(), ledger.Lease{ID: st.Lease, Min: st.Leased - st.Settled,
		Covered: st.Leased - st.Settled, Inflight: st.Inflight, ExpiresAt: e.clock.Now().Add(time.Hour)})
	if err != nil && !errors.Is(err, ledger.ErrHoldNotFound) {
		e.t.Fatal(err)
	}
	return err == nil
}

// A node that crashed (its book never gave its lease back) releases that lease when it
// starts again with the same node id, before serving; another node's lease stays
// (issue 11, item 4: it used to stay held until the sweeper, up to 1.5 × HoldTTL).
func TestLeaseReleasedAtRestart(t *testing.T) {
	eachStore(t, func(t *testing.T, db *store.DB, clk *clock) {
		e := newEnv(t, db, clk, envOpts{grant: 10_000_000})
		ctx := context.Background()
		gw := func(node string) *Gateway {
			g, err := New(Config{Team: e.team, Ledger: e.ledger, Metering: e.metering, Store: e.db, Now: clk.Now,
				Log: slog.New(slog.NewTextHandler(io.Discard, nil)), NodeID: node})
			must(t, err)
			g.book.publishEvery = 0
			return g
		}
		a, b := gw("node-a"), gw("node-b")
		var hb *hold
		for _, g := range []*Gateway{a, b} {
			h, err := g.book.reserve(ctx, e.ws.ID, 100_000)
			must(t, err)
			hb = h
		}
		sa, sb := a.book.state(e.ws.ID), b.book.state(e.ws.ID)
		if sa.Lease == "" || sb.Lease == "" || !e.leaseExists(sa) {
			t.Fatalf("leases: %+v %+v", sa, sb)
		}
		// node-a crashes (nothing is flushed) and starts again.
		gw("node-a")
		if e.leaseExists(sa) {
			t.Fatalf("node-a's lease %s is still held after its restart", sa.Lease)
		}
		if !e.leaseExists(sb) {
			t.Fatalf("node-b's lease %s was released by node-a's start", sb.Lease)
		}
		b.book.release(hb)
		must(t, b.book.flush())
		if bal := e.balance(); bal.Held != 0 {
			t.Fatalf("held %s", bal.Held)
		}
	})
}

// What users see as held is the estimates in flight, not the lease: one request shows
// its own estimate, and once every request has settled (and the node published) nothing
// is held and available is the balance (issue 11, item 6: one request of 0.0045 showed
// held 41.03; settled requests stayed held until the lease was resized).
func TestHeldIsWhatIsInFlight(t *testing.T) {
	eachStore(t, func(t *testing.T, db *store.DB, clk *clock) {
		e := newEnv(t, db, clk, envOpts{grant: 100_000_000})
		e.gw.book.publishEvery = 0
		ctx := context.Background()
		h, err := e.gw.book.reserve(ctx, e.ws.ID, 4_500)
		must(t, err)
		if st := e.gw.book.state(e.ws.ID); st.Leased <= 4_500 {
			t.Fatalf("the lease has no headroom: %+v", st)
		}
		if b := e.balance(); b.Held != 4_500 || b.Available != b.Balance-4_500 {
			t.Fatalf("one request of 0.0045 in flight shows %+v", b)
		}
		e.gw.book.release(h)
		// Real requests, settled (their costs charged) but the lease not resized since.
		for i := range 19 {
			if _, err := e.cl().Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: testModel,
				Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(fmt.Sprintf("hello %d", i))}}); err != nil {
				t.Fatal(err)
			}
		}
		waitFor(t, "every settle", func() bool { return e.gw.book.state(e.ws.ID).Open == 0 })
		st := e.gw.book.state(e.ws.ID)
		if st.Lease == "" || st.Settled == 0 {
			t.Fatalf("expected a lease with settled costs: %+v", st)
		}
		_, err = e.gw.book.publish(ctx)
		must(t, err)
		b := e.balance()
		if b.Held != 0 || b.Available != b.Balance || b.Balance >= 100_000_000 {
			t.Fatalf("after 19 settled requests: %+v", b)
		}
		if st := e.gw.book.state(e.ws.ID); st.Lease == "" || st.Settled != 0 || st.Leased == 0 {
			t.Fatalf("the lease should stay, its settled costs given back: %+v", st)
		}
		e.verify()
	})
}

// A node whose lease cannot grow takes back the room another node's lease holds and does
// not use: it is never refused while the wallet's true available balance covers its
// request (issue 11, item 5), and refused at once when it does not.
func TestReclaimBetweenNodes(t *testing.T) {
	eachStore(t, func(t *testing.T, db *store.DB, clk *clock) {
		e := newEnv(t, db, clk, envOpts{grant: 100_000})
		ctx := context.Background()
		a, b := e.storeBook("node-a"), e.storeBook("node-b")
		ha, err := a.reserve(ctx, e.ws.ID, 10_000)
		must(t, err)
		if st := a.state(e.ws.ID); st.Leased < 50_000 {
			t.Fatalf("node-a's lease has no headroom to take back: %+v", st)
		}
		// 90,000 is available; node-b needs 60,000, more than node-a's lease leaves.
		done := make(chan error, 1)
		var hb *hold
		go func() {
			var err error
			hb, err = b.reserve(ctx, e.ws.ID, 60_000)
			done <- err
		}()
		var berr error
	wait:
		for {
			select {
			case berr = <-done:
				break wait
			case <-time.After(5 * time.Millisecond):
				_, err := a.publish(ctx) // node-a's publisher, driven by the test
				must(t, err)
			}
		}
		if berr != nil {
			t.Fatalf("node-b refused while 90,000 of 100,000 was available: %v", berr)
		}
		if st := a.state(e.ws.ID); st.Leased != 10_000 || st.Inflight != 10_000 {
			t.Fatalf("node-a after the reclaim: %+v", st)
		}
		// 30,000 is left: 40,000 is refused (node-a does not wait here). node-b's lease
		// might hold costs settled since it last published, so node-b is asked; it
		// answers: its lease is its in-flight.
		a.reclaimTries = 0
		if _, err := a.reserve(ctx, e.ws.ID, 40_000); err != errInsufficient {
			t.Fatalf("over the available balance: %v", err)
		}
		b.quiesce() // a renewal in flight would put the answer off to the next publication
		_, err = b.publish(ctx)
		must(t, err)
		if st := b.state(e.ws.ID); st.Leased != 60_000 || st.Inflight != 60_000 {
			t.Fatalf("node-b after its answer: %+v", st)
		}
		// node-b's request settles for 20,000 before node-b publishes again: its answer
		// is stale, and 70,000 is truly available now. node-a's 40,000 must not be
		// refused at once because node-b's lease still says 60,000 in flight: node-b is
		// asked again, and node-a gets the room at node-b's next publication. (This is
		// the interleaving behind a 402 in TestClusterKillPostgres, issue 11 item 5.)
		if _, _, err := e.db.Transfer(ctx, ledger.TransferRequest{Key: "b-cost", Kind: ledger.KindRefund, From: ledger.Wallet(e.ws.ID),
			To: ledger.Refunds, Amount: 20_000, WorkspaceID: e.ws.ID}); err != nil {
			t.Fatal(err)
		}
		b.settle(hb, 20_000)
		a.reclaimTries = 40
		var h2 *hold
		go func() {
			var err error
			h2, err = a.reserve(ctx, e.ws.ID, 40_000)
			done <- err
		}()
	again:
		for {
			select {
			case berr = <-done:
				break again
			case <-time.After(5 * time.Millisecond):
				_, err := b.publish(ctx)
				must(t, err)
			}
		}
		if berr != nil {
			t.Fatalf("node-a refused 40,000 while 70,000 was available: %v", berr)
		}
		// Now 30,000 is left and node-b holds nothing: 40,000 more is refused at once,
		// and nobody is asked for room.
		if _, err := a.reserve(ctx, e.ws.ID, 40_000); err != errInsufficient {
			t.Fatalf("over the available balance: %v", err)
		}
		if ids, err := e.db.LeaseReclaims(ctx, "node-b"); err != nil || len(ids) != 0 {
			t.Fatalf("node-b asked for room it does not have: %v %v", ids, err)
		}
		a.release(ha)
		a.release(h2)
		for _, k := range []*holdBook{a, b} {
			must(t, k.flush())
		}
		e.verify()
	})
}

// With the node's own publisher (no publish called by the test), held returns to 0 after
// the last request settles, while the lease is still there (issue 11, item 6).
func TestHeldReturnsToZeroOnItsOwn(t *testing.T) {
	eachStore(t, func(t *testing.T, db *store.DB, clk *clock) {
		e := newEnv(t, db, clk, envOpts{grant: 100_000_000})
		e.gw.book.linger = time.Hour // the lease stays: held must go to 0 by publication
		ctx := context.Background()
		for i := range 5 {
			if _, err := e.cl().Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: testModel,
				Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(fmt.Sprintf("hello %d", i))}}); err != nil {
				t.Fatal(err)
			}
		}
		waitFor(t, "held back at 0", func() bool { return e.balance().Held == 0 && e.gw.book.state(e.ws.ID).Open == 0 })
		if st := e.gw.book.state(e.ws.ID); st.Lease == "" || st.Leased == 0 {
			t.Fatalf("the lease was given back: %+v", st)
		}
		if b := e.balance(); b.Available != b.Balance || b.Balance >= 100_000_000 {
			t.Fatalf("%+v", b)
		}
		e.verify()
	})
}
