package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	sdk "github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"

	"spectra/internal/budget"
	"spectra/internal/gateway/fakeanthropic"
	"spectra/internal/gateway/upstream"
	"spectra/internal/ledger"
	"spectra/internal/metering"
	"spectra/internal/money"
	"spectra/internal/pricing"
	"spectra/internal/store"
	"spectra/internal/team"
)

const claudeModel = "claude-test"

// claudePrice: per million tokens $3 input, $0.30 cache read, $3.75 5-minute cache
// write, $6 1-hour cache write, $15 output; $0.000100 per request, $0.01 per web search.
var claudePrice = pricing.Price{Model: claudeModel, Input: 3_000_000, CachedInput: 300_000, CacheWrite: 3_750_000,
	CacheWrite1h: 6_000_000, Output: 15_000_000, Request: 100, WebSearchCall: 10_000}

const anthUpstreamKey = "sk-ant-upstream"

// claudeCost prices a usage in Anthropic's meaning by hand, independently of package
// pricing and of the gateway's mapping: input (uncached) × 3 + reads × 0.30 + 5-minute
// writes × 3.75 + 1-hour writes × 6 + output × 15, per million, rounded half-up once,
// plus the request fee and $0.01 per search.
func claudeCost(input, read, write5m, write1h, output, searches int64) money.Amount {
	return claudeExact(input, read, write5m, write1h, output, searches).Round()
}

// claudeExact is claudeCost before rounding: what the wallet's charges add up to.
func claudeExact(input, read, write5m, write1h, output, searches int64) pricing.Exact {
	micro := input*3_000_000 + read*300_000 + write5m*3_750_000 + write1h*6_000_000 + output*15_000_000
	return exactOf(micro + (100+searches*10_000)*1_000_000)
}

// anthEnv is env plus a stand-in Anthropic upstream serving claudeModel.
type anthEnv struct {
	*env
	anth *fakeanthropic.Server
}

func newAnthEnv(t *testing.T, db *store.DB, clk *clock, grant money.Amount, o fakeanthropic.Options) *anthEnv {
	t.Helper()
	e := newEnv(t, db, clk, envOpts{grant: grant})
	o.APIKey = anthUpstreamKey
	a := fakeanthropic.New(o)
	t.Cleanup(a.Close)
	p := claudePrice
	p.EffectiveFrom = clk.Now().Add(-time.Hour)
	must(t, db.AddPrice(context.Background(), p))
	e.metering.Invalidate()
	_, _, err := e.gw.PutUpstream(context.Background(), Upstream{Name: "anthropic", API: upstream.Anthropic, BaseURL: a.URL,
		APIKey: anthUpstreamKey, Models: []string{claudeModel}})
	must(t, err)
	return &anthEnv{env: e, anth: a}
}

// sdk is Anthropic's official Go client pointed at the gateway, without retries.
func (a *anthEnv) sdk(opts ...option.RequestOption) *sdk.Client {
	c := sdk.NewClient(append([]option.RequestOption{option.WithBaseURL(a.srv.URL), option.WithAPIKey(a.secret),
		option.WithMaxRetries(0)}, opts...)...)
	return &c
}

// raw posts body to path on the gateway with the given headers.
func (a *anthEnv) raw(url, path, body string, hdr map[string]string) (*http.Response, []byte) {
	a.t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+path, strings.NewReader(body))
	must(a.t, err)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	must(a.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	must(a.t, err)
	return resp, b
}

// anthError is an Anthropic-shaped error body.
type anthError struct {
	Type  string `json:"type"`
	Error struct {
		Type     string `json:"type"`
		Message  string `json:"message"`
		Code     string `json:"code"`
		BudgetID string `json:"budget_id"`
	} `json:"error"`
}

func wantAnthError(t *testing.T, resp *http.Response, b []byte, status int, typ, code string) anthError {
	t.Helper()
	var e anthError
	if resp.StatusCode != status || json.Unmarshal(b, &e) != nil || e.Type != "error" || e.Error.Type != typ || e.Error.Code != code || e.Error.Message == "" {
		t.Fatalf("got %d %s, want %d %s/%s in Anthropic's shape", resp.StatusCode, b, status, typ, code)
	}
	return e
}

func userText(text string) []sdk.MessageParam {
	return []sdk.MessageParam{sdk.NewUserMessage(sdk.NewTextBlock(text))}
}

// check asserts that the request behind resp settled at its exact cost, charged the
// whole micro-units of the wallet's running total (charges), that the balance is
// exactly what the ledger says after every call, and returns its event.
type ledgerCheck struct {
	a    *anthEnv
	want money.Amount
	w    charges
}

func (l *ledgerCheck) charged(t *testing.T, step string, resp *http.Response, exact pricing.Exact) metering.Event {
	t.Helper()
	l.a.flush()
	id := resp.Header.Get("X-Request-Id")
	ev := l.a.event(id)
	want := l.w.charge(exact)
	if ev.Cost != want || ev.CostExact != exact {
		t.Fatalf("%s: cost %s (exact %s), want %s (exact %s; usage %+v)", step, ev.Cost, ev.CostExact, want, exact, ev.Usage)
	}
	if ev.Endpoint != "/v1/messages" || ev.Source != "gateway" || ev.KeyID != l.a.key.ID {
		t.Fatalf("%s: event %+v", step, ev)
	}
	l.want -= want
	if b := l.a.balance(); b.Balance != l.want || b.Held != 0 {
		t.Fatalf("%s: balance %s held %s, want %s", step, b.Balance, b.Held, l.want)
	}
	return ev
}

