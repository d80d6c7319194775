package gateway

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// FuzzAnthropicRequest: whatever body /v1/messages admits, a provider decoding it with
// exact names (encoding/json into a map) reads a model, a max_tokens of at least 1 and a
// thinking budget that the hold covers, and no case variant of a name the gateway reads.
func FuzzAnthropicRequest(f *testing.F) {
	for _, s := range []string{
		`{"model":"m","max_tokens":10}`,
		`{"model":"m","max_tokens":10,"thinking":{"type":"enabled","budget_tokens":20}}`,
		`{"model":"m","max_tokens":10,"Max_tokens":99}`,
		`{"model":"m","max_tokens":10,"max_tokens":99}`,
		`{"model":"m","max_tokens":10,"thinking":{"budget_tokens":5,"BUDGET_TOKENS":9}}`,
		`{"model":"m","max_tokens":10,"tools":[{"type":"web_search_20250305","max_uses":2}]}`,
		`{"model":"m","max_tokens":1e3}`,
		`{"model":"m\u0000","max_tokens":10,"stream":true}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := anthropic{}.parse(epMessages, nil, body)
		if err != nil {
			return
		}
		var top map[string]json.RawMessage
		if err := json.Unmarshal(body, &top); err != nil {
			t.Fatalf("admitted a body encoding/json refuses: %s", body)
		}
		for k := range top {
			for _, n := range anthropicNames {
				if k != n && strings.EqualFold(k, n) {
					t.Fatalf("admitted the case variant %q: %s", k, body)
				}
			}
		}
		var model string
		if json.Unmarshal(top["model"], &model) != nil || model != r.Model || model == "" {
			t.Fatalf("model %q, read %q: %s", model, r.Model, body)
		}
		var maxTokens int64
		if json.Unmarshal(top["max_tokens"], &maxTokens) != nil || maxTokens < 1 || maxTokens > r.Limit {
			t.Fatalf("max_tokens %d, held %d: %s", maxTokens, r.Limit, body)
		}
		var thinking struct {
			Budget *int64 `json:"budget_tokens"`
		}
		if th, ok := top["thinking"]; ok && !bytes.Equal(th, []byte("null")) {
			if json.Unmarshal(th, &thinking) != nil || (thinking.Budget != nil && *thinking.Budget > r.Limit) {
				t.Fatalf("thinking budget above the hold %d: %s", r.Limit, body)
			}
		}
	})
}

// FuzzAnthropicMeter: any sequence of stream events gives a valid usage, and the events
// Spectra writes to close a cut stream are server-sent events of valid JSON.
func FuzzAnthropicMeter(f *testing.F) {
	f.Add([]byte(`{"type":"message_start","message":{"id":"m","usage":{"input_tokens":5,"cache_read_input_tokens":3,"cache_creation":{"ephemeral_1h_input_tokens":9}}}}`),
		[]byte(`{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":-4,"cache_creation_input_tokens":2}}`))
	f.Add([]byte(`{"type":"content_block_start","index":3}`), []byte(`{"type":"content_block_delta","index":3,"delta":{"type":"text_delta","text":"hello"}}`))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		m := &anthropicMeter{}
		m.feed(a)
		m.feed(b)
		u, _ := m.result(7)
		if err := u.Validate(); err != nil {
			t.Fatalf("usage %+v: %v", u, err)
		}
		c := &call{}
		for _, ev := range strings.Split(strings.TrimSuffix(string(m.closing(c)), "\n\n"), "\n\n") {
			lines := strings.Split(ev, "\n")
			data, ok := strings.CutPrefix(lines[len(lines)-1], "data: ")
			if len(lines) != 2 || !strings.HasPrefix(lines[0], "event: ") || !ok || !json.Valid([]byte(data)) {
				t.Fatalf("closing event %q", ev)
			}
		}
	})
}
