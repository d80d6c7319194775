package gateway

// Anthropic's Messages API, spoken natively (the wire seam: wire.go):
//
//	POST /v1/messages               one answer, or a stream ("stream": true): metered
//	POST /v1/messages/count_tokens  forwarded, not charged
//
// The client authenticates with the workspace's inference key in x-api-key (what
// ANTHROPIC_API_KEY sends) or Authorization: Bearer (ANTHROPIC_AUTH_TOKEN). The upstream
// gets its own secret in x-api-key; anthropic-version (2023-06-01 when the client sends
// none) and anthropic-beta pass through. Errors are answered in Anthropic's shape
// (writeError), with Spectra's code in error.code.
//
// Usage, in Anthropic's meaning: input_tokens excludes both the cache reads
// (cache_read_input_tokens) and the cache writes (cache_creation_input_tokens, split by
// cache_creation into ephemeral_5m_input_tokens and ephemeral_1h_input_tokens). In
// Spectra's (OpenAI's) meaning input includes the cache reads and the cache writes are
// apart, so (anthropicUsage.usage):
//
//	Input          = input_tokens + cache_read_input_tokens
//	CachedInput    = cache_read_input_tokens
//	CacheWrite     = cache_creation_input_tokens (ephemeral_5m + ephemeral_1h when absent)
//	CacheWrite1h   = ephemeral_1h_input_tokens
//	Output         = output_tokens (thinking included)
//	Reasoning      = output_tokens_details.thinking_tokens
//	WebSearchCalls = server_tool_use.web_search_requests (the unit "web_search_call")
//	ServiceTier    = usage.service_tier ("standard" is the default tier; "priority", "batch")
//
// and pricing.Cost charges input_tokens at the input price, the reads at the cached
// price, the 5-minute writes at cache_write, the 1-hour writes at cache_write_1h, each
// token once. A stream's usage is message_start's, overwritten field by field by
// message_delta's, whose counts are cumulative totals (never added).

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"spectra/internal/gateway/upstream"
	"spectra/internal/pricing"
)

// The Anthropic endpoints.
var (
	epMessages    = endpoint{path: "/messages", generates: true, wire: anthropic{}}
	epCountTokens = endpoint{path: "/messages/count_tokens", wire: anthropic{}}
)

// anthropicVersion is sent upstream when the client sends no anthropic-version.
const anthropicVersion = "2023-06-01"

// webSearchHold is the number of web search calls a hold covers for a web search tool
// that sets no max_uses (the charge is the number the upstream reports).
const webSearchHold = 5

// registerAnthropic mounts the Messages API routes.
func (g *Gateway) registerAnthropic(mux *http.ServeMux) {
	mux.Handle("POST /v1/messages", g.forward(epMessages))
	mux.Handle("POST /v1/messages/count_tokens", g.uncharged(epCountTokens))
	mux.Handle("/v1/messages", g.methodNotAllowedAs(anthropic{}, "POST"))
	mux.Handle("/v1/messages/count_tokens", g.methodNotAllowedAs(anthropic{}, "POST"))
}

// anthropic is Anthropic's Messages API.
type anthropic struct{ sseWire }

// Anthropic's own rejections.
var (
	errAnthropicMissingKey = newError(http.StatusUnauthorized, "invalid_request_error", "invalid_api_key", "You didn't provide an API key. Send it as 'x-api-key: sk-…' or 'Authorization: Bearer sk-…'.")
	errMissingMaxTokens    = newParamError("max_tokens", "missing_max_tokens", "max_tokens: Field required")
)

func (anthropic) api() string { return upstream.Anthropic }

func (anthropic) secret(r *http.Request) (string, error) {
	if k := r.Header.Get("X-Api-Key"); k != "" {
		return k, nil
	}
	if secret, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && secret != "" {
		return secret, nil
	}
	return "", errAnthropicMissingKey
}

// anthropicNames are the top-level fields the gateway reads; a case variant of one is
// refused (invalid_field_name), as on the OpenAI routes.
var anthropicNames = []string{"model", "stream", "max_tokens", "thinking", "tools", "service_tier"}