// The Messages API through the gateway with the official client, streamed and not, with
// both ways of sending the key: each call is charged its hand-computed cost, the headers
// pass through, and the balance follows the ledger.
func TestAnthropicMessages(t *testing.T) {
	eachStore(t, func(t *testing.T, db *store.DB, clk *clock) {
		grant := money.Amount(10 * money.Scale)
		a := newAnthEnv(t, db, clk, grant, fakeanthropic.Options{})
		l := &ledgerCheck{a: a, want: grant}
		ctx := context.Background()
		c := a.sdk()

		// Not streamed, key as Authorization: Bearer (the SDK's WithAPIKey).
		var resp *http.Response
		msg, err := c.Messages.New(ctx, sdk.MessageNewParams{Model: claudeModel, MaxTokens: 100, Messages: userText("hello there gateway")},
			option.WithResponseInto(&resp), option.WithHeader("anthropic-beta", "beta-one"))
		must(t, err)
		// 2 per message + 3 words in; 20 words out.
		if msg.Usage.InputTokens != 5 || msg.Usage.OutputTokens != 20 || msg.Content[0].Text == "" {
			t.Fatalf("message %+v", msg)
		}
		if got := resp.Header.Get("X-Spectra-Cost"); got != claudeCost(5, 0, 0, 0, 20, 0).String() {
			t.Fatalf("X-Spectra-Cost %q", got)
		}
		if got := resp.Header.Get("X-Upstream-Request-Id"); got != "req_up_"+msg.ID {
			t.Fatalf("X-Upstream-Request-Id %q for %s", got, msg.ID)
		}
		ev := l.charged(t, "whole", resp, claudeExact(5, 0, 0, 0, 20, 0))
		if ev.Stream || ev.Estimated || ev.Status != 200 || !sameUsage(ev.Usage, pricing.Usage{Input: 5, Output: 20}) {
			t.Fatalf("whole event %+v", ev)
		}
		h := a.anth.LastHeaders()
		if h.Get("X-Api-Key") != anthUpstreamKey || h.Get("Authorization") != "" || h.Get("Anthropic-Version") == "" || h.Get("Anthropic-Beta") != "beta-one" {
			t.Fatalf("upstream headers %v", h)
		}

		// Streamed, key in x-api-key, accumulated by the SDK.
		xc := sdk.NewClient(option.WithBaseURL(a.srv.URL), option.WithHeader("X-Api-Key", a.secret), option.WithMaxRetries(0))
		stream := xc.Messages.NewStreaming(ctx, sdk.MessageNewParams{Model: claudeModel, MaxTokens: 100, Messages: userText("stream it please")},
			option.WithResponseInto(&resp), option.WithHeader("anthropic-version", "2023-06-01"))
		var acc sdk.Message
		for stream.Next() {
			must(t, acc.Accumulate(stream.Current()))
		}
		must(t, stream.Err())
		if acc.Usage.InputTokens != 5 || acc.Usage.OutputTokens != 20 || acc.StopReason != "end_turn" || !strings.HasPrefix(acc.Content[0].Text, "w1 w2") {
			t.Fatalf("streamed message %+v", acc)
		}
		// message_delta repeats the input counts (cumulative): they are taken, not added.
		ev = l.charged(t, "stream", resp, claudeExact(5, 0, 0, 0, 20, 0))
		if !ev.Stream || ev.Estimated || !sameUsage(ev.Usage, pricing.Usage{Input: 5, Output: 20}) {
			t.Fatalf("stream event %+v", ev)
		}
		if got := a.anth.LastHeaders().Get("Anthropic-Version"); got != "2023-06-01" {
			t.Fatalf("anthropic-version %q", got)
		}
		// Claude Code's ?beta=true reaches the upstream; without anthropic-version the
		// gateway sends 2023-06-01.
		resp, b := a.raw(a.srv.URL, "/v1/messages?beta=true", `{"model":"`+claudeModel+`","max_tokens":5,"messages":[]}`, map[string]string{"X-Api-Key": a.secret})
		if resp.StatusCode != 200 || a.anth.LastQuery() != "beta=true" || a.anth.LastHeaders().Get("Anthropic-Version") != anthropicVersion {
			t.Fatalf("beta query: %d %s, upstream query %q", resp.StatusCode, b, a.anth.LastQuery())
		}
		l.charged(t, "beta", resp, claudeExact(0, 0, 0, 0, 5, 0))
		a.verify()
	})
}

