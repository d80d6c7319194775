package store

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"spectra/internal/metering"
	"spectra/internal/money"
	"spectra/internal/pricing"
)

// An event's 1-hour cache writes and web search calls are kept in its block (two
// trailing elements, written only when one is set) and read back; an event without them
// is written as before and reads them as 0.
func TestEventBlockCacheWrite1hAndWebSearch(t *testing.T) {
	with := metering.Event{ID: "a", Timestamp: time.UnixMicro(1).UTC(), Model: "claude", Source: "gateway", Hash: "h",
		Usage: pricing.Usage{Input: 14, CachedInput: 0, CacheWrite: 10, CacheWrite1h: 10, Output: 20, WebSearchCalls: 2}, Cost: 7, Held: 5}
	without := metering.Event{ID: "b", Timestamp: time.UnixMicro(2).UTC(), Model: "claude", Source: "gateway", Hash: "h2",
		Usage: pricing.Usage{Input: 4, CacheWrite: 10, Output: 20}, Cost: 3, Held: 5}
	enc := string(encodeEvent(&without))
	if enc[len(enc)-3:] != ",5]" {
		t.Fatalf("an event without them grew: %s", enc)
	}
	got, err := decodeBlock("ws", 9, "["+string(encodeEvent(&with))+","+enc+"]")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !reflect.DeepEqual(got[0].Usage, with.Usage) || got[0].Held != 5 || !reflect.DeepEqual(got[1].Usage, without.Usage) || got[1].Held != 5 {
		t.Fatalf("decoded %+v", got)
	}
	if _, err := decodeBlock("ws", 9, "["+enc[:len(enc)-1]+",1,2,3,4,5,6,7,8,9,10,11,12,13,null,15]]"); err == nil {
		t.Fatal("an event array that is too long was read")
	}
}

// TestEventBlockPriceAndShapes: the price that applied, the exact cost and the new usage
// shapes (issue 15) round-trip through a block; each trailing element is written only up
// to the last one set, the cost is written in once charged (encodedEvent), and an array
// written before them (an older block) reads its exact cost as its cost, the default
// tier and no price.
func TestEventBlockPriceAndShapes(t *testing.T) {
	full := metering.Event{ID: "a", WorkspaceID: "ws", IngestedAt: time.UnixMicro(9).UTC(), Timestamp: time.UnixMicro(1).UTC(), Model: "gpt-4o",
		Source: "gateway", Hash: "h", Held: 5, ServiceTier: "flex", BilledTier: "default", PriceList: "enterprise-2026",
		PriceFrom: time.UnixMicro(1_700_000_000_000_000).UTC(), ContextTier: 200000,
		CostExact: pricing.Exact{Micro: 41, Frac: 250_000}, Cost: 42,
		Usage: pricing.Usage{Input: 300000, AudioInput: 10, ImageInput: 20, Output: 50, AudioOutput: 5, ImageOutput: 6,
			Units: map[string]int64{"image_1024x1024_high": 2, "x.y": 1}, ServiceTier: "flex"}}
	x := encodeEventParts(&full)
	for _, cost := range []money.Amount{41, 42} {
		got, err := decodeBlock("ws", 9, "["+string(x.with(nil, cost))+"]")
		if err != nil {
			t.Fatal(err)
		}
		want := full
		want.Cost = cost
		if len(got) != 1 || !reflect.DeepEqual(got[0], want) {
			t.Fatalf("decoded %+v\nwant %+v", got, want)
		}
	}
	// Only the price: the time and nothing after (a whole-micro-unit exact cost is the cost).
	plain := metering.Event{ID: "b", Timestamp: time.UnixMicro(2).UTC(), Model: "m", Hash: "h", Cost: 3, CostExact: pricing.ExactOf(3),
		BilledTier: "default", PriceFrom: time.UnixMicro(5).UTC()}
	if enc := string(encodeEvent(&plain)); !strings.HasSuffix(enc, `"h",0,0,0,5]`) {
		t.Fatalf("plain event: %s", enc)
	}
	sub := plain
	sub.CostExact = pricing.Exact{Micro: 2, Frac: 200_000}
	if enc := string(encodeEvent(&sub)); !strings.HasSuffix(enc, `"h",0,0,0,5,2,200000]`) {
		t.Fatalf("sub-micro event: %s", enc)
	}
	// An array from before migration 0022 (and one from before held).
	got, err := decodeBlock("ws", 9, `[["c",3,"","","","m",1,0,0,1,0,7,"api","",0,0,0,0,null,"h",0],["d",3,"","","","m",1,0,0,1,0,8,"api","",0,0,0,0,null,"h"]]`)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].CostExact != pricing.ExactOf(7) || got[1].CostExact != pricing.ExactOf(8) || got[0].BilledTier != "default" ||
		!got[0].PriceFrom.IsZero() || got[0].PriceList != "" || got[0].Usage.Units != nil {
		t.Fatalf("old arrays: %+v", got)
	}
}
