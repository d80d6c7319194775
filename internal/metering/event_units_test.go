package metering

import (
	"testing"
	"time"

	"spectra/internal/pricing"
)

// An event's 1-hour cache writes and web search calls enter its content hash (so a
// replay that differs only in them is a conflict, not a duplicate), and an event
// without them hashes as before they existed.
func TestContentHashCacheWrite1hAndWebSearch(t *testing.T) {
	now := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
	base := Event{ID: "e", WorkspaceID: "ws", Model: "m", Timestamp: now, Usage: pricing.Usage{Input: 10, CacheWrite: 8, Output: 2}}
	hash := func(u pricing.Usage) string {
		e := base
		e.Usage = u
		if err := e.Prepare(now); err != nil {
			t.Fatal(err)
		}
		return e.Hash
	}
	plain := hash(base.Usage)
	// The hash of this event as contentHash computed it before the new counts existed.
	if plain != "562c6bba1c9062849aa4e6447d97f562" {
		t.Fatalf("hash %q changed for an event without the new counts", plain)
	}
	with1h, withSearch := base.Usage, base.Usage
	with1h.CacheWrite1h = 8
	withSearch.WebSearchCalls = 2
	if h := hash(with1h); h == plain || h == hash(withSearch) {
		t.Fatalf("1-hour writes do not change the hash")
	}
	if hash(withSearch) == plain {
		t.Fatalf("web search calls do not change the hash")
	}
}
