package api_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// The shapes of issue 15 go through PUT and GET /api/v1/prices: modality rates, units,
// context tiers and service tiers as decimal strings; a version without them keeps the
// old shape exactly (no new keys); each rule has its code; a replay compares the shapes.
func TestPriceShapesAPI(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		// An old client's version: the listing has exactly the keys it had before.
		e.call("PUT", "/api/v1/prices/plain", operatorToken, map[string]any{"input": "1", "output": "2"}, 201, nil)
		var raw struct {
			Models []struct {
				Current  map[string]json.RawMessage   `json:"current"`
				Versions []map[string]json.RawMessage `json:"versions"`
			} `json:"models"`
		}
		e.call("GET", "/api/v1/prices", operatorToken, nil, 200, &raw)
		var keys []string
		for k := range raw.Models[0].Current {
			keys = append(keys, k)
		}
		want := map[string]bool{"model": true, "input": true, "cached_input": true, "cache_write": true, "output": true, "request": true,
			"cache_write_1h": true, "web_search_call": true, "effective_from": true, "created_at": true}
		if len(keys) != len(want) {
			t.Fatalf("old-client shape changed: %v", keys)
		}
		for _, k := range keys {
			if !want[k] {
				t.Fatalf("old-client shape gained %q", k)
			}
		}

		body := map[string]any{"input": "1.25", "cached_input": "0.31", "output": "10", "audio_input": "40", "audio_output": "80",
			"image_input": "2", "image_output": "30",
			"units":         map[string]any{"web_search_call": "0.035", "image_1024x1024_high": "0.167"},
			"tiers":         []any{map[string]any{"above_input_tokens": 200000, "input": "2.50", "cached_input": "0.625", "output": "15"}},
			"service_tiers": map[string]any{"flex": map[string]any{"input": "0.625", "output": "5"}, "priority": map[string]any{"input": "2.5", "output": "20", "units": map[string]any{"web_search_call": "0.05"}}},
		}
		var p map[string]any
		e.call("PUT", "/api/v1/prices/gemini-x", operatorToken, body, 201, &p)
		b, _ := json.Marshal(p)
		for _, s := range []string{`"audio_input":"40.000000"`, `"audio_output":"80.000000"`, `"image_input":"2.000000"`, `"image_output":"30.000000"`,
			`"units":{"image_1024x1024_high":"0.167000","web_search_call":"0.035000"}`,
			`"tiers":[{"above_input_tokens":200000,"cached_input":"0.625000","input":"2.500000","output":"15.000000"}]`,
			`"flex":{"input":"0.625000","output":"5.000000"}`, `"priority":{"input":"2.500000","output":"20.000000","units":{"web_search_call":"0.050000"}}`} {
			if !strings.Contains(string(b), s) {
				t.Fatalf("PUT answer lacks %s: %s", s, b)
			}
		}
		e.call("PUT", "/api/v1/prices/gemini-x", operatorToken, body, 200, nil) // a replay
		r := e.do("GET", "/api/v1/prices", operatorToken, nil)
		if r.status != 200 || !strings.Contains(string(r.body), `"above_input_tokens":200000`) || !strings.Contains(string(r.body), `"service_tiers":{"flex"`) {
			t.Fatalf("GET %d %s", r.status, r.body)
		}
		// The same flat prices with another tier are a new version, not a replay.
		e.clock.Set(t0.Add(time.Hour))
		body["tiers"] = []any{map[string]any{"above_input_tokens": 128000, "input": "2.50"}}
		e.call("PUT", "/api/v1/prices/gemini-x", operatorToken, body, 201, nil)
		// And at the same effective_from it is a conflict.
		body["effective_from"] = t0.Format(time.RFC3339)
		if r := e.do("PUT", "/api/v1/prices/gemini-x", operatorToken, body); r.status != 409 || !strings.Contains(string(r.body), `"price_version_exists"`) {
			t.Fatalf("conflict: %d %s", r.status, r.body)
		}

		base := func() map[string]any { return map[string]any{"input": "1", "output": "2"} }
		for _, c := range []struct {
			name string
			key  string
			val  any
			code string
		}{
			{"negative audio", "audio_input", "-1", "invalid_price"},
			{"bad image price", "image_output", "1.0000001", "invalid_price"},
			{"negative unit", "units", map[string]any{"x": "-0.01"}, "invalid_price"},
			{"unit name", "units", map[string]any{"Web Search": "0.01"}, "invalid_unit"},
			{"too many units", "units", manyUnits(65), "invalid_unit"},
			{"tier without threshold", "tiers", []any{map[string]any{"input": "2"}}, "invalid_tier"},
			{"tier at 0", "tiers", []any{map[string]any{"above_input_tokens": 0, "input": "2"}}, "invalid_tier"},
			{"tiers not increasing", "tiers", []any{map[string]any{"above_input_tokens": 10, "input": "2"}, map[string]any{"above_input_tokens": 10, "input": "3"}}, "invalid_tier"},
			{"empty tier", "tiers", []any{map[string]any{"above_input_tokens": 10}}, "invalid_tier"},
			{"negative tier rate", "tiers", []any{map[string]any{"above_input_tokens": 10, "output": "-2"}}, "invalid_price"},
			{"service tier name", "service_tiers", map[string]any{"Flex": map[string]any{"input": "1"}}, "invalid_service_tier"},
			{"service tier default", "service_tiers", map[string]any{"default": map[string]any{"input": "1"}}, "invalid_service_tier"},
			{"empty service tier", "service_tiers", map[string]any{"flex": map[string]any{}}, "invalid_service_tier"},
			{"service tier's tier", "service_tiers", map[string]any{"flex": map[string]any{"input": "1", "tiers": []any{map[string]any{"above_input_tokens": -5, "input": "1"}}}}, "invalid_tier"},
			{"service tier's unit", "service_tiers", map[string]any{"flex": map[string]any{"units": map[string]any{"-x": "1"}}}, "invalid_unit"},
			{"tier field unknown", "tiers", []any{map[string]any{"above_input_tokens": 10, "inptu": "2"}}, "unknown_field"},
		} {
			b := base()
			b[c.key] = c.val
			r := e.do("PUT", "/api/v1/prices/shape-x", operatorToken, b)
			if r.status != 400 || !strings.Contains(string(r.body), `"`+c.code+`"`) {
				t.Errorf("%s: %d %s, want %s", c.name, r.status, r.body, c.code)
			}
		}
	})
}

func manyUnits(n int) map[string]any {
	out := map[string]any{}
	for i := range n {
		out["u"+strings.Repeat("x", i)] = "1"
	}
	return out
}
