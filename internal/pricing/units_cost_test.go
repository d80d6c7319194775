package pricing

import (
	"testing"

	"spectra/internal/errs"
	"spectra/internal/money"
)

// A 1-hour cache write is priced at cache_write_1h (cache_write when it is 0), the rest
// of the cache write at cache_write, and each web search call at web_search_call.
func TestCostCacheWrite1hAndWebSearch(t *testing.T) {
	// Claude-like prices per 1M: 3.00 input, 0.30 cache read, 3.75 5-minute write, 6.00
	// 1-hour write, 15.00 output; 0.01 per search.
	p := Price{Model: "m", Input: 3_000_000, CachedInput: 300_000, CacheWrite: 3_750_000, CacheWrite1h: 6_000_000,
		Output: 15_000_000, WebSearchCall: 10_000}
	for _, c := range []struct {
		name string
		u    Usage
		want money.Amount
	}{
		// 1,000 uncached × 3 + 2,000 write-5m × 3.75 + 4,000 write-1h × 6 + 500 out × 15 = 3,000+7,500+24,000+7,500 µ.
		{"writes", Usage{Input: 1000, CacheWrite: 6000, CacheWrite1h: 4000, Output: 500}, 42_000},
		// 100 uncached + 5,000 read × 0.30 + 10 out: 300 + 1,500 + 150.
		{"read", Usage{Input: 5100, CachedInput: 5000, Output: 10}, 1_950},
		// 3 searches at 0.01 on top of 10 input tokens: 30 + 30,000.
		{"search", Usage{Input: 10, WebSearchCalls: 3}, 30_030},
	} {
		got, err := Cost(p, c.u)
		if err != nil || got != c.want {
			t.Fatalf("%s: %s %v, want %s", c.name, got, err, c.want)
		}
		if ref, ok := refCost(p, c.u); !ok || ref != got {
			t.Fatalf("%s: reference %s", c.name, ref)
		}
	}
	q := p
	q.CacheWrite1h = 0 // not set: 1-hour writes at cache_write
	if got, _ := Cost(q, Usage{CacheWrite: 4000, CacheWrite1h: 4000}); got != 15_000 {
		t.Fatalf("1h at the default price: %s", got)
	}
	if _, err := Cost(Price{WebSearchCall: money.Amount(1 << 62)}, Usage{WebSearchCalls: 4}); !errs.Is(err, "cost_overflow") {
		t.Fatalf("search overflow: %v", err)
	}
	if err := (Usage{CacheWrite: 1, CacheWrite1h: 2}).Validate(); !errs.Is(err, "cache_write_1h_exceeds_cache_write") {
		t.Fatalf("validate: %v", err)
	}
	if err := (Usage{WebSearchCalls: -1}).Validate(); !errs.Is(err, "negative_tokens") {
		t.Fatalf("validate negative: %v", err)
	}
	bad := Price{Model: "m", CacheWrite1h: -1}
	if err := bad.Validate(); !errs.Is(err, "invalid_price") {
		t.Fatalf("negative 1h price: %v", err)
	}
}
