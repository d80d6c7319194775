package requestlog

import (
	"testing"
	"time"

	"spectra/internal/metering"
	"spectra/internal/money"
	"spectra/internal/pricing"
)

// appliedPrice finds the version recorded with an event: a price list's own version, the
// catalog's as a list adjusted it, the catalog's; and for an event recorded before
// prices were, the catalog's version at its time. Its arithmetic's exact cost is the
// cost the event was priced at.
func TestAppliedPrice(t *testing.T) {
	d1, d2 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	cat := pricing.NewCatalog(1, []pricing.Price{
		{Model: "m", Input: 1_000_000, EffectiveFrom: d1},
		{Model: "m", Input: 2_000_000, EffectiveFrom: d2},
	}).WithLists([]pricing.PriceList{
		{Name: "cheap", AdjustBP: -1500},
		{Name: "own", Prices: []pricing.Price{{Model: "m", Input: 7_000_000, EffectiveFrom: d1}}},
	}, map[string]string{"w-cheap": "cheap", "w-own": "own"})
	u := pricing.Usage{Input: 1000}
	for _, tt := range []struct {
		ws    string
		at    time.Time
		input money.Amount
	}{
		{"w", d1.Add(time.Hour), 1_000_000},
		{"w", d2.Add(time.Hour), 2_000_000},
		{"w-cheap", d2.Add(time.Hour), 1_700_000},
		{"w-own", d2.Add(time.Hour), 7_000_000},
	} {
		p, list, err := cat.ForWorkspace(tt.ws, "m", tt.at)
		if err != nil {
			t.Fatal(err)
		}
		q, err := p.Quote(u)
		if err != nil {
			t.Fatal(err)
		}
		e := metering.Event{Model: "m", Timestamp: tt.at, Usage: u, PriceList: list, PriceFrom: p.EffectiveFrom, CostExact: q.Cost}
		got, ok := appliedPrice(cat, e)
		if !ok || got.Input != tt.input || Explain(got, u).Exact != q.Cost.String() {
			t.Errorf("%s at %s: %+v %v; want input %s and the exact cost %s", tt.ws, tt.at, got, ok, tt.input, q.Cost)
		}
	}
	// Before prices were recorded: the catalog's version at the event's time.
	if got, ok := appliedPrice(cat, metering.Event{Model: "m", Timestamp: d1.Add(time.Hour)}); !ok || got.Input != 1_000_000 {
		t.Errorf("old event: %+v %v", got, ok)
	}
	// A list gone, or a version that is not there: nothing to show rather than another price.
	for _, e := range []metering.Event{{Model: "m", PriceList: "gone", PriceFrom: d1}, {Model: "m", PriceFrom: d1.Add(time.Minute)}} {
		if got, ok := appliedPrice(cat, e); ok {
			t.Errorf("%+v: %+v", e, got)
		}
	}
}