// A 5-minute cache write, then its read; a 1-hour write, then its read: each priced at
// its own rate, with Anthropic's input_tokens (reads and writes excluded) mapped onto
// Spectra's (reads included) so that no token is charged twice.
func TestAnthropicCacheWritesAndReads(t *testing.T) {
	eachStore(t, func(t *testing.T, db *store.DB, clk *clock) {
		grant := money.Amount(10 * money.Scale)
		a := newAnthEnv(t, db, clk, grant, fakeanthropic.Options{})
		l := &ledgerCheck{a: a, want: grant}
		c := a.sdk()
		system := func(text string, ttl sdk.CacheControlEphemeralTTL) []sdk.TextBlockParam {
			cc := sdk.NewCacheControlEphemeralParam()
			cc.TTL = ttl
			return []sdk.TextBlockParam{{Text: text, CacheControl: cc}}
		}
		ten := "s1 s2 s3 s4 s5 s6 s7 s8 s9 s10"
		call := func(sys []sdk.TextBlockParam, stream bool) (*http.Response, sdk.Usage) {
			var resp *http.Response
			p := sdk.MessageNewParams{Model: claudeModel, MaxTokens: 100, System: sys, Messages: userText("hi there")}
			if !stream {
				m, err := c.Messages.New(context.Background(), p, option.WithResponseInto(&resp))
				must(t, err)
				return resp, m.Usage
			}
			s := c.Messages.NewStreaming(context.Background(), p, option.WithResponseInto(&resp))
			var acc sdk.Message
			for s.Next() {
				must(t, acc.Accumulate(s.Current()))
			}
			must(t, s.Err())
			return resp, acc.Usage
		}
		// The prompt is 10 system words (the cached prefix) + 2 + 2 = 14 tokens.
		resp, u := call(system(ten, sdk.CacheControlEphemeralTTLTTL5m), false)
		if u.InputTokens != 4 || u.CacheCreationInputTokens != 10 || u.CacheCreation.Ephemeral5mInputTokens != 10 {
			t.Fatalf("5m write usage %+v", u)
		}
		ev := l.charged(t, "5m write", resp, claudeExact(4, 0, 10, 0, 20, 0))
		if !sameUsage(ev.Usage, pricing.Usage{Input: 4, CacheWrite: 10, Output: 20}) {
			t.Fatalf("5m write event %+v", ev.Usage)
		}
		resp, u = call(system(ten, sdk.CacheControlEphemeralTTLTTL5m), true)
		if u.InputTokens != 4 || u.CacheReadInputTokens != 10 {
			t.Fatalf("read usage %+v", u)
		}
		ev = l.charged(t, "5m read", resp, claudeExact(4, 10, 0, 0, 20, 0))
		if !sameUsage(ev.Usage, pricing.Usage{Input: 14, CachedInput: 10, Output: 20}) {
			t.Fatalf("read event %+v", ev.Usage)
		}
		// The 1-hour write, streamed: message_delta carries no split, message_start's stays.
		other := "h1 h2 h3 h4 h5 h6 h7 h8 h9 h10"
		resp, u = call(system(other, sdk.CacheControlEphemeralTTLTTL1h), true)
		if u.CacheCreationInputTokens != 10 {
			t.Fatalf("1h write usage %+v", u)
		}
		ev = l.charged(t, "1h write", resp, claudeExact(4, 0, 0, 10, 20, 0))
		if !sameUsage(ev.Usage, pricing.Usage{Input: 4, CacheWrite: 10, CacheWrite1h: 10, Output: 20}) {
			t.Fatalf("1h write event %+v", ev.Usage)
		}
		resp, _ = call(system(other, sdk.CacheControlEphemeralTTLTTL1h), false)
		l.charged(t, "1h read", resp, claudeExact(4, 10, 0, 0, 20, 0))
		a.verify()
	})
}

