package api_test

import (
	"strings"
	"testing"
	"time"
)

// cache_write_1h (per 1M one-hour cache-write tokens) and web_search_call (per call)
// round-trip through PUT and GET /api/v1/prices on both databases, default to "0", take
// part in replays, and are refused when negative.
func TestPriceCacheWrite1hAndWebSearch(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		body := map[string]any{"input": "3", "output": "15", "cache_write": "3.75", "cache_write_1h": "6", "web_search_call": "0.01"}
		var p map[string]any
		e.call("PUT", "/api/v1/prices/claude-x", operatorToken, body, 201, &p)
		if p["cache_write_1h"] != "6.000000" || p["web_search_call"] != "0.010000" {
			t.Fatalf("PUT answered %v", p)
		}
		e.call("PUT", "/api/v1/prices/claude-x", operatorToken, body, 200, nil) // a replay
		e.clock.Set(t0.Add(time.Hour))
		var plain map[string]any
		e.call("PUT", "/api/v1/prices/claude-x", operatorToken, map[string]any{"input": "3", "output": "15", "cache_write": "3.75"}, 201, &plain)
		if plain["cache_write_1h"] != "0.000000" || plain["web_search_call"] != "0.000000" {
			t.Fatalf("defaults %v", plain)
		}
		r := e.do("GET", "/api/v1/prices", operatorToken, nil)
		if r.status != 200 || !strings.Contains(string(r.body), `"cache_write_1h":"6.000000"`) || !strings.Contains(string(r.body), `"web_search_call":"0.010000"`) {
			t.Fatalf("GET %d %s", r.status, r.body)
		}
		for _, f := range []string{"cache_write_1h", "web_search_call"} {
			r := e.do("PUT", "/api/v1/prices/claude-y", operatorToken, map[string]any{"input": "1", "output": "2", f: "-1"})
			if r.status != 400 || !strings.Contains(string(r.body), `"invalid_price"`) {
				t.Fatalf("%s negative: %d %s", f, r.status, r.body)
			}
		}
	})
}
