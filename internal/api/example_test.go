package api_test

import (
	"testing"
	"time"
)

// TestWorkedExample runs the README's example end to end and checks every amount exactly.
func TestWorkedExample(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ws := e.workspace(map[string]any{"name": "Acme"})
		if ws.Name != "Acme" || ws.Timezone != "UTC" || ws.OverdraftLimit != "0.000000" {
			t.Fatalf("workspace: %+v", ws)
		}

		var p struct {
			Model         string    `json:"model"`
			Input         string    `json:"input"`
			CachedInput   string    `json:"cached_input"`
			CacheWrite    string    `json:"cache_write"`
			Output        string    `json:"output"`
			Request       string    `json:"request"`
			EffectiveFrom time.Time `json:"effective_from"`
		}
		body := map[string]any{"input": "2.50", "cached_input": "1.25", "output": "10.00", "effective_from": "2025-01-01T00:00:00Z"}
		e.call("PUT", "/api/v1/prices/gpt-4o-mini", operatorToken, body, 201, &p)
		if !p.EffectiveFrom.Equal(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)) || p.Model != "gpt-4o-mini" || p.Input != "2.500000" || p.CachedInput != "1.250000" || p.CacheWrite != "0.000000" || p.Output != "10.000000" || p.Request != "0.000000" {
			t.Fatalf("price: %+v", p)
		}
		e.call("PUT", "/api/v1/prices/gpt-4o-mini", operatorToken, body, 200, nil) // identical replay

		e.grant(ws.ID, "25.00", "welcome")
		key := e.key(ws.ID, map[string]any{"name": "ci", "kind": "inference", "project": "web", "member_id": "alice"})
		if key.Name != "ci" || key.Kind != "inference" || len(key.Key) < 20 || key.Key[:3] != "sk-" {
			t.Fatalf("key: %+v", key)
		}

		at := t0.Add(-time.Hour)
		e1 := ev("req-1", "gpt-4o-mini", at, 1000, 200, 500)
		e1["reasoning_tokens"] = 100
		e2 := ev("req-2", "gpt-4o-mini", at, 1, 0, 0) // 2.5 micro-units exactly
		res := e.send(key.Key, e1, e2)
		if res.Accepted != 2 || res.Duplicates != 0 || len(res.Rejected) != 0 {
			t.Fatalf("ingest: %+v", res)
		}

		// 800×2.50 + 200×1.25 + 500×10.00 per million = 0.007250; plus 0.0000025 exactly: the
		// wallet is charged the running total rounded down, 0.007252 (half a micro-unit carried).
		b := e.balance(ws.ID)
		if b.Balance != "24.992748" || b.Held != "0.000000" || b.Available != "24.992748" || b.Currency != "USD" {
			t.Fatalf("balance: %+v", b)
		}

		u := e.usage(ws.ID, "bucket=1d&group_by=model,project,member")
		if len(u.Buckets) != 8 { // 7 days back from mid-day: 8 calendar days
			t.Fatalf("buckets: %d", len(u.Buckets))
		}
		last := u.Buckets[len(u.Buckets)-1]
		if len(last.Results) != 1 {
			t.Fatalf("results: %+v", last.Results)
		}
		r := last.Results[0]
		if *r.Model != "gpt-4o-mini" || *r.Project != "web" || *r.Member != "alice" || r.KeyID != nil ||
			r.Requests != 2 || r.InputTokens != 1001 || r.CachedInputTokens != 200 || r.OutputTokens != 500 ||
			r.ReasoningTokens != 100 || r.CacheWriteTokens != 0 || r.Cost != "0.007252" {
			t.Fatalf("usage: %+v", r)
		}
		for _, b := range u.Buckets[:len(u.Buckets)-1] {
			if len(b.Results) != 0 {
				t.Errorf("bucket %s: %+v", b.Start, b.Results)
			}
		}
	})
}
