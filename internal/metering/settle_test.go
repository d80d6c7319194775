package metering_test

import (
	"context"
	"testing"
	"time"

	"spectra/internal/metering"
	"spectra/internal/money"
	"spectra/internal/pricing"
	"spectra/internal/store/storetest"
)

// TestUsageBesideHolds: an event charges its actual cost and leaves the wallet's holds
// as they were (a hold is only ever released, by its holder or by expiry); usage is a
// fact, posted even past the balance and the holds, and a duplicate is not charged again.
func TestUsageBesideHolds(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.catalog(t)
		ws := e.Workspace(t, 0)
		e.Grant(t, ws, 10*money.Scale)
		event := func(id string, out int64) metering.Event {
			return metering.Event{ID: id, WorkspaceID: ws, Model: "gpt-x", Timestamp: e.Clock.Now(), Usage: pricing.Usage{Output: out}}
		}
		if _, err := e.Ledger.Reserve(ctx, ws, "h1", 5*money.Scale, time.Minute); err != nil {
			t.Fatal(err)
		}
		res := e.ingest(t, []metering.Event{event("e1", 400_000)}) // 3.2000 + fee
		cost := res.Events[0].Cost
		if res.Accepted != 1 || cost != 3_200_100 {
			t.Fatalf("ingest: %+v", res)
		}
		if b := e.Balance(t, ws); b.Held != 5*money.Scale || b.Balance != 10*money.Scale-cost {
			t.Errorf("after the event: %+v; want the hold untouched and the cost charged", b)
		}
		// Above what the wallet has left beside the hold, and above the balance: posted
		// anyway, the balance goes negative and the hold stays.
		res = e.ingest(t, []metering.Event{event("e2", 2_000_000)}) // 16.0000 + fee
		if res.Accepted != 1 {
			t.Fatalf("usage beyond the balance: %+v", res)
		}
		b := e.Balance(t, ws)
		if want := 10*money.Scale - cost - res.Events[0].Cost; b.Held != 5*money.Scale || b.Balance != want || b.Balance >= 0 {
			t.Errorf("after the large event: %+v; want balance %s and the hold untouched", b, want)
		}
		// A duplicate changes nothing.
		res = e.ingest(t, []metering.Event{event("e2", 2_000_000)})
		if res.Duplicates != 1 {
			t.Fatalf("duplicate: %+v", res)
		}
		if after := e.Balance(t, ws); after != b {
			t.Errorf("after the duplicate: %+v; want %+v", after, b)
		}
		// The hold is its holder's to release, once.
		if err := e.Ledger.Release(ctx, "h1"); err != nil {
			t.Fatal(err)
		}
		storetest.WantCode(t, e.Ledger.Release(ctx, "h1"), "hold_not_found")
		if after := e.Balance(t, ws); after.Held != 0 || after.Balance != b.Balance {
			t.Errorf("after the release: %+v; want nothing held and the balance %s", after, b.Balance)
		}
		e.Verify(t)
	})
}

// TestCatalogChanged: a price version added behind the service's back (another node, or
// between pricing and applying) makes the store refuse the stale pricing and the service
// reprice with the new catalog.
func TestCatalogChanged(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.catalog(t)
		ws := e.Workspace(t, 0)
		ts := e.Clock.Now().Add(-time.Hour)
		ev := func(id, model string) metering.Event {
			return metering.Event{ID: id, WorkspaceID: ws, Model: model, Timestamp: ts, Usage: pricing.Usage{Output: 1_000_000}}
		}
		res := e.ingest(t, []metering.Event{ev("e1", "gpt-x")})
		if res.Events[0].Cost != 8_000_100 {
			t.Fatalf("first cost %s", res.Events[0].Cost)
		}
		stale, err := e.Meter.Catalog(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// A new version of gpt-x, in effect since two hours ago, and a new model.
		v2 := priceX
		v2.Output, v2.Request, v2.EffectiveFrom, v2.CreatedAt = 16_000_000, 0, e.Clock.Now().Add(-2*time.Hour), e.Clock.Now()
		newModel := pricing.Price{Model: "gpt-z", Output: 1_000_000, EffectiveFrom: priceX.EffectiveFrom, CreatedAt: e.Clock.Now()}
		for _, p := range []pricing.Price{v2, newModel} {
			if err := e.DB.AddPrice(ctx, p); err != nil {
				t.Fatal(err)
			}
		}
		// The store refuses events priced with the stale catalog, applying nothing.
		stalePriced := ev("s1", "gpt-x")
		if err := stalePriced.Prepare(e.Clock.Now()); err != nil {
			t.Fatal(err)
		}
		stalePriced.Cost = 8_000_100
		if _, err := e.DB.ApplyEvents(ctx, stale.Version, []metering.Event{stalePriced}); err != metering.ErrCatalogChanged {
			t.Fatalf("ApplyEvents with a stale catalog: %v", err)
		}
		if stored, _ := e.Meter.Events(ctx, metering.EventFilter{WorkspaceID: ws}); len(stored) != 1 {
			t.Fatalf("the stale batch was applied: %+v", stored)
		}
		// The service, still holding the stale catalog, reprices.
		res = e.ingest(t, []metering.Event{ev("e2", "gpt-x")})
		if res.Accepted != 1 || res.Events[0].Cost != 16_000_000 {
			t.Errorf("after the new version: %+v, cost %s; want 16.000000", res, res.Events[0].Cost)
		}
		// Events before the new version keep the old price; e1 is never repriced.
		old := ev("e3", "gpt-x")
		old.Timestamp = e.Clock.Now().Add(-3 * time.Hour)
		res = e.ingest(t, []metering.Event{old, ev("e1", "gpt-x")})
		if res.Accepted != 1 || res.Duplicates != 1 || res.Events[0].Cost != 8_000_100 {
			t.Errorf("an event before the new version: %+v cost %s", res, res.Events[0].Cost)
		}
		if b := e.Balance(t, ws); b.Balance != -(8_000_100 + 16_000_000 + 8_000_100) {
			t.Errorf("balance %s", b.Balance)
		}
		e.Verify(t)
	})
}

// TestNewModelSeenByCachedService: a batch made only of events for a model added after
// the service cached its catalog is priced, not refused as unknown.
func TestNewModelSeenByCachedService(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.catalog(t)
		ws := e.Workspace(t, 0)
		if _, err := e.Meter.Catalog(ctx); err != nil { // cached now
			t.Fatal(err)
		}
		if err := e.DB.AddPrice(ctx, pricing.Price{Model: "gpt-z", Output: 1_000_000, EffectiveFrom: priceX.EffectiveFrom, CreatedAt: e.Clock.Now()}); err != nil {
			t.Fatal(err)
		}
		res := e.ingest(t, []metering.Event{{ID: "z1", WorkspaceID: ws, Model: "gpt-z", Timestamp: e.Clock.Now(), Usage: pricing.Usage{Output: 5}}})
		if res.Accepted != 1 || len(res.Rejected) != 0 || res.Events[0].Cost != 5 {
			t.Errorf("an event for a new model: %+v", res)
		}
		// A model that really is unknown is still refused.
		res = e.ingest(t, []metering.Event{{ID: "n1", WorkspaceID: ws, Model: "nope", Timestamp: e.Clock.Now(), Usage: pricing.Usage{Output: 5}}})
		if len(res.Rejected) != 1 || res.Rejected[0].Code != "unknown_model" {
			t.Errorf("an unknown model: %+v", res)
		}
	})
}
