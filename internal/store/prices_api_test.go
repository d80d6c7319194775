package store_test

import (
	"context"
	"testing"
	"time"

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
