package api_test

import (
	"testing"
	"time"
)

// POST /api/v1/events accepts cache_write_1h_tokens, the part of cache_write_tokens
// written to a 1-hour cache, and prices it at cache_write_1h (the rest of the writes at
// cache_write); more 1-hour writes than writes, or a count that is not an integer, is
// rejected with its code.
func TestEventsCacheWrite1h(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ws := e.workspace(map[string]any{"name": "Acme"}).ID
		e.call("PUT", "/api/v1/prices/claude-x", operatorToken, map[string]any{"input": "3", "output": "15", "cache_write": "3.75",
			"cache_write_1h": "6", "effective_from": "2025-01-01T00:00:00Z"}, 201, nil)
		e.grant(ws, "10.00", "g")
		key := e.key(ws, map[string]any{"name": "ci"})
		at := t0.Add(-time.Hour)
		good := ev("split", "claude-x", at, 0, 0, 0)
		good["cache_write_tokens"], good["cache_write_1h_tokens"] = 1_000_000, 400_000
		over := ev("over", "claude-x", at, 0, 0, 0)
		over["cache_write_tokens"], over["cache_write_1h_tokens"] = 10, 11
		str := ev("string", "claude-x", at, 0, 0, 0)
		str["cache_write_1h_tokens"] = "5"
		out := e.send(key.Key, good, over, str)
		if out.Accepted != 1 || len(out.Rejected) != 2 || out.Rejected[0].Code != "cache_write_1h_exceeds_cache_write" || out.Rejected[1].Code != "invalid_tokens" {
			t.Fatalf("ingest %+v", out)
		}
		// 600,000 × 3.75 + 400,000 × 6 per million = 2.25 + 2.40.
		if b := e.balance(ws); b.Balance != "5.350000" {
			t.Fatalf("balance %s, want 5.350000", b.Balance)
		}
	})
}
