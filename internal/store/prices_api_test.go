package store_test

import (
	"context"
	"testing"
	"time"

	"spectra/internal/errs"
	"spectra/internal/money"
	"spectra/internal/pricing"
	"spectra/internal/store"
	"spectra/internal/store/storetest"
)

// The 1-hour cache-write and web-search prices are stored and read back, and a version
// that differs only in them is a conflict, not the same version again.
func TestPriceCacheWrite1hAndWebSearchStored(t *testing.T) {
	storetest.Each(t, storetest.Options{}, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		p := pricing.Price{Model: "claude-x", Input: 3_000_000, CachedInput: 300_000, CacheWrite: 3_750_000, CacheWrite1h: 6_000_000,
			WebSearchCall: 10_000, Output: 15_000_000, EffectiveFrom: t0, CreatedAt: t0}
		if err := db.AddPrice(ctx, p); err != nil {
			t.Fatal(err)
		}
		if err := db.AddPrice(ctx, p); err != nil {
			t.Fatalf("the same version again: %v", err)
		}
		cat, err := db.Catalog(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got, err := cat.At("claude-x", t0)
		if err != nil || got.CacheWrite1h != 6_000_000 || got.WebSearchCall != 10_000 {
			t.Fatalf("read back %+v %v", got, err)
		}
		q := p
		q.CacheWrite1h = 7_000_000
		storetest.WantCode(t, db.AddPrice(ctx, q), "price_version_exists")
		q = p
		q.WebSearchCall = 20_000
		storetest.WantCode(t, db.AddPrice(ctx, q), "price_version_exists")
	})
}

// The shapes of issue 15 (modality rates, units, context tiers, service tiers) are stored
// and read back as given, the same version again is accepted, and a version that differs
// only in one of them is price_version_exists. A version without shapes reads back with none.
func TestPriceShapesStored(t *testing.T) {
	storetest.Each(t, storetest.Options{}, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		p := pricing.Price{Model: "gemini-x", Input: 1_250_000, CachedInput: 310_000, Output: 10_000_000,
			AudioInput: 40_000_000, AudioOutput: 80_000_000, ImageInput: 2_000_000, ImageOutput: 30_000_000,
			Units: map[string]money.Amount{"web_search_call": 35_000, "image_1024x1024_high": 167_000},
			Tiers: []pricing.Tier{{AboveInputTokens: 200_000, Rates: pricing.Rates{Input: 2_500_000, CachedInput: 625_000, Output: 15_000_000}}},
			ServiceTiers: map[string]pricing.ServiceTier{
				"flex":     {Rates: pricing.Rates{Input: 625_000, Output: 5_000_000}},
				"priority": {Rates: pricing.Rates{Input: 2_500_000, Output: 20_000_000}, Tiers: []pricing.Tier{{AboveInputTokens: 100_000, Rates: pricing.Rates{Input: 5_000_000}}}, Units: map[string]money.Amount{"web_search_call": 50_000}},
			},
			EffectiveFrom: t0, CreatedAt: t0}
		plain := pricing.Price{Model: "plain", Input: 1, Output: 2, EffectiveFrom: t0, CreatedAt: t0}
		for _, v := range []pricing.Price{p, plain} {
			if err := db.AddPrice(ctx, v); err != nil {
				t.Fatal(err)
			}
			if err := db.AddPrice(ctx, v); err != nil {
				t.Fatalf("the same version again: %v", err)
			}
		}
		cat, err := db.Catalog(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got, err := cat.At("gemini-x", t0)
		if err != nil || !pricing.SameCharges(got, p) || got.AudioOutput != 80_000_000 || got.Tiers[0].Output != 15_000_000 ||
			got.ServiceTiers["priority"].Units["web_search_call"] != 50_000 || got.Units["image_1024x1024_high"] != 167_000 {
			t.Fatalf("read back %+v %v", got, err)
		}
		if q, err := got.Quote(pricing.Usage{Input: 200_001, ServiceTier: "flex"}); err != nil || q.ServiceTier != "flex" || q.AboveInputTokens != 200_000 {
			t.Fatalf("flex has no tiers of its own: the base's apply: %+v %v", q, err)
		}
		if got, err := cat.At("plain", t0); err != nil || got.Units != nil || got.Tiers != nil || got.ServiceTiers != nil || got.AudioInput != 0 {
			t.Fatalf("plain read back %+v %v", got, err)
		}
		for name, edit := range map[string]func(q *pricing.Price){
			"audio output": func(q *pricing.Price) { q.AudioOutput++ },
			"image input":  func(q *pricing.Price) { q.ImageInput = 0 },
			"a unit":       func(q *pricing.Price) { q.Units = map[string]money.Amount{"web_search_call": 35_000} },
			"a tier": func(q *pricing.Price) {
				q.Tiers = []pricing.Tier{{AboveInputTokens: 128_000, Rates: pricing.Rates{Input: 2_500_000}}}
			},
			"no tiers": func(q *pricing.Price) { q.Tiers = nil },
			"service tier": func(q *pricing.Price) {
				q.ServiceTiers = map[string]pricing.ServiceTier{"flex": {Rates: pricing.Rates{Input: 1}}}
			},
		} {
			q := p
			edit(&q)
			if err := db.AddPrice(ctx, q); !errs.Is(err, "price_version_exists") {
				t.Errorf("%s: %v", name, err)
			}
		}
		q := plain
		q.Tiers = []pricing.Tier{{AboveInputTokens: 1, Rates: pricing.Rates{Input: 5}}}
		storetest.WantCode(t, db.AddPrice(ctx, q), "price_version_exists")
	})
}
