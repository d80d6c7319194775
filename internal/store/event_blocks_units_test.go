package store

import (
	"testing"
	"time"

	"spectra/internal/metering"
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
	if len(got) != 2 || got[0].Usage != with.Usage || got[0].Held != 5 || got[1].Usage != without.Usage || got[1].Held != 5 {
		t.Fatalf("decoded %+v", got)
	}
	if _, err := decodeBlock("ws", 9, "["+enc[:len(enc)-1]+",1,2,3]]"); err == nil {
		t.Fatal("an event array that is too long was read")
	}
}
