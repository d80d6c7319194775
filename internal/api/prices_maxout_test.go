package api_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// A price's optional max_output_tokens (the model's maximum output, which the gateway
// holds for a request that sets no limit) round-trips through PUT and GET on both
// databases, takes part in replays, and is refused unless a positive whole number.
func TestPriceMaxOutputTokens(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		var p map[string]any
		e.call("PUT", "/api/v1/prices/gpt-x", operatorToken, map[string]any{"input": "1", "output": "2", "max_output_tokens": 16384}, 201, &p)
		if fmt.Sprint(p["max_output_tokens"]) != "16384" {
			t.Fatalf("PUT answered %v", p)
		}
		// The same again is a replay; without the field it is another price.
		e.call("PUT", "/api/v1/prices/gpt-x", operatorToken, map[string]any{"input": "1", "output": "2", "max_output_tokens": 16384}, 200, nil)
		e.clock.Set(t0.Add(time.Hour))
		var without map[string]any
		e.call("PUT", "/api/v1/prices/gpt-x", operatorToken, map[string]any{"input": "1", "output": "2"}, 201, &without)
		if _, ok := without["max_output_tokens"]; ok {
			t.Fatalf("a price without max_output_tokens answered %v", without)
		}
		e.call("PUT", "/api/v1/prices/old-model", operatorToken, map[string]any{"input": "1", "output": "2"}, 201, nil)

		var cat struct {
			Models []struct {
				Model    string            `json:"model"`
				Versions []json.RawMessage `json:"versions"`
			} `json:"models"`
		}
		e.call("GET", "/api/v1/prices", operatorToken, nil, 200, &cat)
		var first, second map[string]any
		if len(cat.Models) != 2 || len(cat.Models[0].Versions) != 2 {
			t.Fatalf("catalog %+v", cat)
		}
		if json.Unmarshal(cat.Models[0].Versions[0], &first) != nil || json.Unmarshal(cat.Models[0].Versions[1], &second) != nil {
			t.Fatalf("versions %s", cat.Models[0].Versions)
		}
		if fmt.Sprint(first["max_output_tokens"]) != "16384" || second["max_output_tokens"] != nil {
			t.Fatalf("versions %s", cat.Models[0].Versions)
		}

		for _, bad := range []any{0, -1, 1.5, "16384", 100_000_001} {
			r := e.do("PUT", "/api/v1/prices/gpt-y", operatorToken, map[string]any{"input": "1", "output": "2", "max_output_tokens": bad})
			if r.status != 400 {
				t.Fatalf("max_output_tokens %v: status %d %s", bad, r.status, r.body)
			}
			if n, ok := bad.(int); ok && !strings.Contains(string(r.body), `"invalid_max_output_tokens"`) {
				t.Fatalf("max_output_tokens %d: %s", n, r.body)
			}
		}
	})
}
