package api_test

import (
	"context"
	"testing"
	"time"

	"spectra/internal/money"
	"spectra/internal/pricing"
)

// POST /api/v1/events takes audio and image tokens, units and a service tier (issue 15):
// each is priced at its own rate, a tier without prices of its own at the default's;
// every rule has its code; the same event sent again is a duplicate.
func TestEventsShapes(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ws := e.workspace(map[string]any{"name": "Acme"}).ID
		p := pricing.Price{Model: "gpt-audio", Input: 2_500_000, Output: 10_000_000, AudioInput: 40_000_000, AudioOutput: 80_000_000,
			Units:         map[string]money.Amount{"web_search_call": 10_000},
			ServiceTiers:  map[string]pricing.ServiceTier{"flex": {Rates: pricing.Rates{Input: 1_250_000, Output: 5_000_000}}},
			EffectiveFrom: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), CreatedAt: t0}
		if err := e.db.AddPrice(context.Background(), p); err != nil {
			t.Fatal(err)
		}
		e.grant(ws, "10.00", "g")
		key := e.key(ws, map[string]any{"name": "ci"})
		at := t0.Add(-time.Hour)
		with := func(m map[string]any, kv ...any) map[string]any {
			for i := 0; i < len(kv); i += 2 {
				m[kv[i].(string)] = kv[i+1]
			}
			return m
		}
		// 500 text × 2.5 + 400 audio × 40 + 100 image × 2.5 (no image rate: input's) + 400 text × 10
		// + 100 audio × 80 per million, plus 2 × 0.01: 0.0495.
		audio := with(ev("audio", "gpt-audio", at, 1000, 0, 500), "audio_input_tokens", 400, "image_input_tokens", 100,
			"audio_output_tokens", 100, "units", map[string]any{"web_search_call": 2})
		flex := with(ev("flex", "gpt-audio", at, 1000, 0, 0), "service_tier", "flex")           // 1,000 × 1.25: 0.00125
		priority := with(ev("priority", "gpt-audio", at, 10, 0, 0), "service_tier", "priority") // default's: 0.000025
		batch := []any{
			audio, flex, priority,
			with(ev("unknown-unit", "gpt-audio", at, 1, 0, 1), "units", map[string]any{"image_1024x1024_high": 1}),
			with(ev("audio-over", "gpt-audio", at, 10, 5, 1), "audio_input_tokens", 6),
			with(ev("audio-out-over", "gpt-audio", at, 10, 0, 1), "audio_output_tokens", 2),
			with(ev("bad-unit", "gpt-audio", at, 1, 0, 1), "units", map[string]any{"Web Search": 1}),
			with(ev("unit-type", "gpt-audio", at, 1, 0, 1), "units", map[string]any{"x": "2"}),
			with(ev("units-type", "gpt-audio", at, 1, 0, 1), "units", []int{1}),
			with(ev("bad-tier", "gpt-audio", at, 1, 0, 1), "service_tier", "Flex!"),
			with(ev("tier-type", "gpt-audio", at, 1, 0, 1), "service_tier", 3),
			with(ev("audio-fraction", "gpt-audio", at, 10, 0, 1), "audio_input_tokens", 1.5),
			with(ev("audio-huge", "gpt-audio", at, 1<<41, 0, 1), "audio_input_tokens", 1<<41),
		}
		wantCodes := map[int]string{3: "unknown_unit", 4: "modality_exceeds_input", 5: "modality_exceeds_output", 6: "invalid_unit",
			7: "invalid_unit", 8: "invalid_unit", 9: "invalid_service_tier", 10: "invalid_service_tier", 11: "invalid_tokens", 12: "too_many_tokens"}
		res := e.send(key.Key, batch...)
		if res.Accepted != 3 || len(res.Rejected) != len(wantCodes) {
			t.Fatalf("result %+v", res)
		}
		for _, r := range res.Rejected {
			if wantCodes[r.Index] != r.Code || r.Error == "" {
				t.Errorf("rejection %+v; want %s", r, wantCodes[r.Index])
			}
		}
		if b := e.balance(ws); b.Balance != "9.949225" {
			t.Fatalf("balance %s; want 10 − 0.0495 − 0.00125 − 0.000025 = 9.949225", b.Balance)
		}
		// Sent again, the same events are duplicates; with another tier, a conflict.
		again := e.send(key.Key, audio, flex, with(ev("priority", "gpt-audio", at, 10, 0, 0), "service_tier", "batch"))
		if again.Accepted != 0 || again.Duplicates != 2 || len(again.Rejected) != 1 || again.Rejected[0].Code != "idempotency_conflict" {
			t.Fatalf("again %+v", again)
		}
		if b := e.balance(ws); b.Balance != "9.949225" {
			t.Fatalf("balance after the repeats %s", b.Balance)
		}
	})
}
