package store_test

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"

	"spectra/internal/ledger"
	"spectra/internal/money"
)

// modelLot is the property test's own account of a lot.
type modelLot struct {
	transfer                         int64
	kind                             ledger.CreditKind
	expires                          *time.Time
	amount, remaining, used, expired money.Amount
}

// TestLotsProperty: over random grants (both kinds, random expiries), usage, refunds and
// expiry runs, every lot matches an independent model that spends in the documented
// order (promotional, earliest expiry, never-expiring last, oldest), no lot goes
// negative, Σ remaining − debt = balance after every step, and verify passes.
func TestLotsProperty(t *testing.T) {
	propChecks(t, 25)
	coreEach(t, func(t *testing.T, e *coreEnv) {
		ctx := context.Background()
		rapid.Check(t, func(rt *rapid.T) {
			ws := e.Workspace(rt, 1_000_000)
			var lots []*modelLot
			var debt money.Amount
			draw := func(amount money.Amount) {
				open := []*modelLot{}
				for _, l := range lots {
					if l.remaining > 0 {
						open = append(open, l)
					}
				}
				slices.SortStableFunc(open, func(a, b *modelLot) int {
					if a.kind != b.kind {
						if a.kind == ledger.CreditPromotional {
							return -1
						}
						return 1
					}
					switch {
					case a.expires == nil && b.expires != nil:
						return 1
					case a.expires != nil && b.expires == nil:
						return -1
					case a.expires != nil && !a.expires.Equal(*b.expires):
						return a.expires.Compare(*b.expires)
					}
					return cmp.Compare(a.transfer, b.transfer)
				})
				for _, l := range open {
					x := min(l.remaining, amount)
					l.remaining, l.used, amount = l.remaining-x, l.used+x, amount-x
				}
				debt += amount
			}
			steps := rapid.IntRange(1, 30).Draw(rt, "steps")
			for i := range steps {
				switch op := rapid.IntRange(0, 9).Draw(rt, fmt.Sprint("op", i)); {
				case op <= 3: // a grant
					kind := rapid.SampledFrom([]ledger.CreditKind{ledger.CreditPaid, ledger.CreditPromotional}).Draw(rt, "kind")
					amount := money.Amount(rapid.Int64Range(1, 1000).Draw(rt, "grant"))
					var exp time.Time
					var expP *time.Time
					if rapid.Bool().Draw(rt, "expires") {
						exp = e.Clock.Now().Add(time.Duration(rapid.IntRange(1, 120).Draw(rt, "minutes")) * time.Minute)
						expP = &exp
					}
					tr := grantLot(rt, e, ws, amount, kind, exp)
					l := &modelLot{transfer: tr.ID, kind: kind, expires: expP, amount: amount, remaining: amount}
					repay := min(debt, amount)
					l.remaining, l.used, debt = amount-repay, repay, debt-repay
					lots = append(lots, l)
				case op <= 6: // usage
					amount := money.Amount(rapid.Int64Range(1, 1500).Draw(rt, "usage"))
					debit(rt, e.DB, ws, ledger.KindUsage, amount)
					draw(amount)
				case op == 7: // a refund
					amount := money.Amount(rapid.Int64Range(1, 300).Draw(rt, "refund"))
					debit(rt, e.DB, ws, ledger.KindRefund, amount)
					draw(amount)
				default: // time passes, and expiry runs
					e.Clock.Advance(time.Duration(rapid.IntRange(0, 60).Draw(rt, "advance")) * time.Minute)
					now := e.Clock.Now()
					out, err := e.DB.ExpireLots(ctx, now)
					if err != nil {
						rt.Fatal(err)
					}
					var want, got money.Amount
					n := 0
					for _, l := range lots {
						if l.expires != nil && !l.expires.After(now) && l.remaining > 0 {
							want += l.remaining
							l.expired, l.remaining = l.remaining, 0
							n++
						}
					}
					for _, tr := range out {
						if tr.WorkspaceID == ws {
							got += tr.Amount
						}
					}
					if got != want {
						rt.Fatalf("expiry took %d; want %d from %d lots", got, want, n)
					}
				}
				// After every step: the store's lots are the model's.
				stored := lotsOf(rt, e.DB, ws)
				if len(stored) != len(lots) {
					rt.Fatalf("%d lots; want %d", len(stored), len(lots))
				}
				byTransfer := map[int64]ledger.Lot{}
				var sum money.Amount
				for _, l := range stored {
					if l.Remaining < 0 || l.Used < 0 || l.Expired < 0 || l.Used+l.Expired+l.Remaining != l.Amount {
						rt.Fatalf("lot %+v", l)
					}
					byTransfer[l.TransferID] = l
					sum += l.Remaining
				}
				for _, m := range lots {
					s := byTransfer[m.transfer]
					if s.Kind != m.kind || s.Remaining != m.remaining || s.Used != m.used || s.Expired != m.expired {
						rt.Fatalf("step %d: lot of transfer %d is %+v; the model says remaining %d, used %d, expired %d", i, m.transfer, s, m.remaining, m.used, m.expired)
					}
				}
				b := e.Balance(rt, ws)
				if b.Balance != sum-debt {
					rt.Fatalf("balance %d; lots %d − debt %d", b.Balance, sum, debt)
				}
			}
			mustVerify(rt, e)
		})
	})
}