// The same request reported in OpenAI's convention (input includes the cache reads) and
// in Anthropic's (it excludes reads and writes) maps to the same Spectra usage and the
// same cost: neither is billed twice.
func TestAnthropicUsageMapping(t *testing.T) {
	anth := []byte(`{"usage":{"input_tokens":100,"cache_read_input_tokens":400,"cache_creation_input_tokens":50,
		"cache_creation":{"ephemeral_5m_input_tokens":30,"ephemeral_1h_input_tokens":20},"output_tokens":10,
		"output_tokens_details":{"thinking_tokens":4},"server_tool_use":{"web_search_requests":3}}}`)
	got, estimated, err := anthropic{}.meterBody(&call{}, anth)
	want := pricing.Usage{Input: 500, CachedInput: 400, CacheWrite: 50, CacheWrite1h: 20, Output: 10, Reasoning: 4, WebSearchCalls: 3}
	if err != nil || estimated || !sameUsage(got, want) {
		t.Fatalf("anthropic usage %+v %v %v, want %+v", got, estimated, err, want)
	}
	openaiShape := []byte(`{"usage":{"prompt_tokens":500,"completion_tokens":10,"prompt_tokens_details":{"cached_tokens":400},"cache_creation_input_tokens":50}}`)
	o, _, err := meterBody(openaiShape, 0)
	must(t, err)
	p := claudePrice
	p.CacheWrite1h = 0 // OpenAI's shape has no 1-hour split: price every write at cache_write
	ca, err := pricing.Cost(p, pricing.Usage{Input: got.Input, CachedInput: got.CachedInput, CacheWrite: got.CacheWrite, Output: got.Output})
	must(t, err)
	co, err := pricing.Cost(p, o)
	must(t, err)
	// 100 × 3 + 400 × 0.30 + 50 × 3.75 + 10 × 15 = 300 + 120 + 187.5 + 150 → 758 (half-up) + 100.
	if ca != co || ca != 858 {
		t.Fatalf("anthropic %s, openai %s, want 0.000858 both", ca, co)
	}
	// With the split and the searches, by hand: 300 + 120 + 30 × 3.75 + 20 × 6 + 150 = 802.5 → 803 + 100 + 30,000.
	if c, _ := pricing.Cost(claudePrice, got); c != claudeCost(100, 400, 30, 20, 10, 3) || c != 30_903 {
		t.Fatalf("split cost %s", c)
	}
	// message_delta's counts replace message_start's, never add to them.
	m := &anthropicMeter{}
	m.feed([]byte(`{"type":"message_start","message":{"id":"msg_1","usage":{"input_tokens":100,"cache_read_input_tokens":400,"cache_creation_input_tokens":50,"cache_creation":{"ephemeral_5m_input_tokens":30,"ephemeral_1h_input_tokens":20},"output_tokens":1}}}`))
	m.feed([]byte(`{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"input_tokens":100,"cache_read_input_tokens":400,"cache_creation_input_tokens":50,"output_tokens":10,"output_tokens_details":{"thinking_tokens":4},"server_tool_use":{"web_search_requests":3}}}`))
	if u, est := m.result(7); est || !sameUsage(u, want) || !m.final() || !m.complete() {
		t.Fatalf("stream usage %+v %v", u, est)
	}
	// An older upstream whose message_delta has only output_tokens keeps message_start's input.
	m = &anthropicMeter{}
	m.feed([]byte(`{"type":"message_start","message":{"usage":{"input_tokens":100,"cache_read_input_tokens":400,"output_tokens":1}}}`))
	m.feed([]byte(`{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":10}}`))
	if u, _ := m.result(7); !sameUsage(u, pricing.Usage{Input: 500, CachedInput: 400, Output: 10}) {
		t.Fatalf("output-only delta: %+v", u)
	}
}

// Thinking: the hold is max_tokens (budget_tokens is within it; the larger of the two,
// never their sum), and the thinking tokens are charged as output.
func TestAnthropicThinking(t *testing.T) {
	for _, c := range []struct {
		body  string
		limit int64
	}{
		{`{"model":"m","max_tokens":2048,"thinking":{"type":"enabled","budget_tokens":1024}}`, 2048},
		{`{"model":"m","max_tokens":1000,"thinking":{"type":"enabled","budget_tokens":4000}}`, 4000}, // interleaved thinking
		{`{"model":"m","max_tokens":1000,"thinking":{"type":"disabled"}}`, 1000},
		{`{"model":"m","max_tokens":1000,"thinking":null}`, 1000},
	} {
		r, err := anthropic{}.parse(epMessages, nil, []byte(c.body))
		if err != nil || r.Limit != c.limit || r.maxOutput(epMessages, 99) != c.limit {
			t.Fatalf("%s: %+v %v, want limit %d", c.body, r, err, c.limit)
		}
	}
	eachStore(t, func(t *testing.T, db *store.DB, clk *clock) {
		grant := money.Amount(10 * money.Scale)
		a := newAnthEnv(t, db, clk, grant, fakeanthropic.Options{})
		l := &ledgerCheck{a: a, want: grant}
		c := a.sdk()
		p := sdk.MessageNewParams{Model: claudeModel, MaxTokens: 2048, Thinking: sdk.ThinkingConfigParamOfEnabled(1024), Messages: userText("think hard")}
		var resp *http.Response
		s := c.Messages.NewStreaming(context.Background(), p, option.WithResponseInto(&resp))
		var acc sdk.Message
		for s.Next() {
			must(t, acc.Accumulate(s.Current()))
		}
		must(t, s.Err())
		if len(acc.Content) != 2 || acc.Content[0].Type != "thinking" || acc.Content[0].Thinking == "" || acc.Usage.OutputTokens != 32 {
			t.Fatalf("thinking message %+v", acc)
		}
		// 12 thinking + 20 text tokens, all output.
		ev := l.charged(t, "thinking", resp, claudeExact(4, 0, 0, 0, 32, 0))
		if ev.Usage.Output != 32 || ev.Usage.Reasoning != 12 {
			t.Fatalf("thinking usage %+v", ev.Usage)
		}
		a.verify()
	})
}