// parse reads model, stream, max_tokens (required on /v1/messages, at least 1),
// thinking.budget_tokens and the web search tools' max_uses, with exact names: a name
// given twice, a case variant of one of them, or a value of the wrong type is refused.
//
// The hold's output limit is max_tokens, or thinking.budget_tokens when that is larger
// (Anthropic requires budget_tokens < max_tokens, thinking being part of the output
// max_tokens bounds, except with interleaved thinking, where the budget may exceed it):
// the larger of the two, never their sum.
func (anthropic) parse(ep endpoint, _ *http.Request, body []byte) (*request, error) {
	t, err := objectBody(body)
	if err != nil {
		return nil, err
	}
	r := &request{}
	var maxTokens, budget int64
	hasMax := false
	err = fieldReader{known: anthropicNames}.each(t, func(name string, v []byte) error {
		switch name {
		case "model":
			s, err := stringValue(name, v)
			r.Model = s
			return err
		case "stream":
			b, err := boolValue(name, v)
			r.Stream = b
			return err
		case "max_tokens":
			n, err := intValue(name, v)
			maxTokens, hasMax = n, string(v) != "null"
			return err
		case "thinking":
			n, err := thinkingBudget(v)
			budget = n
			return err
		case "tools":
			n, err := webSearchCalls(v)
			r.WebSearchCalls = n
			return err
		case "service_tier":
			s, err := stringValue(name, v)
			r.ServiceTier = s
			return err
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if r.Model == "" {
		return nil, errMissingModel
	}
	if ep == epMessages {
		if !hasMax {
			return nil, errMissingMaxTokens
		}
		if maxTokens < 1 {
			return nil, newParamError("max_tokens", "integer_below_min_value", "max_tokens: Input should be greater than or equal to 1")
		}
	}
	r.Limit = max(maxTokens, budget)
	return r, nil
}

// thinkingBudget reads thinking: an object (or null) whose budget_tokens is an integer
// (or null).
func thinkingBudget(v []byte) (int64, error) {
	if string(v) == "null" {
		return 0, nil
	}
	if v[0] != '{' {
		return 0, errInvalidType("thinking", "an object")
	}
	var budget int64
	err := fieldReader{path: "thinking.", known: []string{"budget_tokens"}}.each(v, func(_ string, v []byte) error {
		n, err := intValue("thinking.budget_tokens", v)
		budget = n
		return err
	})
	return budget, err
}

// webSearchCalls reads tools (an array, or null) for the web search calls a hold
// covers: each tool whose type starts with "web_search" counts its max_uses, or
// webSearchHold when it sets none.
func webSearchCalls(v []byte) (int64, error) {
	if string(v) == "null" {
		return 0, nil
	}
	if v[0] != '[' {
		return 0, errInvalidType("tools", "an array")
	}
	var tools []json.RawMessage
	if err := json.Unmarshal(v, &tools); err != nil {
		return 0, errInvalidType("tools", "an array")
	}
	var calls int64
	for _, tool := range tools {
		tool = bytes.TrimSpace(tool)
		if len(tool) == 0 || tool[0] != '{' {
			continue // the upstream refuses it
		}
		var typ string
		var uses int64
		hasUses := false
		err := fieldReader{path: "tools.", known: []string{"type", "max_uses"}, knownOnce: true}.each(tool, func(name string, v []byte) error {
			switch name {
			case "type":
				s, err := stringValue("tools.type", v)
				typ = s
				return err
			case "max_uses":
				n, err := intValue("tools.max_uses", v)
				uses, hasUses = n, string(v) != "null"
				return err
			}
			return nil
		})
		if err != nil {
			return 0, err
		}
		if !strings.HasPrefix(typ, "web_search") {
			continue
		}
		if !hasUses {
			uses = webSearchHold
		}
		calls = addTokens(calls, uses)
	}
	return calls, nil
}

// addTokens adds two non-negative counts, saturating at 2^62.
func addTokens(a, b int64) int64 {
	if a > (1<<62)-b {
		return 1 << 62
	}
	return a + b
}

func (anthropic) prepare(_ *call, body []byte) ([]byte, error) { return body, nil }

// target is the upstream's path, with the client's query (Claude Code and the SDKs' beta
// clients add ?beta=true): the key never travels in the query on this API.
func (anthropic) target(c *call, r *http.Request) string {
	if r.URL.RawQuery != "" {
		return c.up.BaseURL + c.ep.path + "?" + r.URL.RawQuery
	}
	return c.up.BaseURL + c.ep.path
}

func (anthropic) header(c *call, r *http.Request, h http.Header) {
	if c.up.APIKey != "" {
		h.Set("X-Api-Key", c.up.APIKey)
	}
	v := r.Header.Get("Anthropic-Version")
	if v == "" {
		v = anthropicVersion
	}
	h.Set("Anthropic-Version", v)
	for _, b := range r.Header.Values("Anthropic-Beta") {
		h.Add("Anthropic-Beta", b)
	}
}

// writeError answers e as Anthropic does, {"type":"error","error":{"type","message"}},
// the type following the status; Spectra's code is in error.code (and budget_exceeded's
// budget in error.budget_id).
func (anthropic) writeError(w http.ResponseWriter, e *apiError) {
	type body struct {
		Type     string  `json:"type"`
		Message  string  `json:"message"`
		Code     string  `json:"code"`
		Param    *string `json:"param,omitempty"`
		BudgetID string  `json:"budget_id,omitempty"`
	}
	writeJSON(w, e.Status, struct {
		Type  string `json:"type"`
		Error body   `json:"error"`
	}{"error", body{Type: anthropicErrorType(e.Status), Message: e.Message, Code: e.Code, Param: e.Param, BudgetID: e.BudgetID}})
}

// anthropicErrorType is Anthropic's error type for an HTTP status.
func anthropicErrorType(status int) string {
	switch status {
	case http.StatusBadRequest, http.StatusMethodNotAllowed:
		return "invalid_request_error"
	case http.StatusUnauthorized:
		return "authentication_error"
	case http.StatusPaymentRequired:
		return "billing_error"
	case http.StatusForbidden:
		return "permission_error"
	case http.StatusNotFound:
		return "not_found_error"
	case http.StatusRequestEntityTooLarge:
		return "request_too_large"
	case http.StatusTooManyRequests:
		return "rate_limit_error"
	case http.StatusServiceUnavailable, 529:
		return "overloaded_error"
	}
	if status < 500 {
		return "invalid_request_error"
	}
	return "api_error"
}

// anthropicUsage is a usage object of the Messages API (a message's, message_start's or
// message_delta's). A field that is absent or null is nil.
type anthropicUsage struct {
	InputTokens              *int64 `json:"input_tokens"`
	OutputTokens             *int64 `json:"output_tokens"`
	CacheCreationInputTokens *int64 `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     *int64 `json:"cache_read_input_tokens"`
	CacheCreation            *struct {
		Ephemeral5m *int64 `json:"ephemeral_5m_input_tokens"`
		Ephemeral1h *int64 `json:"ephemeral_1h_input_tokens"`
	} `json:"cache_creation"`
	ServerToolUse *struct {
		WebSearchRequests *int64 `json:"web_search_requests"`
	} `json:"server_tool_use"`
	OutputTokensDetails *struct {
		ThinkingTokens *int64 `json:"thinking_tokens"`
	} `json:"output_tokens_details"`
	ServiceTier looseString `json:"service_tier"` // "standard", "priority", "batch"
}

// anthropicTotals is a message's usage so far: each count as last reported.
type anthropicTotals struct {
	input, output, cacheWrite, cacheRead, write5m, write1h, searches, thinking int64
	hasInput, hasCacheWrite                                                    bool
	tier                                                                       string // serviceTier's form
}

// merge takes every count u reports, replacing the one before (counts are totals).
func (t *anthropicTotals) merge(u *anthropicUsage) {
	if u == nil {
		return
	}
	set := func(dst *int64, v *int64) {
		if v != nil {
			*dst = max(*v, 0)
		}
	}
	if u.InputTokens != nil {
		t.hasInput = true
	}
	if u.CacheCreationInputTokens != nil {
		t.hasCacheWrite = true
	}
	set(&t.input, u.InputTokens)
	set(&t.output, u.OutputTokens)
	set(&t.cacheWrite, u.CacheCreationInputTokens)
	set(&t.cacheRead, u.CacheReadInputTokens)
	if c := u.CacheCreation; c != nil {
		set(&t.write5m, c.Ephemeral5m)
		set(&t.write1h, c.Ephemeral1h)
	}
	if s := u.ServerToolUse; s != nil {
		set(&t.searches, s.WebSearchRequests)
	}
	if d := u.OutputTokensDetails; d != nil {
		set(&t.thinking, d.ThinkingTokens)
	}
	if tier := serviceTier(string(u.ServiceTier)); tier != "" {
		t.tier = tier
	}
}

// usage is the totals in Spectra's meaning (see the top of this file).
func (t *anthropicTotals) usage() pricing.Usage {
	write := t.cacheWrite
	if !t.hasCacheWrite {
		write = addTokens(t.write5m, t.write1h)
	}
	return pricing.Usage{
		Input:          addTokens(t.input, t.cacheRead),
		CachedInput:    t.cacheRead,
		CacheWrite:     write,
		CacheWrite1h:   min(t.write1h, write),
		Output:         t.output,
		Reasoning:      min(t.thinking, t.output),
		WebSearchCalls: t.searches,
		ServiceTier:    t.tier,
	}
}

// anthropicBlock is a content block of a message, or a content_block_delta's delta.
type anthropicBlock struct {
	Type        string          `json:"type"`
	Text        string          `json:"text"`
	Thinking    string          `json:"thinking"`
	PartialJSON string          `json:"partial_json"`
	Input       json.RawMessage `json:"input"`
}

// generated is the block's generated text, for counting when no usage is reported.
func (b *anthropicBlock) generated() int64 {
	n := int64(len(b.Text) + len(b.Thinking) + len(b.PartialJSON))
	if b.Type == "tool_use" && len(b.Input) > 0 {
		n += int64(len(b.Input))
	}
	return n
}

// meterBody returns a message's usage, or (when it reports none) the prompt estimate
// and ⌈bytes/4⌉ of its text, thinking and tool input.
func (anthropic) meterBody(c *call, b []byte) (pricing.Usage, bool, error) {
	var msg struct {
		Usage   *anthropicUsage  `json:"usage"`
		Content []anthropicBlock `json:"content"`
	}
	var te *json.UnmarshalTypeError
	if err := json.Unmarshal(b, &msg); errors.As(err, &te) {
		msg.Usage = nil // a usage of the wrong shape is no usage: count instead
		_ = decodeLoose(b, &struct {
			Content *[]anthropicBlock `json:"content"`
		}{&msg.Content})
	} else if err != nil {
		return pricing.Usage{}, false, err
	}
	if msg.Usage != nil && msg.Usage.InputTokens != nil {
		var t anthropicTotals
		t.merge(msg.Usage)
		return t.usage(), false, nil
	}
	var n int64
	for i := range msg.Content {
		n += msg.Content[i].generated()
	}
	return pricing.Usage{Input: c.prompt, Output: (n + outputTextBytes - 1) / outputTextBytes}, true, nil
}

func (anthropic) newMeter(*call) meter { return &anthropicMeter{} }

// anthropicEvent is one event of a Messages stream.
type anthropicEvent struct {
	Type    string `json:"type"`
	Message *struct {
		ID    string          `json:"id"`
		Model string          `json:"model"`
		Usage *anthropicUsage `json:"usage"`
	} `json:"message"`
	Index int64 `json:"index"`
	Delta *struct {
		anthropicBlock
		StopReason *string `json:"stop_reason"`
	} `json:"delta"`
	Usage *anthropicUsage `json:"usage"`
}

// anthropicMeter follows a Messages stream: message_start's usage, message_delta's
// (cumulative: it replaces), and the text, thinking and tool input deltas for when a
// stream ends without message_delta.
type anthropicMeter struct {
	totals    anthropicTotals
	started   bool // message_start reported a usage
	reported  bool // message_delta reported the final usage
	stopped   bool // message_stop
	stop      bool // message_delta carried a stop_reason
	textBytes int64
	deltas    int64
	id, model string
	open      []int64 // content blocks started and not stopped, in order
}

func (m *anthropicMeter) feed(data []byte) bool {
	if len(data) == 0 {
		return true
	}
	var e anthropicEvent
	var te *json.UnmarshalTypeError
	if err := json.Unmarshal(data, &e); errors.As(err, &te) {
		e.Usage = nil // never trust a usage of the wrong shape
		if e.Message != nil {
			e.Message.Usage = nil
		}
	} else if err != nil {
		return true
	}
	switch e.Type {
	case "message_start":
		if e.Message != nil {
			m.id, m.model = e.Message.ID, e.Message.Model
			if e.Message.Usage != nil {
				m.totals.merge(e.Message.Usage)
				m.started = m.started || m.totals.hasInput
			}
		}
	case "content_block_start":
		if len(m.open) < maxCopies {
			m.open = append(m.open, e.Index)
		}
	case "content_block_stop":
		for i, idx := range m.open {
			if idx == e.Index {
				m.open = append(m.open[:i], m.open[i+1:]...)
				break
			}
		}
	case "content_block_delta":
		if e.Delta != nil {
			if n := e.Delta.generated(); n > 0 {
				m.textBytes += n
				m.deltas++
			}
		}
	case "message_delta":
		if e.Usage != nil {
			m.totals.merge(e.Usage)
			m.reported = true
		}
		if e.Delta != nil && e.Delta.StopReason != nil {
			m.stop = true
		}
	case "message_stop":
		m.stopped = true
	}
	return true
}

func (m *anthropicMeter) finished() bool { return m.stop || m.stopped }
func (m *anthropicMeter) final() bool    { return m.reported || m.stopped }
func (m *anthropicMeter) complete() bool { return m.stop || m.stopped }

func (m *anthropicMeter) output() int64 { return (m.textBytes + outputTextBytes - 1) / outputTextBytes }

// past: as on the OpenAI routes (streamMeter.past).
func (m *anthropicMeter) past(capacity int64) bool {
	return m.deltas > capacity || m.output() > capacity+capacity/2
}

// result is message_delta's usage when it came; otherwise (estimated) message_start's
// input counts, or the prompt estimate without them, and the larger of the output
// reported so far and ⌈bytes/4⌉ of the text streamed.
func (m *anthropicMeter) result(promptEstimate int64) (pricing.Usage, bool) {
	if m.reported {
		return m.totals.usage(), false
	}
	if !m.started {
		return pricing.Usage{Input: promptEstimate, Output: m.output()}, true
	}
	u := m.totals.usage()
	u.Output = max(u.Output, m.output())
	u.Reasoning = min(u.Reasoning, u.Output)
	return u, true
}

// closing ends a stream Spectra cut at its hold: a content_block_stop for each open
// block, a message_delta with stop_reason "max_tokens" and the usage charged (in
// Anthropic's meaning), and message_stop.
func (m *anthropicMeter) closing(c *call) []byte {
	u, _ := m.result(c.prompt)
	var out bytes.Buffer
	event := func(name string, v any) {
		b, _ := json.Marshal(v)
		out.WriteString("event: " + name + "\ndata: ")
		out.Write(b)
		out.WriteString("\n\n")
	}
	for _, i := range m.open {
		event("content_block_stop", map[string]any{"type": "content_block_stop", "index": i})
	}
	event("message_delta", map[string]any{
		"type":  "message_delta",
		"delta": map[string]any{"stop_reason": "max_tokens", "stop_sequence": nil},
		"usage": map[string]any{
			"input_tokens":                u.Input - u.CachedInput,
			"cache_creation_input_tokens": u.CacheWrite,
			"cache_read_input_tokens":     u.CachedInput,
			"output_tokens":               u.Output,
			"server_tool_use":             map[string]int64{"web_search_requests": u.WebSearchCalls},
		},
	})
	event("message_stop", map[string]any{"type": "message_stop"})
	return out.Bytes()
}
