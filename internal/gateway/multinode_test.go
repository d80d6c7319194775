package gateway

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"spectra/internal/ledger"
	"spectra/internal/metering"
	"spectra/internal/money"
	"spectra/internal/pricing"
	"spectra/internal/store"
	"spectra/internal/team"
)

// Three nodes' hold books on one database, 24 clients spreading requests over them, and
// credit for exactly 300 requests (each request's estimate is its cost): at least 295 are
// admitted, none is refused while the wallet's true available balance (balance − the
// estimates in flight on every node) covers it, nothing is held at the end, and verify
// passes. Issue 11, item 5: three nodes admitted 1,938 of 2,000, refused every request for
// 95 s while 62 requests' worth remained, and one node refused 581 requests while the
// balance was 1.46–3.23. The books publish on their own, as in production.
func TestThreeNodesSpendTheWholeWallet(t *testing.T) {
	if testing.Short() {
		t.Skip("a load test")
	}
	eachStore(t, func(t *testing.T, db *store.DB, clk *clock) {
		const (
			cost     = money.Amount(1_000)
			requests = 300
			clients  = 24
		)
		ctx := context.Background()
		ls := ledger.NewService(db, clk.Now)
		ms := metering.NewService(db, db, clk.Now)
		must(t, db.AddPrice(ctx, pricing.Price{Model: "per-request", Request: cost, EffectiveFrom: clk.Now().Add(-time.Hour)}))
		ws, err := team.NewService(db, clk.Now).CreateWorkspace(ctx, team.Workspace{Name: "Acme"})
		must(t, err)
		_, _, err = ls.Grant(ctx, ws.ID, requests*cost, "start", "")
		must(t, err)

		var books [3]*holdBook
		for i := range books {
			books[i] = newHoldBook(leaseOps{ls, db}, fmt.Sprintf("node-%d", i), clk.Now, 10*time.Minute,
				slog.New(slog.NewTextHandler(io.Discard, nil)))
		}
		var (
			inflight atomic.Int64 // Σ estimates admitted (or being asked for) and not yet settled
			admitted atomic.Int64
			seq      atomic.Int64
			wg       sync.WaitGroup
			mu       sync.Mutex
			wrong    []string
		)
		for c := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					b := books[(c+i)%len(books)]
					inflight.Add(int64(cost))
					h, err := b.reserve(ctx, ws.ID, cost)
					if err != nil {
						if err != errInsufficient {
							t.Error(err)
							return
						}
						// The true available balance only goes down (an admission takes an
						// estimate, a settle turns it into the same cost), so reading the
						// in-flight first and the balance after gives at most what was
						// available when the request was refused.
						others := money.Amount(inflight.Load()) - cost
						bal, err := ls.Balance(ctx, ws.ID)
						inflight.Add(-int64(cost))
						if err != nil {
							t.Error(err)
							return
						}
						if avail := bal.Balance - others; avail >= cost {
							mu.Lock()
							wrong = append(wrong, fmt.Sprintf("node %d refused with %s available", (c+i)%len(books), avail))
							mu.Unlock()
							continue
						}
						return
					}
					ev := metering.Event{ID: fmt.Sprintf("req-%d", seq.Add(1)), WorkspaceID: ws.ID, Model: "per-request",
						Timestamp: clk.Now(), Usage: pricing.Usage{Input: 1}, Source: "gateway"}
					res, err := ms.Ingest(ctx, []metering.Event{ev})
					if err != nil || res.Outcomes[0] != metering.Accepted {
						t.Errorf("ingest: %+v %v", res, err)
						b.release(h)
						inflight.Add(-int64(cost))
						return
					}
					b.settle(h, res.Events[0].Cost)
					inflight.Add(-int64(cost))
					admitted.Add(1)
				}
			}()
		}
		wg.Wait()
		if len(wrong) > 0 {
			t.Errorf("%d refusals while the available balance covered the request, e.g. %s", len(wrong), wrong[0])
		}
		if n := admitted.Load(); n < requests-5 {
			t.Errorf("admitted %d of the %d requests the credit pays for", n, requests)
		}
		// Every node publishes once more (its own publisher may be at it too): nothing in
		// flight, nothing held, before any lease is given back.
		for _, b := range books {
			b.quiesce()
			_, err := b.publish(ctx)
			must(t, err)
		}
		var bal ledger.Balance
		waitFor(t, "the last publications", func() bool {
			bal, err = ls.Balance(ctx, ws.ID)
			must(t, err)
			return bal.Held == 0
		})
		if bal.Held != 0 || bal.Available != bal.Balance || bal.Balance != (requests-money.Amount(admitted.Load()))*cost {
			t.Errorf("after the last settle: %+v with %d admitted", bal, admitted.Load())
		}
		for _, b := range books {
			must(t, b.flush())
		}
		rep, err := db.Verify(ctx)
		must(t, err)
		if !rep.OK() {
			t.Fatalf("verify: %+v", rep)
		}
		t.Logf("admitted %d of %d; balance %s", admitted.Load(), requests, bal.Balance)
	})
}