// Tool use (a tool_use block streamed as input_json_delta) and server-side web search
// (charged per call on top of the tokens).
func TestAnthropicToolsAndWebSearch(t *testing.T) {
	eachStore(t, func(t *testing.T, db *store.DB, clk *clock) {
		grant := money.Amount(10 * money.Scale)
		a := newAnthEnv(t, db, clk, grant, fakeanthropic.Options{})
		l := &ledgerCheck{a: a, want: grant}
		c := a.sdk()
		weather := sdk.ToolUnionParam{OfTool: &sdk.ToolParam{Name: "weather", InputSchema: sdk.ToolInputSchemaParam{Properties: map[string]any{"city": map[string]any{"type": "string"}}}}}
		var resp *http.Response
		s := c.Messages.NewStreaming(context.Background(), sdk.MessageNewParams{Model: claudeModel, MaxTokens: 100,
			Tools: []sdk.ToolUnionParam{weather}, Messages: userText("please use the tool")}, option.WithResponseInto(&resp))
		var acc sdk.Message
		for s.Next() {
			must(t, acc.Accumulate(s.Current()))
		}
		must(t, s.Err())
		if acc.StopReason != "tool_use" || len(acc.Content) != 1 || acc.Content[0].Type != "tool_use" || string(acc.Content[0].Input) != `{"city": "Paris"}` {
			t.Fatalf("tool use %+v input %s", acc, acc.Content[0].Input)
		}
		// 2 + 4 words in; 4 tokens of tool input out.
		l.charged(t, "tool use", resp, claudeExact(6, 0, 0, 0, 4, 0))

		search := sdk.ToolUnionParam{OfWebSearchTool20250305: &sdk.WebSearchTool20250305Param{MaxUses: sdk.Int(3)}}
		msg, err := c.Messages.New(context.Background(), sdk.MessageNewParams{Model: claudeModel, MaxTokens: 100,
			Tools: []sdk.ToolUnionParam{search}, Messages: userText("search the web")}, option.WithResponseInto(&resp))
		must(t, err)
		if msg.Usage.ServerToolUse.WebSearchRequests != 2 {
			t.Fatalf("search usage %+v", msg.Usage)
		}
		ev := l.charged(t, "web search", resp, claudeExact(5, 0, 0, 0, 20, 2))
		if ev.Usage.WebSearchCalls != 2 {
			t.Fatalf("search event %+v", ev.Usage)
		}
		s = c.Messages.NewStreaming(context.Background(), sdk.MessageNewParams{Model: claudeModel, MaxTokens: 100,
			Tools: []sdk.ToolUnionParam{search}, Messages: userText("search the web")}, option.WithResponseInto(&resp))
		for s.Next() {
		}
		must(t, s.Err())
		l.charged(t, "web search streamed", resp, claudeExact(5, 0, 0, 0, 20, 2))
		a.verify()
	})
}

// A client that leaves mid-stream: the upstream request is closed, and the request is
// charged message_start's input and the text streamed so far, recorded as estimated
// with status 499; the balance follows the ledger and nothing stays held.
func TestAnthropicDisconnectMidStream(t *testing.T) {
	eachStore(t, func(t *testing.T, db *store.DB, clk *clock) {
		grant := money.Amount(10 * money.Scale)
		a := newAnthEnv(t, db, clk, grant, fakeanthropic.Options{Words: 400, Delay: 5 * time.Millisecond})
		ctx, cancel := context.WithCancel(context.Background())
		var resp *http.Response
		s := a.sdk().Messages.NewStreaming(ctx, sdk.MessageNewParams{Model: claudeModel, MaxTokens: 1000, Messages: userText("a long story")},
			option.WithResponseInto(&resp))
		texts := 0
		for s.Next() {
			if ev := s.Current(); ev.Type == "content_block_delta" {
				if texts++; texts == 3 {
					cancel()
				}
			}
		}
		cancel()
		a.flush()
		ev := a.event(resp.Header.Get("X-Request-Id"))
		if !ev.Estimated || ev.Status != 499 || !ev.Stream || ev.Usage.Input != 5 || ev.Usage.Output < 1 || ev.Usage.Output > 400 {
			t.Fatalf("disconnect event %+v", ev)
		}
		if want, _ := pricing.Cost(claudePrice, ev.Usage); ev.Cost != want {
			t.Fatalf("cost %s, want %s", ev.Cost, want)
		}
		if b := a.balance(); b.Balance != grant-ev.Cost {
			t.Fatalf("balance %s, want %s", b.Balance, grant-ev.Cost)
		}
		a.verify()
	})
}

// A stream that goes past its hold (an upstream ignoring max_tokens) is ended by
// Spectra with a message_delta (stop_reason max_tokens) and message_stop, which the
// official client accumulates; it is charged what was relayed, recorded as estimated.
func TestAnthropicStreamCutAtHold(t *testing.T) {
	eachStore(t, func(t *testing.T, db *store.DB, clk *clock) {
		grant := money.Amount(10 * money.Scale)
		a := newAnthEnv(t, db, clk, grant, fakeanthropic.Options{Words: 500, IgnoreLimit: true})
		var resp *http.Response
		s := a.sdk().Messages.NewStreaming(context.Background(), sdk.MessageNewParams{Model: claudeModel, MaxTokens: 10, Messages: userText("go on")},
			option.WithResponseInto(&resp))
		var acc sdk.Message
		deltas := 0
		for s.Next() {
			ev := s.Current()
			if ev.Type == "content_block_delta" {
				deltas++
			}
			must(t, acc.Accumulate(ev))
		}
		must(t, s.Err())
		if acc.StopReason != "max_tokens" || deltas != 11 {
			t.Fatalf("cut stream: stop %q after %d deltas", acc.StopReason, deltas)
		}
		a.flush()
		ev := a.event(resp.Header.Get("X-Request-Id"))
		// " w1".." w11" less the first space: 34 bytes, ⌈34/4⌉ = 9 tokens; the input from message_start.
		if !ev.Estimated || !sameUsage(ev.Usage, pricing.Usage{Input: 4, Output: 9}) || acc.Usage.OutputTokens != 9 {
			t.Fatalf("cut event %+v, client usage %+v", ev, acc.Usage)
		}
		if ev.Cost != claudeCost(4, 0, 0, 0, 9, 0) {
			t.Fatalf("cut cost %s", ev.Cost)
		}
		a.verify()
	})
}

