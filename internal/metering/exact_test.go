package metering_test

import (
	"context"
	"fmt"
	"math/big"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"spectra/internal/metering"
	"spectra/internal/money"
	"spectra/internal/pricing"
)

// TestNoRevenueLostToRounding: 10,000 10-token embeddings at $0.02 per 1M cost 0.2
// micro-units each. Rounded one by one, each cost 0 and all of them nothing; charged
// against the wallet's carry they cost 2,000 micro-units, as the ledger, the rollups and
// the events say alike.
func TestNoRevenueLostToRounding(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		p := pricing.Price{Model: "embed", Input: 20_000, EffectiveFrom: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), CreatedAt: e.Clock.Now()}
		if err := e.DB.AddPrice(ctx, p); err != nil {
			t.Fatal(err)
		}
		ws := e.Workspace(t, 0)
		e.Grant(t, ws, money.Scale)
		const n, per = 10_000, 1_000
		for b := range n / per {
			events := make([]metering.Event, per)
			for i := range events {
				events[i] = metering.Event{ID: fmt.Sprintf("e%05d", b*per+i), WorkspaceID: ws, Model: "embed",
					Timestamp: e.Clock.Now().Add(-time.Duration(i) * time.Second), Usage: pricing.Usage{Input: 10}}
			}
			if res := e.ingest(t, events); res.Accepted != per {
				t.Fatalf("batch %d: %+v", b, res)
			}
		}
		const want = n * 2 / 10 // 0.2 micro-units each
		if spent := money.Scale - e.Balance(t, ws).Balance; spent < want-1 || spent > want {
			t.Fatalf("charged %s for %d events of 0.2 micro-units; want %d micro-units (within one)", spent, n, want)
		}
		if got := e.usageTotal(t, ws); got.Cost != money.Scale-e.Balance(t, ws).Balance || got.Requests != n {
			t.Fatalf("rollups: %+v; want the ledger's %s", got, money.Scale-e.Balance(t, ws).Balance)
		}
		evs, err := e.Meter.Events(ctx, metering.EventFilter{WorkspaceID: ws, Limit: 1000})
		if err != nil || len(evs) != 1000 {
			t.Fatalf("events: %d %v", len(evs), err)
		}
		for _, ev := range evs {
			if ev.CostExact != (pricing.Exact{Frac: 200_000}) || ev.Cost > 1 || ev.PriceFrom != p.EffectiveFrom || ev.BilledTier != "default" {
				t.Fatalf("event %+v: want an exact cost of 0.000000200000 charged 0 or 1 micro-unit, priced at the version of %s", ev, p.EffectiveFrom)
			}
		}
		e.Verify(t)
	})
}

