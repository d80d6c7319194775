package gateway

import (
	"encoding/json"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"spectra/internal/pricing"
)

// refEstimate is the documented prompt bound computed the slow way, over decoded JSON.
func refEstimate(v any, inArray bool) int64 {
	switch v := v.(type) {
	case string:
		if strings.HasPrefix(v, "data:") {
			return dataURLTokens
		}
		return int64((len(v) + 2) / 3)
	case float64:
		if inArray {
			return 1
		}
	case []any:
		var n int64
		for _, e := range v {
			n += refEstimate(e, true)
		}
		return n
	case map[string]any:
		var n int64
		if inArray {
			n = objectOverhead
		}
		for _, e := range v {
			n += refEstimate(e, false)
		}
		return n
	}
	return 0
}

// The one-pass scanner agrees with the documented bound on any chat-like body.
func TestEstimatePromptMatchesDefinition(t *testing.T) {
	text := rapid.StringMatching(`[a-zA-Z0-9 .,!?]{0,80}`)
	rapid.Check(t, func(rt *rapid.T) {
		var msgs []any
		for range rapid.IntRange(0, 6).Draw(rt, "messages") {
			m := map[string]any{"role": "user"}
			if rapid.Bool().Draw(rt, "parts") {
				var parts []any
				for range rapid.IntRange(1, 3).Draw(rt, "n") {
					if rapid.Bool().Draw(rt, "image") {
						parts = append(parts, map[string]any{"type": "image_url", "image_url": map[string]any{"url": "data:image/png;base64,AAAA"}})
					} else {
						parts = append(parts, map[string]any{"type": "text", "text": text.Draw(rt, "text")})
					}
				}
				m["content"] = parts
			} else {
				m["content"] = text.Draw(rt, "content")
			}
			msgs = append(msgs, m)
		}
		body := map[string]any{"model": "gpt-4o", "messages": msgs, "temperature": 0.5,
			"prompt": rapid.SliceOf(rapid.IntRange(0, 50000)).Draw(rt, "ids")}
		b, err := json.MarshalIndent(body, "", rapid.SampledFrom([]string{"", " ", "\t"}).Draw(rt, "indent"))
		if err != nil {
			rt.Fatal(err)
		}
		var decoded any
		json.Unmarshal(b, &decoded)
		if got, want := estimatePrompt(b), primingTokens+refEstimate(decoded, false); got != want {
			rt.Fatalf("estimate %d, definition %d, body %s", got, want, b)
		}
	})
}

func TestEstimates(t *testing.T) {
	body := []byte(`{"model":"gpt-4o","messages":[{"role":"user","content":"hello world"}]}`)
	// 3 priming + ⌈6/3⌉ model + 4 message + ⌈4/3⌉ role + ⌈11/3⌉ content
	if got := estimatePrompt(body); got != 3+2+4+2+4 {
		t.Fatalf("estimate %d", got)
	}
	r, err := parseRequest(epChat, []byte(`{"model":"m","n":3,"max_tokens":10}`))
	must(t, err)
	if got := r.maxOutput(epChat, 4096); got != 30 {
		t.Fatalf("n×max_tokens = %d", got)
	}
	r, _ = parseRequest(epCompletions, []byte(`{"model":"m","prompt":["a","b"],"best_of":2}`))
	if got := r.maxOutput(epCompletions, 100); got != 400 {
		t.Fatalf("prompts×best_of×ceiling = %d", got)
	}
	r, _ = parseRequest(epEmbeddings, []byte(`{"model":"m","input":"x"}`))
	if r.maxOutput(epEmbeddings, 100) != 0 {
		t.Fatal("embeddings generate nothing")
	}
	// The hold prices every prompt token at the highest input price.
	p := pricing.Price{Input: 1_000_000, CachedInput: 500_000, CacheWrite: 3_000_000, Output: 2_000_000, Request: 7}
	if c, _ := estimateCost(p, 10, 5); c != 10*3+5*2+7 {
		t.Fatalf("estimate cost %s", c)
	}
	if textTokens("") != 0 || textTokens("a") != 1 || textTokens("abcde") != 2 {
		t.Fatal("textTokens")
	}
	if _, err := parseRequest(epChat, []byte(`{"model":""}`)); err != errMissingModel {
		t.Fatal(err)
	}
	out, err := withUsage([]byte(`{"model":"m","stream_options":null,"x":1}`))
	must(t, err)
	if !strings.Contains(string(out), `"stream_options":{"include_usage":true}`) || !strings.Contains(string(out), `"x":1`) {
		t.Fatalf("withUsage: %s", out)
	}
}

// Reported usage is read in each of OpenAI's shapes, and clamped when inconsistent.
func TestMeterBody(t *testing.T) {
	for _, c := range []struct {
		body string
		want pricing.Usage
		est  bool
	}{
		{`{"usage":{"prompt_tokens":10,"completion_tokens":5,"prompt_tokens_details":{"cached_tokens":4},"completion_tokens_details":{"reasoning_tokens":2}}}`,
			pricing.Usage{Input: 10, CachedInput: 4, Output: 5, Reasoning: 2}, false},
		{`{"usage":{"input_tokens":7,"output_tokens":3,"input_tokens_details":{"cached_tokens":9},"output_tokens_details":{"reasoning_tokens":8}}}`,
			pricing.Usage{Input: 7, CachedInput: 7, Output: 3, Reasoning: 3}, false},
		{`{"usage":{"prompt_tokens":4,"total_tokens":4}}`, pricing.Usage{Input: 4}, false},
		{`{"choices":[{"message":{"content":"12345678","tool_calls":[{"function":{"arguments":"abcd"}}]}}]}`, pricing.Usage{Input: 99, Output: 3}, true},
		{`{"output":[{"type":"message","content":[{"type":"output_text","text":"abcdefgh"}]},{"type":"function_call","arguments":"{}"}]}`, pricing.Usage{Input: 99, Output: 3}, true},
		{`{"usage":{"prompt_tokens":"odd"},"choices":[{"text":"abcd"}]}`, pricing.Usage{Input: 99, Output: 1}, true},
	} {
		u, est, err := meterBody([]byte(c.body), 99)
		if err != nil || !sameUsage(u, c.want) || est != c.est {
			t.Fatalf("%s: %+v %v %v", c.body, u, est, err)
		}
	}
	if _, _, err := meterBody([]byte(`{`), 1); err == nil {
		t.Fatal("broken JSON accepted")
	}
}