// count_tokens is forwarded with the upstream's key and not charged: no event, no hold,
// the balance unchanged; it still needs a valid key and an allowed, routed model.
func TestAnthropicCountTokens(t *testing.T) {
	eachStore(t, func(t *testing.T, db *store.DB, clk *clock) {
		grant := money.Amount(money.Scale)
		a := newAnthEnv(t, db, clk, grant, fakeanthropic.Options{})
		n, err := a.sdk().Messages.CountTokens(context.Background(), sdk.MessageCountTokensParams{Model: claudeModel, Messages: userText("count these words")})
		must(t, err)
		if n.InputTokens != 5 || a.anth.Counts() != 1 || a.anth.LastHeaders().Get("X-Api-Key") != anthUpstreamKey {
			t.Fatalf("count %+v, upstream counts %d", n, a.anth.Counts())
		}
		resp, b := a.raw(a.srv.URL, "/v1/messages/count_tokens", `{"model":"`+claudeModel+`","messages":[]}`, nil)
		wantAnthError(t, resp, b, 401, "authentication_error", "invalid_api_key")
		resp, b = a.raw(a.srv.URL, "/v1/messages/count_tokens", `{"model":"gpt-4o","messages":[]}`, map[string]string{"X-Api-Key": a.secret})
		wantAnthError(t, resp, b, 404, "not_found_error", "model_not_found")
		a.verify()
		if len(a.events()) != 0 || a.balance().Balance != grant {
			t.Fatalf("count_tokens charged: %d events, balance %s", len(a.events()), a.balance().Balance)
		}
	})
}

// Every refusal of /v1/messages is in Anthropic's shape with Spectra's code, and none
// reaches the upstream.
func TestAnthropicRefusals(t *testing.T) {
	eachStore(t, func(t *testing.T, db *store.DB, clk *clock) {
		a := newAnthEnv(t, db, clk, money.Scale, fakeanthropic.Options{})
		key := map[string]string{"X-Api-Key": a.secret}
		m := `"model":"` + claudeModel + `"`
		for _, c := range []struct {
			hdr          map[string]string
			body         string
			status       int
			typ, code    string
			method, path string
		}{
			{nil, `{` + m + `,"max_tokens":10}`, 401, "authentication_error", "invalid_api_key", "", ""},
			{map[string]string{"X-Api-Key": "sk-nope"}, `{` + m + `,"max_tokens":10}`, 401, "authentication_error", "invalid_api_key", "", ""},
			{map[string]string{"Authorization": "Bearer sk-nope"}, `{` + m + `,"max_tokens":10}`, 401, "authentication_error", "invalid_api_key", "", ""},
			{key, `{` + m + `,"messages":[]}`, 400, "invalid_request_error", "missing_max_tokens", "", ""},
			{key, `{` + m + `,"max_tokens":null}`, 400, "invalid_request_error", "missing_max_tokens", "", ""},
			{key, `{` + m + `,"max_tokens":0}`, 400, "invalid_request_error", "integer_below_min_value", "", ""},
			{key, `{` + m + `,"max_tokens":"10"}`, 400, "invalid_request_error", "invalid_type", "", ""},
			{key, `{` + m + `,"max_tokens":1.5}`, 400, "invalid_request_error", "invalid_type", "", ""},
			{key, `{` + m + `,"max_tokens":10,"Max_Tokens":100000}`, 400, "invalid_request_error", "invalid_field_name", "", ""},
			{key, `{` + m + `,"max_tokens":10,"max_tokens":100000}`, 400, "invalid_request_error", "duplicate_key", "", ""},
			{key, `{` + m + `,"max_tokens":10,"MODEL":"x"}`, 400, "invalid_request_error", "invalid_field_name", "", ""},
			{key, `{` + m + `,"max_tokens":10,"thinking":{"type":"enabled","budget_tokens":"5"}}`, 400, "invalid_request_error", "invalid_type", "", ""},
			{key, `{` + m + `,"max_tokens":10,"thinking":{"budget_tokens":5,"budget_tokens":50000}}`, 400, "invalid_request_error", "duplicate_key", "", ""},
			{key, `{` + m + `,"max_tokens":10,"thinking":{"Budget_Tokens":50000}}`, 400, "invalid_request_error", "invalid_field_name", "", ""},
			{key, `{` + m + `,"max_tokens":10,"thinking":"on"}`, 400, "invalid_request_error", "invalid_type", "", ""},
			{key, `{` + m + `,"max_tokens":10,"tools":[{"type":"web_search_20250305","max_uses":"3"}]}`, 400, "invalid_request_error", "invalid_type", "", ""},
			{key, `{` + m + `,"max_tokens":10,"tools":{}}`, 400, "invalid_request_error", "invalid_type", "", ""},
			{key, `{` + m + `,"max_tokens":10,"stream":"yes"}`, 400, "invalid_request_error", "invalid_type", "", ""},
			{key, `{"max_tokens":10}`, 400, "invalid_request_error", "missing_model", "", ""},
			{key, `[1]`, 400, "invalid_request_error", "invalid_json", "", ""},
			{key, `{` + m, 400, "invalid_request_error", "invalid_json", "", ""},
			{key, `{"model":"gpt-4o","max_tokens":10}`, 404, "not_found_error", "model_not_found", "", ""}, // an OpenAI upstream's model
			{key, `{"model":"nope","max_tokens":10}`, 404, "not_found_error", "model_not_priced", "", ""},
			{key, ``, 405, "invalid_request_error", "method_not_allowed", http.MethodGet, "/v1/messages"},
		} {
			var resp *http.Response
			var b []byte
			if c.method != "" {
				req, _ := http.NewRequest(c.method, a.srv.URL+c.path, nil)
				r, err := http.DefaultClient.Do(req)
				must(t, err)
				b, _ = io.ReadAll(r.Body)
				r.Body.Close()
				resp = r
			} else {
				resp, b = a.raw(a.srv.URL, "/v1/messages", c.body, c.hdr)
			}
			wantAnthError(t, resp, b, c.status, c.typ, c.code)
		}
		if n := a.anth.Requests(); n != 0 {
			t.Fatalf("upstream called %d times", n)
		}
		// The official client sees the status and the type.
		_, err := a.sdk(option.WithAPIKey("sk-wrong")).Messages.New(context.Background(), sdk.MessageNewParams{Model: claudeModel, MaxTokens: 10, Messages: userText("x")})
		var ae *sdk.Error
		if !errors.As(err, &ae) || ae.StatusCode != 401 || !strings.Contains(err.Error(), "authentication_error") {
			t.Fatalf("sdk error %v", err)
		}
		a.verify()
	})
}

