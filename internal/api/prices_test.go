package api_test

import (
	"testing"
	"time"
)

type priceOut struct {
	Model         string    `json:"model"`
	Input         string    `json:"input"`
	CachedInput   string    `json:"cached_input"`
	Output        string    `json:"output"`
	Request       string    `json:"request"`
	EffectiveFrom time.Time `json:"effective_from"`
}

// TestPrices covers versions, replays, the catalog listing and that ingestion sees a new
// price at once.
func TestPrices(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ws := e.workspace(map[string]any{"name": "Acme"}).ID
		key := e.key(ws, map[string]any{"name": "ci"})
		at := t0.Add(-time.Minute)

		// Unknown before the price exists; the catalog reloads after the PUT.
		if res := e.send(key.Key, ev("e1", "gpt-x", at, 1_000_000, 0, 0)); len(res.Rejected) != 1 || res.Rejected[0].Code != "unknown_model" {
			t.Fatalf("before: %+v", res)
		}
		var p priceOut
		e.call("PUT", "/api/v1/prices/gpt-x", operatorToken, map[string]any{"input": "1", "output": "2"}, 201, &p)
		if !p.EffectiveFrom.Equal(t0) || p.CachedInput != "0.000000" || p.Request != "0.000000" {
			t.Fatalf("default effective_from and prices: %+v", p)
		}
		if res := e.send(key.Key, ev("e1", "gpt-x", t0, 1_000_000, 0, 0)); res.Accepted != 1 {
			t.Fatalf("after: %+v", res)
		}
		// Without effective_from, the prices in effect now again are a replay.
		e.clock.Set(t0.Add(time.Hour))
		e.call("PUT", "/api/v1/prices/gpt-x", operatorToken, map[string]any{"input": "1.000", "output": "2"}, 200, &p)
		if !p.EffectiveFrom.Equal(t0) {
			t.Fatalf("replay returned %+v", p)
		}
		// New prices from now, and a scheduled version with a request fee and a slash in the name.
		e.call("PUT", "/api/v1/prices/gpt-x", operatorToken, map[string]any{"input": "3", "output": "4"}, 201, nil)
		future := map[string]any{"input": "5", "output": "6", "request": "0.01", "effective_from": "2030-01-01T00:00:00+01:00"}
		e.call("PUT", "/api/v1/prices/gpt-x", operatorToken, future, 201, nil)
		e.call("PUT", "/api/v1/prices/gpt-x", operatorToken, future, 200, nil)
		e.call("PUT", "/api/v1/prices/meta/llama-3", operatorToken, map[string]any{"input": "0.1", "output": "0.2", "effective_from": "2031-01-01T00:00:00Z"}, 201, nil)

		var cat struct {
			Currency string `json:"currency"`
			Models   []struct {
				Model    string     `json:"model"`
				Current  *priceOut  `json:"current"`
				Versions []priceOut `json:"versions"`
			} `json:"models"`
		}
		e.call("GET", "/api/v1/prices", operatorToken, nil, 200, &cat)
		if cat.Currency != "USD" || len(cat.Models) != 2 {
			t.Fatalf("catalog: %+v", cat)
		}
		x, llama := cat.Models[0], cat.Models[1]
		if x.Model != "gpt-x" || len(x.Versions) != 3 || x.Current == nil || x.Current.Input != "3.000000" ||
			x.Versions[2].Request != "0.010000" || !x.Versions[2].EffectiveFrom.Equal(time.Date(2029, 12, 31, 23, 0, 0, 0, time.UTC)) {
			t.Fatalf("gpt-x: %+v", x)
		}
		if llama.Model != "meta/llama-3" || llama.Current != nil || len(llama.Versions) != 1 {
			t.Fatalf("llama: %+v", llama)
		}
	})
}