// TestExactChargingProperty: random prices, usages, batch splits (sent concurrently),
// repeats and conflicting repeats over several wallets. Per wallet, Σ charged equals
// floor(Σ exact costs) computed independently in big integers (so within one
// micro-unit), every event's recorded exact cost is its independent exact cost and its
// charge that rounded down or up; Σ event costs = the ledger's usage = the rollups'
// cost; and verify (the carry check included) passes.
func TestExactChargingProperty(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		for seed := range uint64(3) {
			r := rand.New(rand.NewPCG(seed, 15))
			prices := map[string]pricing.Price{}
			for m := range 3 {
				amount := func(max int64) money.Amount {
					if r.IntN(4) == 0 {
						return 0
					}
					return money.Amount(r.Int64N(max))
				}
				p := pricing.Price{Model: fmt.Sprintf("m%d-%d", seed, m), Input: amount(5_000_000), CachedInput: amount(1_000_000),
					Output: amount(20_000_000), Request: amount(50), EffectiveFrom: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), CreatedAt: e.Clock.Now()}
				if err := e.DB.AddPrice(ctx, p); err != nil {
					t.Fatal(err)
				}
				prices[p.Model] = p
			}
			e.Meter.Invalidate()
			wallets := []string{e.Workspace(t, 0), e.Workspace(t, 0), e.Workspace(t, 0)}
			for _, ws := range wallets {
				e.Grant(t, ws, 1000*money.Scale)
			}
			var all []metering.Event
			for i := range 600 {
				in := r.Int64N(3000)
				m := fmt.Sprintf("m%d-%d", seed, r.IntN(3))
				all = append(all, metering.Event{ID: fmt.Sprintf("s%d-%d", seed, i), WorkspaceID: wallets[r.IntN(len(wallets))], Model: m,
					Timestamp: e.Clock.Now().Add(-time.Duration(r.IntN(7200)) * time.Second),
					Usage:     pricing.Usage{Input: in, CachedInput: r.Int64N(in + 1), Output: r.Int64N(2000)}})
			}
			// Batches of random sizes, with repeats of events sent before and conflicting
			// repeats (same id, other contents), sent by four clients at once.
			var batches [][]metering.Event
			for rest := all; len(rest) > 0; {
				k := min(1+r.IntN(60), len(rest))
				b := append([]metering.Event(nil), rest[:k]...)
				for range r.IntN(4) {
					dup := all[r.IntN(len(all))]
					if r.IntN(3) == 0 {
						dup.Usage.Output++ // a conflict when the original is stored first; else the original is the conflict
					}
					b = append(b, dup)
				}
				batches = append(batches, b)
				rest = rest[k:]
			}
			var wg sync.WaitGroup
			for c := range 4 {
				wg.Go(func() {
					for i := c; i < len(batches); i += 4 {
						if _, err := e.Meter.Ingest(ctx, append([]metering.Event(nil), batches[i]...)); err != nil {
							t.Error(err)
						}
					}
				})
			}
			wg.Wait()
			for _, ws := range wallets {
				evs, err := e.Meter.Events(ctx, metering.EventFilter{WorkspaceID: ws, Limit: 1000})
				if err != nil {
					t.Fatal(err)
				}
				exact, charged := new(big.Int), money.Amount(0) // exact in 10^-12 of the currency
				for _, ev := range evs {
					p := prices[ev.Model]
					u := ev.Usage
					x := new(big.Int).Mul(big.NewInt(u.Input-u.CachedInput), big.NewInt(int64(p.Input)))
					x.Add(x, new(big.Int).Mul(big.NewInt(u.CachedInput), big.NewInt(int64(p.CachedInput))))
					x.Add(x, new(big.Int).Mul(big.NewInt(u.Output), big.NewInt(int64(p.Output))))
					x.Add(x, new(big.Int).Mul(big.NewInt(int64(p.Request)), big.NewInt(1_000_000)))
					q, rem := new(big.Int).QuoRem(x, big.NewInt(1_000_000), new(big.Int))
					want := pricing.Exact{Micro: money.Amount(q.Int64()), Frac: rem.Int64()}
					if ev.CostExact != want || (ev.Cost != want.Micro && ev.Cost != want.Ceil()) {
						t.Fatalf("seed %d, event %s: exact %s charged %s; want exact %s charged it rounded down or up", seed, ev.ID, ev.CostExact, ev.Cost, want)
					}
					exact.Add(exact, x)
					charged += ev.Cost
				}
				floor := new(big.Int).Quo(exact, big.NewInt(1_000_000)).Int64()
				if int64(charged) != floor {
					t.Fatalf("seed %d, wallet %s: events charged %s in all; want floor(Σ exact) = %d micro-units (Σ exact %s × 10⁻¹²)", seed, ws, charged, floor, exact)
				}
				if spent := 1000*money.Scale - e.Balance(t, ws).Balance; spent != charged {
					t.Fatalf("seed %d, wallet %s: the ledger charged %s; the events %s", seed, ws, spent, charged)
				}
				if got := e.usageTotal(t, ws); got.Cost != charged || got.Requests != int64(len(evs)) {
					t.Fatalf("seed %d, wallet %s: rollups %+v; want cost %s over %d requests", seed, ws, got, charged, len(evs))
				}
			}
			e.Verify(t)
		}
	})
}