// A balance that cannot cover the hold, and a hard budget, stop /v1/messages with 402
// before the upstream is called; an rpm limit answers 429 with retry-after.
func TestAnthropicMoneyAndLimitsStopBeforeUpstream(t *testing.T) {
	eachStore(t, func(t *testing.T, db *store.DB, clk *clock) {
		// No balance: the hold does not fit.
		a := newAnthEnv(t, db, clk, 0, fakeanthropic.Options{})
		body := `{"model":"` + claudeModel + `","max_tokens":100,"messages":[{"role":"user","content":"hi"}]}`
		resp, b := a.raw(a.srv.URL, "/v1/messages", body, map[string]string{"X-Api-Key": a.secret})
		wantAnthError(t, resp, b, 402, "billing_error", "insufficient_balance")
		_, err := a.sdk().Messages.New(context.Background(), sdk.MessageNewParams{Model: claudeModel, MaxTokens: 100, Messages: userText("hi")})
		var ae *sdk.Error
		if !errors.As(err, &ae) || ae.StatusCode != 402 || !strings.Contains(err.Error(), "insufficient_balance") {
			t.Fatalf("sdk error %v", err)
		}
		if n := a.anth.Requests(); n != 0 {
			t.Fatalf("upstream called %d times without a balance", n)
		}

		// A hard budget, on a node that enforces them.
		ctx := context.Background()
		_, _, err = a.ledger.Grant(ctx, a.ws.ID, 10*money.Scale, "top up", "")
		must(t, err)
		lg := slog.New(slog.NewTextHandler(io.Discard, nil))
		mt := metering.NewService(db, db, clk.Now)
		lr := ledger.NewService(db, clk.Now)
		tm := team.NewService(db, clk.Now)
		bs, err := budget.New(budget.Config{Store: db, Metering: mt, Ledger: lr, Team: tm, Now: clk.Now, Log: lg})
		must(t, err)
		g, err := New(Config{Team: tm, Ledger: lr, Metering: mt, Store: db, Now: clk.Now, Budgets: bs, Log: lg, DefaultMaxTokens: 1000, HoldTTL: 10 * time.Minute})
		must(t, err)
		must(t, g.reg.load(ctx))
		mux := http.NewServeMux()
		g.Register(mux)
		srv := httptest.NewServer(mux)
		defer srv.Close()
		defer g.Flush(context.Background())
		bud, err := bs.Create(ctx, budget.Budget{WorkspaceID: a.ws.ID, Name: "claude", Scope: budget.ScopeWorkspace, Amount: 1, Period: budget.PeriodMonth, HardLimit: true})
		must(t, err)
		resp, b = a.raw(srv.URL, "/v1/messages", body, map[string]string{"Authorization": "Bearer " + a.secret})
		e := wantAnthError(t, resp, b, 402, "billing_error", "budget_exceeded")
		if e.Error.BudgetID != bud.ID {
			t.Fatalf("budget error %+v", e)
		}
		if n := a.anth.Requests(); n != 0 {
			t.Fatalf("upstream called %d times past a hard budget", n)
		}

		// rpm 1: the second request in the minute is refused with retry-after.
		one := 1
		_, err = a.gw.SetKeyLimits(ctx, a.ws.ID, a.key.ID, team.KeyLimits{RPM: &one})
		must(t, err)
		resp, b = a.raw(a.srv.URL, "/v1/messages", body, map[string]string{"X-Api-Key": a.secret})
		if resp.StatusCode != 200 {
			t.Fatalf("first request %d %s", resp.StatusCode, b)
		}
		resp, b = a.raw(a.srv.URL, "/v1/messages", body, map[string]string{"X-Api-Key": a.secret})
		wantAnthError(t, resp, b, 429, "rate_limit_error", "rate_limit_exceeded")
		if resp.Header.Get("Retry-After") == "" {
			t.Fatal("429 without retry-after")
		}
		if n := a.anth.Requests(); n != 1 {
			t.Fatalf("upstream called %d times, want 1", n)
		}
		must(t, g.Flush(ctx))
		a.verify()
	})
}

// An upstream's own error passes through as it is (it is in Anthropic's shape already)
// and costs nothing.
func TestAnthropicUpstreamErrorPassesThrough(t *testing.T) {
	eachStore(t, func(t *testing.T, db *store.DB, clk *clock) {
		a := newAnthEnv(t, db, clk, money.Scale, fakeanthropic.Options{})
		_, _, err := a.gw.PutUpstream(context.Background(), Upstream{Name: "anthropic", API: upstream.Anthropic, BaseURL: a.anth.URL,
			APIKey: "sk-wrong-upstream-key", Models: []string{claudeModel}})
		must(t, err)
		resp, b := a.raw(a.srv.URL, "/v1/messages", `{"model":"`+claudeModel+`","max_tokens":10,"messages":[]}`, map[string]string{"X-Api-Key": a.secret})
		var e anthError
		if resp.StatusCode != 401 || json.Unmarshal(b, &e) != nil || e.Error.Type != "authentication_error" || e.Error.Message != "invalid x-api-key" {
			t.Fatalf("passed error %d %s", resp.StatusCode, b)
		}
		a.verify()
		if a.balance().Balance != money.Scale || len(a.events()) != 0 {
			t.Fatal("an upstream error was charged")
		}
	})
}

// The hold of /v1/messages is max_tokens of output (or thinking.budget_tokens when
// larger), plus the web search calls a search tool may make: a balance that covers the
// hold of a request admits it, and the same request with a larger thinking budget or an
// unbounded search tool is refused before the upstream.
func TestAnthropicHoldCoversMaxTokensThinkingAndSearches(t *testing.T) {
	for body, calls := range map[string]int64{
		`{"model":"m","max_tokens":1,"tools":[{"type":"web_search_20250305","name":"web_search"}]}`:                  webSearchHold,
		`{"model":"m","max_tokens":1,"tools":[{"type":"web_search_20250305","max_uses":3},{"name":"weather"}]}`:      3,
		`{"model":"m","max_tokens":1,"tools":[{"type":"web_search_20260209","max_uses":2},{"type":"web_search_x"}]}`: 2 + webSearchHold,
		`{"model":"m","max_tokens":1,"tools":[{"name":"weather","input_schema":{}}]}`:                                0,
	} {
		r, err := anthropic{}.parse(epMessages, nil, []byte(body))
		if err != nil || r.WebSearchCalls != calls {
			t.Fatalf("%s: %+v %v, want %d calls held", body, r, err, calls)
		}
		// The hold adds the calls at their price to the tokens': 0 tokens, the fee (100) and calls × 0.01.
		with, _ := holdCost(claudePrice, r, 0, 0)
		if with != 100+money.Amount(calls)*claudePrice.WebSearchCall {
			t.Fatalf("%s: hold %s", body, with)
		}
	}
	eachStore(t, func(t *testing.T, db *store.DB, clk *clock) {
		plain := `{"model":"` + claudeModel + `","max_tokens":100,"messages":[{"role":"user","content":"hi"}]}`
		p := claudePrice
		// The prompt at the highest input price (the 1-hour write), 100 output tokens, the fee.
		hold, err := estimateCost(p, estimatePrompt([]byte(plain)), 100)
		must(t, err)
		if want := money.Amount((estimatePrompt([]byte(plain))*6_000_000+100*15_000_000+500_000)/1_000_000) + 100; hold != want {
			t.Fatalf("hold %s, want %s", hold, want)
		}
		a := newAnthEnv(t, db, clk, hold, fakeanthropic.Options{})
		key := map[string]string{"X-Api-Key": a.secret}
		thinking := `{"model":"` + claudeModel + `","max_tokens":100,"thinking":{"type":"enabled","budget_tokens":5000},"messages":[{"role":"user","content":"hi"}]}`
		search := `{"model":"` + claudeModel + `","max_tokens":100,"tools":[{"type":"web_search_20250305","name":"web_search"}],"messages":[{"role":"user","content":"hi"}]}`
		for _, body := range []string{thinking, search} {
			resp, b := a.raw(a.srv.URL, "/v1/messages", body, key)
			wantAnthError(t, resp, b, 402, "billing_error", "insufficient_balance")
		}
		if n := a.anth.Requests(); n != 0 {
			t.Fatalf("upstream called %d times", n)
		}
		resp, b := a.raw(a.srv.URL, "/v1/messages", plain, key)
		if resp.StatusCode != 200 {
			t.Fatalf("the covered request: %d %s", resp.StatusCode, b)
		}
		a.verify()
	})
}
