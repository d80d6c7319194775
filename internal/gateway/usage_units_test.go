package gateway

// Issue 15's gateway: modalities, service tiers and per-unit tool calls filled from what
// the provider reports, checked against costs computed by hand in the comments.

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"
	"google.golang.org/genai"

	"spectra/internal/gateway/upstream"
	"spectra/internal/metering"
	"spectra/internal/money"
	"spectra/internal/pricing"
	"spectra/internal/store"
)

// sameUsage reports whether a and b are the same usage (an empty Units is none).
func sameUsage(a, b pricing.Usage) bool {
	if len(a.Units) == 0 {
		a.Units = nil
	}
	if len(b.Units) == 0 {
		b.Units = nil
	}
	return reflect.DeepEqual(a, b)
}

// richPrice is testModel's price with every issue-15 shape, per 1M tokens: $2.50 input,
// $1.25 cached, $10 output, $40 audio input, $80 audio output, $0.000100 a request,
// $0.01 a web search call and $0.167 an image_1024x1024_high; flex at half ($1.25,
// $0.625, $5, $20, $40), priority at double ($5, $2.50, $20, $80, $160), both with the
// $0.000100 fee and the base units.
var richPrice = pricing.Price{Model: testModel, Input: 2_500_000, CachedInput: 1_250_000, Output: 10_000_000, Request: 100,
	AudioInput: 40_000_000, AudioOutput: 80_000_000,
	Units: map[string]money.Amount{"web_search_call": 10_000, "image_1024x1024_high": 167_000},
	ServiceTiers: map[string]pricing.ServiceTier{
		"flex":     {Rates: pricing.Rates{Input: 1_250_000, CachedInput: 625_000, Output: 5_000_000, AudioInput: 20_000_000, AudioOutput: 40_000_000, Request: 100}},
		"priority": {Rates: pricing.Rates{Input: 5_000_000, CachedInput: 2_500_000, Output: 20_000_000, AudioInput: 80_000_000, AudioOutput: 160_000_000, Request: 100}},
	}}

// standIn is an upstream whose answers the test writes: answer(path, body) returns the
// Content-Type and the body of the answer to a request.
type standIn struct {
	mu       sync.Mutex
	answer   func(path string, body []byte) (string, string)
	requests int
	last     []byte
}

func (s *standIn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.requests++
	s.last = b
	answer := s.answer
	s.mu.Unlock()
	ct, body := answer(r.URL.Path, b)
	w.Header().Set("Content-Type", ct)
	w.WriteHeader(http.StatusOK)
	io.WriteString(w, body)
}

func (s *standIn) set(fn func(path string, body []byte) (string, string)) {
	s.mu.Lock()
	s.answer = fn
	s.mu.Unlock()
}

func (s *standIn) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

func (s *standIn) lastBody() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

// newStandInEnv is env with the stand-in upstream s in place of the fake one, and (when
// p is not nil) p as testModel's price from half an hour ago.
func newStandInEnv(t *testing.T, db *store.DB, clk *clock, s *standIn, p *pricing.Price) *env {
	t.Helper()
	e := newEnv(t, db, clk, envOpts{grant: 10 * money.Scale, wrap: func(http.Handler) http.Handler { return s }})
	if p != nil {
		v := *p
		v.EffectiveFrom = clk.Now().Add(-30 * time.Minute)
		must(t, db.AddPrice(context.Background(), v))
		e.metering.Invalidate()
	}
	return e
}

func sse(events ...string) string {
	var b strings.Builder
	for _, e := range events {
		b.WriteString(e)
		b.WriteString("\n\n")
	}
	return b.String()
}

// chatUsage is a chat answer's usage: 1,000 prompt tokens of which 200 cache reads and
// 300 audio, 500 completion tokens of which 400 audio.
const chatUsage = `{"prompt_tokens":1000,"completion_tokens":500,"total_tokens":1500,
	"prompt_tokens_details":{"cached_tokens":200,"audio_tokens":300},
	"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":400}}`

// chatAnswer is a chat completion (tier: its service_tier, "" for none), whole or as a stream.
func chatAnswer(tier string, stream bool) (string, string) {
	st := ""
	if tier != "" {
		st = `"service_tier":"` + tier + `",`
	}
	head := `"id":"chatcmpl-1","created":1,"model":"gpt-4o",` + st
	if !stream {
		return "application/json", `{` + head + `"object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"hello","audio":{"id":"a1","data":"aGk=","transcript":"hello","expires_at":1}},"finish_reason":"stop"}],"usage":` + chatUsage + `}`
	}
	return "text/event-stream", sse(
		`data: {`+head+`"object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":"hello"},"finish_reason":null}]}`,
		`data: {`+head+`"object":"chat.completion.chunk","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`,
		`data: {`+head+`"object":"chat.completion.chunk","choices":[],"usage":`+strings.ReplaceAll(chatUsage, "\n\t", "")+`}`,
		`data: [DONE]`)
}

// The usage of a chat answer with audio tokens and a service tier is recorded apart
// (audio input, audio output) and priced at the tier the answer states, else the
// default, whatever the request asked for (a client asking for flex from an upstream
// that does not say which tier served it must not pay flex); a tier without its own prices is billed at the default
// prices and recorded as reported. Whole answers and streams alike, through the
// official client.
func TestChatAudioAndServiceTier(t *testing.T) {
	// The usage in Spectra's meaning: input 1,000 (cached 200, audio 300 → text 500),
	// output 500 (audio 400 → text 100).
	want := pricing.Usage{Input: 1000, CachedInput: 200, AudioInput: 300, Output: 500, AudioOutput: 400}
	// default: 500×2.50 + 200×1.25 + 300×40 + 100×10 + 400×80 = 1,250 + 250 + 12,000 + 1,000 + 32,000 = 46,500 µ, + 100 fee = 46,600 µ.
	// flex:    500×1.25 + 200×0.625 + 300×20 + 100×5 + 400×40 = 625 + 125 + 6,000 + 500 + 16,000 = 23,250 µ, + 100 = 23,350 µ.
	// priority: 500×5 + 200×2.50 + 300×80 + 100×20 + 400×160 = 2,500 + 500 + 24,000 + 2,000 + 64,000 = 93,000 µ, + 100 = 93,100 µ.
	cases := []struct {
		name, asked, answered string
		tier, billed          string
		cost                  money.Amount
	}{
		{"default", "", "default", "", "default", 46_600},
		{"flex asked and served", "flex", "flex", "flex", "flex", 23_350},
		{"an unpriced tier", "", "scale", "scale", "default", 46_600},
		{"priority asked, not stated", "priority", "", "", "default", 46_600},
		{"flex asked, not stated", "flex", "", "", "default", 46_600},
		{"asked flex, served default", "flex", "default", "", "default", 46_600},
	}
	eachStore(t, func(t *testing.T, db *store.DB, clk *clock) {
		s := &standIn{}
		e := newStandInEnv(t, db, clk, s, &richPrice)
		c := e.client()
		total := money.Amount(0)
		for _, stream := range []bool{false, true} {
			for _, tc := range cases {
				s.set(func(string, []byte) (string, string) { return chatAnswer(tc.answered, stream) })
				p := chatParams("say hello")
				if tc.asked != "" {
					p.ServiceTier = openai.ChatCompletionNewParamsServiceTier(tc.asked)
				}
				var id string
				if stream {
					var resp *http.Response
					st := c.Chat.Completions.NewStreaming(context.Background(), p, option.WithResponseInto(&resp))
					for st.Next() {
					}
					must(t, st.Err())
					id = resp.Header.Get("X-Request-Id")
				} else {
					var resp *http.Response
					_, err := c.Chat.Completions.New(context.Background(), p, option.WithResponseInto(&resp))
					must(t, err)
					id = resp.Header.Get("X-Request-Id")
					if got := resp.Header.Get("X-Spectra-Cost"); got != tc.cost.String() {
						t.Fatalf("%s: X-Spectra-Cost %s, want %s", tc.name, got, tc.cost)
					}
				}
				var sent struct {
					ServiceTier *string `json:"service_tier"`
				}
				must(t, json.Unmarshal(s.lastBody(), &sent))
				if tc.asked != "" && (sent.ServiceTier == nil || *sent.ServiceTier != tc.asked) {
					t.Fatalf("%s: service_tier not forwarded as sent: %s", tc.name, s.lastBody())
				}
				e.flush()
				ev := e.event(id)
				u := want
				u.ServiceTier = tc.tier
				if !sameUsage(ev.Usage, u) || ev.ServiceTier != tc.tier || ev.BilledTier != tc.billed || ev.Cost != tc.cost ||
					ev.CostExact != pricing.ExactOf(tc.cost) || ev.Estimated || ev.Stream != stream {
					t.Fatalf("%s (stream %v): event %+v, want usage %+v billed %s cost %s", tc.name, stream, ev, u, tc.billed, tc.cost)
				}
				total += tc.cost
			}
		}
		if b := e.balance(); b.Balance != 10*money.Scale-total {
			t.Fatalf("balance %s, want %s", b.Balance, 10*money.Scale-total)
		}
		e.verify()
	})
}

// responsesAnswer is a Responses answer: two web searches, an image of 1024x1024 at high
// quality and a message; 2,000 input tokens (1,000 cache reads), 300 output (100
// reasoning); served at flex.
var responsesItems = []string{
	`{"type":"web_search_call","id":"ws_1","status":"completed","action":{"type":"search","query":"a"}}`,
	`{"type":"web_search_call","id":"ws_2","status":"completed","action":{"type":"search","query":"b"}}`,
	`{"type":"image_generation_call","id":"ig_1","status":"completed","result":"aGk=","size":"1024x1024","quality":"high"}`,
	`{"type":"message","id":"msg_1","status":"completed","role":"assistant","content":[{"type":"output_text","text":"hello","annotations":[]}]}`,
}

const responsesUsage = `{"input_tokens":2000,"input_tokens_details":{"cached_tokens":1000},"output_tokens":300,"output_tokens_details":{"reasoning_tokens":100},"total_tokens":2300}`

func responsesAnswer(stream bool) (string, string) {
	out := "[" + strings.Join(responsesItems, ",") + "]"
	resp := func(status, output, usage string) string {
		return `{"id":"resp_1","object":"response","created_at":1,"status":"` + status + `","model":"gpt-4o","service_tier":"flex","output":` + output + `,"usage":` + usage + `}`
	}
	if !stream {
		return "application/json", resp("completed", out, responsesUsage)
	}
	items := responsesItems
	return "text/event-stream", sse(
		`event: response.created`+"\n"+`data: {"type":"response.created","sequence_number":0,"response":`+resp("in_progress", "[]", "null")+`}`,
		`event: response.output_item.done`+"\n"+`data: {"type":"response.output_item.done","sequence_number":1,"output_index":0,"item":`+(items[0])+`}`,
		`event: response.output_item.done`+"\n"+`data: {"type":"response.output_item.done","sequence_number":2,"output_index":1,"item":`+(items[1])+`}`,
		`event: response.output_item.done`+"\n"+`data: {"type":"response.output_item.done","sequence_number":3,"output_index":2,"item":`+(items[2])+`}`,
		`event: response.output_text.delta`+"\n"+`data: {"type":"response.output_text.delta","sequence_number":4,"item_id":"msg_1","output_index":3,"content_index":0,"delta":"hello"}`,
		`event: response.output_item.done`+"\n"+`data: {"type":"response.output_item.done","sequence_number":5,"output_index":3,"item":`+(items[3])+`}`,
		`event: response.completed`+"\n"+`data: {"type":"response.completed","sequence_number":6,"response":`+resp("completed", out, responsesUsage)+`}`)
}

// A Responses answer's web_search_call items are web search calls, its
// image_generation_call items images in the unit of their size and quality, each priced
// per unit on top of the tokens, at the service tier the answer states.
func TestResponsesWebSearchImagesAndTier(t *testing.T) {
	// flex: 1,000 uncached × 1.25 + 1,000 cached × 0.625 + 300 out × 5 = 1,250 + 625 + 1,500 = 3,375 µ, + 100 fee;
	// flex has no units of its own, so the base's: 2 searches × 10,000 + 1 image × 167,000 = 187,000 µ.
	// 3,475 + 187,000 = 190,475 µ.
	const cost = money.Amount(190_475)
	want := pricing.Usage{Input: 2000, CachedInput: 1000, Output: 300, Reasoning: 100, WebSearchCalls: 2,
		Units: map[string]int64{"image_1024x1024_high": 1}, ServiceTier: "flex"}
	eachStore(t, func(t *testing.T, db *store.DB, clk *clock) {
		s := &standIn{}
		e := newStandInEnv(t, db, clk, s, &richPrice)
		c := e.client()
		params := responses.ResponseNewParams{Model: testModel, Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("find and draw")},
			ServiceTier: responses.ResponseNewParamsServiceTierFlex,
			Tools: []responses.ToolUnionParam{{OfWebSearch: &responses.WebSearchToolParam{Type: "web_search"}},
				{OfImageGeneration: &responses.ToolImageGenerationParam{Size: "1024x1024", Quality: "high"}}}}
		for _, stream := range []bool{false, true} {
			s.set(func(string, []byte) (string, string) { return responsesAnswer(stream) })
			var resp *http.Response
			if stream {
				st := c.Responses.NewStreaming(context.Background(), params, option.WithResponseInto(&resp))
				n := 0
				for st.Next() {
					n++
				}
				must(t, st.Err())
				if n != 7 {
					t.Fatalf("stream: %d events relayed, want 7", n)
				}
			} else {
				r, err := c.Responses.New(context.Background(), params, option.WithResponseInto(&resp))
				must(t, err)
				if len(r.Output) != 4 || r.ServiceTier != "flex" {
					t.Fatalf("answer not relayed as it is: %+v", r)
				}
				if got := resp.Header.Get("X-Spectra-Cost"); got != cost.String() {
					t.Fatalf("X-Spectra-Cost %s, want %s", got, cost)
				}
			}
			e.flush()
			ev := e.eventByID(resp.Header.Get("X-Request-Id"))
			if listed := e.event(ev.ID); !reflect.DeepEqual(listed, ev) { // the request log's page reads the units too
				t.Fatalf("listed %+v, by id %+v", listed, ev)
			}
			if !sameUsage(ev.Usage, want) || ev.BilledTier != "flex" || ev.Cost != cost || ev.Estimated {
				t.Fatalf("stream %v: event %+v, want usage %+v cost %s", stream, ev, want, cost)
			}
		}
		if b := e.balance(); b.Balance != 10*money.Scale-2*cost {
			t.Fatalf("balance %s", b.Balance)
		}
		e.verify()
	})
}

// A request that enables a tool billed in a unit the model's price lacks is refused
// before it is forwarded (400 unknown_unit, nothing held or charged, the refusal in the
// request log); an answer that reports such a unit anyway is recorded and charged for its
// tokens, the unit kept in the event's metadata (unpriced_units), never priced 0.
func TestUnknownUnits(t *testing.T) {
	eachStore(t, func(t *testing.T, db *store.DB, clk *clock) {
		s := &standIn{}
		e := newStandInEnv(t, db, clk, s, nil) // testPrice: no web_search_call, no image unit
		s.set(func(string, []byte) (string, string) { return responsesAnswer(false) })
		for _, tool := range []string{`{"type":"web_search"}`, `{"type":"web_search_preview"}`, `{"type":"image_generation","size":"1024x1024","quality":"high"}`,
			`{"type":"image_generation"}`} {
			resp, b := e.post("/v1/responses", `{"model":"gpt-4o","input":"hi","tools":[{"type":"function","name":"f"},`+tool+`]}`)
			wantError(t, resp, b, http.StatusBadRequest, "unknown_unit")
			if msg := apiErr(t, b).Message; !strings.Contains(msg, "has no price for the unit") {
				t.Fatalf("message %q", msg)
			}
		}
		if s.count() != 0 {
			t.Fatalf("upstream called %d times", s.count())
		}
		e.flush()
		if b := e.balance(); b.Balance != 10*money.Scale || b.Held != 0 || len(e.events()) != 0 {
			t.Fatalf("balance %+v, %d events", b, len(e.events()))
		}

		// No tool asked for, yet the answer lists two web searches and an image: the tokens
		// at testPrice: 1,000 uncached × 2.50 + 1,000 cached × 1.25 + 300 × 10 = 2,500 +
		// 1,250 + 3,000 = 6,750 µ, + 100 fee = 6,850 µ; flex has no prices of its own here:
		// billed at the default. The units are in the metadata, not charged.
		resp, b := e.post("/v1/responses", `{"model":"gpt-4o","input":"hi"}`)
		if resp.StatusCode != 200 {
			t.Fatalf("%d %s", resp.StatusCode, b)
		}
		e.flush()
		ev := e.event(resp.Header.Get("X-Request-Id"))
		var meta struct {
			Upstream string           `json:"upstream"`
			Unpriced map[string]int64 `json:"unpriced_units"`
		}
		must(t, json.Unmarshal(ev.Metadata, &meta))
		wantU := pricing.Usage{Input: 2000, CachedInput: 1000, Output: 300, Reasoning: 100, ServiceTier: "flex"}
		if !sameUsage(ev.Usage, wantU) || ev.Cost != 6_850 || ev.BilledTier != "default" || meta.Upstream != "fake" ||
			!reflect.DeepEqual(meta.Unpriced, map[string]int64{"web_search_call": 2, "image_1024x1024_high": 1}) {
			t.Fatalf("event %+v, metadata %s", ev, ev.Metadata)
		}
		if got := resp.Header.Get("X-Spectra-Cost"); got != "0.006850" {
			t.Fatalf("X-Spectra-Cost %s", got)
		}
		e.verify()
	})
}

// The hold covers the dearest price the answer may be billed at: every prompt token at
// the highest input rate and every output token at the highest output rate, at every
// context tier, at the service tiers the request may be served at, plus its tool calls.
func TestHoldServiceTiersAndUnits(t *testing.T) {
	p := richPrice
	p.Tiers = []pricing.Tier{{AboveInputTokens: 200_000, Rates: pricing.Rates{AudioInput: 60_000_000}}}
	hold := func(body string) money.Amount {
		t.Helper()
		r, err := parseRequest(epResponses, []byte(body))
		must(t, err)
		r.Units = heldUnits(p, r.Units)
		must(t, checkUnits(p, r))
		h, err := holdCost(p, r, 1000, 100)
		must(t, err)
		return h
	}
	// No tier asked (or auto): any tier may apply; priority's audio rates are the highest:
	// 1,000 × 80 + 100 × 160 = 80,000 + 16,000 µ, + 100 = 96,100 µ.
	for _, body := range []string{`{"model":"m"}`, `{"model":"m","service_tier":"auto"}`} {
		if h := hold(body); h != 96_100 {
			t.Fatalf("%s: hold %s", body, h)
		}
	}
	// flex asked: flex or default; the default's context tier above 200k has audio input at
	// 60: 1,000 × 60 + 100 × 80 = 60,000 + 8,000 µ, + 100 = 68,100 µ (the prompt is far
	// below the threshold, but the estimate is no sure guide to the tier).
	for _, body := range []string{`{"model":"m","service_tier":"flex"}`, `{"model":"m","service_tier":"default"}`, `{"model":"m","service_tier":"unpriced"}`} {
		if h := hold(body); h != 68_100 {
			t.Fatalf("%s: hold %s", body, h)
		}
	}
	// + a web search tool (5 calls held × 10,000) and an image of unstated size (the
	// dearest image unit: 167,000): 68,100 + 50,000 + 167,000 = 285,100 µ.
	if h := hold(`{"model":"m","service_tier":"flex","tools":[{"type":"web_search"},{"type":"image_generation","size":"auto"}]}`); h != 285_100 {
		t.Fatalf("tools: hold %s", h)
	}
	// A service tier with units of its own that lack one the request needs is refused.
	q := richPrice
	q.ServiceTiers = map[string]pricing.ServiceTier{"priority": {Rates: pricing.Rates{Input: 1}, Units: map[string]money.Amount{"other": 1}}}
	r, _ := parseRequest(epResponses, []byte(`{"model":"m","tools":[{"type":"web_search"}]}`))
	if err := checkUnits(q, r); err == nil || err.(*apiError).Code != "unknown_unit" {
		t.Fatalf("auto with a priority tier that lacks web_search_call: %v", err)
	}
	r, _ = parseRequest(epResponses, []byte(`{"model":"m","service_tier":"flex","tools":[{"type":"web_search"}]}`))
	if err := checkUnits(q, r); err != nil {
		t.Fatalf("flex never served at priority: %v", err)
	}
	// service_tier must be a string; a case variant of it is refused like the other fields.
	if _, err := parseRequest(epChat, []byte(`{"model":"m","service_tier":1}`)); err == nil || err.(*apiError).Code != "invalid_type" {
		t.Fatalf("service_tier 1: %v", err)
	}
	if _, err := parseRequest(epChat, []byte(`{"model":"m","Service_Tier":"flex"}`)); err == nil || err.(*apiError).Code != "invalid_field_name" {
		t.Fatalf("Service_Tier: %v", err)
	}
}

// OpenAI's usage details in Spectra's meaning: audio and image tokens are parts of the
// totals, cache reads among them taken off (Spectra's modality input is uncached), each
// clamped to what is left.
func TestWireUsageModalities(t *testing.T) {
	for _, c := range []struct {
		body string
		want pricing.Usage
	}{
		{`{"prompt_tokens":100,"prompt_tokens_details":{"cached_tokens":10,"audio_tokens":30,"image_tokens":20},"completion_tokens":50,"completion_tokens_details":{"audio_tokens":40,"reasoning_tokens":5}}`,
			pricing.Usage{Input: 100, CachedInput: 10, AudioInput: 30, ImageInput: 20, Output: 50, AudioOutput: 40, Reasoning: 5}},
		// Realtime's shape: 40 cached of which 25 audio; audio 60 in all → 35 uncached audio.
		{`{"input_tokens":100,"input_tokens_details":{"cached_tokens":40,"audio_tokens":60,"cached_tokens_details":{"audio_tokens":25}},"output_tokens":10,"output_tokens_details":{"audio_tokens":8}}`,
			pricing.Usage{Input: 100, CachedInput: 40, AudioInput: 35, Output: 10, AudioOutput: 8}},
		// Odd reports are clamped: audio above the uncached input, image above what is left.
		{`{"prompt_tokens":10,"prompt_tokens_details":{"cached_tokens":4,"audio_tokens":9,"image_tokens":3},"completion_tokens":5,"completion_tokens_details":{"audio_tokens":4,"image_tokens":4}}`,
			pricing.Usage{Input: 10, CachedInput: 4, AudioInput: 6, Output: 5, AudioOutput: 4, ImageOutput: 1}},
	} {
		var w wireUsage
		must(t, json.Unmarshal([]byte(c.body), &w))
		u, ok := w.usage()
		if !ok || !sameUsage(u, c.want) {
			t.Fatalf("%s: %+v", c.body, u)
		}
		if err := u.Validate(); err != nil {
			t.Fatalf("%s: %v", c.body, err)
		}
	}
	// A service_tier or output of an odd type costs nothing else of the answer.
	u, est, err := meterBody([]byte(`{"service_tier":7,"output":{"x":1},"usage":{"prompt_tokens":3,"completion_tokens":2}}`), 9)
	if err != nil || est || !sameUsage(u, pricing.Usage{Input: 3, Output: 2}) {
		t.Fatalf("odd fields: %+v %v %v", u, est, err)
	}
	// Without a usage the tool calls the answer lists are still billed, with the tier.
	u, est, err = meterBody([]byte(`{"service_tier":"Priority","output":[{"type":"web_search_call"},"x",{"type":"image_generation_call","size":"auto"}]}`), 9)
	if err != nil || !est || !sameUsage(u, pricing.Usage{Input: 9, WebSearchCalls: 1, Units: map[string]int64{"image_generation_call": 1}, ServiceTier: "priority"}) {
		t.Fatalf("no usage: %+v %v %v", u, est, err)
	}
	for in, want := range map[string]string{"": "", "default": "default", "auto": "", "standard": "default", "FLEX": "flex", "no such tier!": "default"} {
		if got := serviceTier(in); got != want {
			t.Fatalf("serviceTier(%q) = %q, want %q", in, got, want)
		}
	}
}

// Gemini's modality breakdowns: AUDIO and IMAGE of the prompt (and of the tools' prompt)
// less those of the cache are the modality input, those of the candidates the modality
// output; TEXT, VIDEO and DOCUMENT are text.
func TestGeminiModalities(t *testing.T) {
	var r struct {
		UsageMetadata geminiUsage `json:"usageMetadata"`
	}
	must(t, json.Unmarshal([]byte(`{"usageMetadata":{"promptTokenCount":1000,"cachedContentTokenCount":300,"candidatesTokenCount":200,
		"thoughtsTokenCount":50,"toolUsePromptTokenCount":100,
		"promptTokensDetails":[{"modality":"TEXT","tokenCount":400},{"modality":"AUDIO","tokenCount":500},{"modality":"IMAGE","tokenCount":100}],
		"cacheTokensDetails":[{"modality":"AUDIO","tokenCount":200},{"modality":"TEXT","tokenCount":100}],
		"toolUsePromptTokensDetails":[{"modality":"AUDIO","tokenCount":10},{"modality":"VIDEO","tokenCount":90}],
		"candidatesTokensDetails":[{"modality":"TEXT","tokenCount":60},{"modality":"IMAGE","tokenCount":130},{"modality":"AUDIO","tokenCount":10}]}}`), &r))
	// Input 1,000 + 100 = 1,100, cached 300; audio in 500 + 10 − 200 = 310; image in 100;
	// output 200 + 50 = 250; audio out 10, image out 130.
	want := pricing.Usage{Input: 1100, CachedInput: 300, AudioInput: 310, ImageInput: 100, Output: 250, Reasoning: 50, AudioOutput: 10, ImageOutput: 130}
	if got := r.UsageMetadata.usage(); !sameUsage(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	// Priced with Gemini-like audio input at $1 and image output at $30 per million over
	// $0.30 / $2.50 text: text in 1,100 − 300 − 310 − 100 = 390 × 0.30 + 300 cached × 0 +
	// 310 audio × 1 + 100 image at input 0.30 + text out 250 − 10 − 130 = 110 × 2.50 + 10
	// audio out at output 2.50 + 130 image out × 30 = 117 + 310 + 30 + 275 + 25 + 3,900 = 4,657 µ.
	p := pricing.Price{Input: 300_000, Output: 2_500_000, AudioInput: 1_000_000, ImageOutput: 30_000_000}
	if c, err := pricing.Cost(p, want); err != nil || c != 4_657 {
		t.Fatalf("cost %s %v", c, err)
	}
	// A breakdown of another shape is none.
	r.UsageMetadata = geminiUsage{}
	must(t, json.Unmarshal([]byte(`{"usageMetadata":{"promptTokenCount":5,"promptTokensDetails":{"modality":"AUDIO"}}}`), &r))
	if got := r.UsageMetadata.usage(); !sameUsage(got, pricing.Usage{Input: 5}) {
		t.Fatalf("odd details: %+v", got)
	}
}

// Anthropic's usage.service_tier is the tier ("standard" the default) and a web search
// tool needs a web_search_call price: without one the request is refused before it is
// forwarded.
func TestAnthropicServiceTierAndUnknownUnit(t *testing.T) {
	eachStore(t, func(t *testing.T, db *store.DB, clk *clock) {
		s := &standIn{}
		e := newStandInEnv(t, db, clk, s, nil)
		ts := newHTTPServer(t, s)
		p := claudePrice
		p.EffectiveFrom = clk.Now().Add(-time.Hour)
		p.ServiceTiers = map[string]pricing.ServiceTier{"priority": {Rates: pricing.Rates{Input: 6_000_000, Output: 30_000_000, Request: 100}}}
		must(t, db.AddPrice(context.Background(), p))
		bare := pricing.Price{Model: "claude-bare", Input: 3_000_000, Output: 15_000_000, EffectiveFrom: p.EffectiveFrom}
		must(t, db.AddPrice(context.Background(), bare))
		e.metering.Invalidate()
		_, _, err := e.gw.PutUpstream(context.Background(), Upstream{Name: "anthropic", API: upstream.Anthropic, BaseURL: ts,
			APIKey: anthUpstreamKey, Models: []string{claudeModel, "claude-bare"}})
		must(t, err)
		post := func(body string) (*http.Response, []byte) {
			req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/v1/messages", strings.NewReader(body))
			req.Header.Set("X-Api-Key", e.secret)
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			must(t, err)
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp, b
		}
		for _, c := range []struct {
			tier, wantTier, billed string
			cost                   money.Amount
		}{
			// priority: 100 × 6 + 50 × 30 = 600 + 1,500 µ, + 100 fee + 1 search × 10,000 (the base units) = 12,200 µ.
			{"priority", "priority", "priority", 12_200},
			// standard is the default: 100 × 3 + 50 × 15 = 300 + 750, + 100 + 10,000 = 11,150 µ.
			{"standard", "", "default", 11_150},
		} {
			s.set(func(string, []byte) (string, string) {
				return "application/json", `{"id":"msg_1","type":"message","role":"assistant","model":"claude-test","content":[{"type":"text","text":"hi"}],
					"stop_reason":"end_turn","usage":{"input_tokens":100,"output_tokens":50,"service_tier":"` + c.tier + `","server_tool_use":{"web_search_requests":1}}}`
			})
			resp, b := post(`{"model":"claude-test","max_tokens":100,"service_tier":"auto","tools":[{"type":"web_search_20250305","name":"web_search","max_uses":2}],"messages":[{"role":"user","content":"hi"}]}`)
			if resp.StatusCode != 200 {
				t.Fatalf("%d %s", resp.StatusCode, b)
			}
			e.flush()
			ev := e.event(resp.Header.Get("X-Request-Id"))
			if ev.ServiceTier != c.wantTier || ev.BilledTier != c.billed || ev.Cost != c.cost || ev.Usage.WebSearchCalls != 1 {
				t.Fatalf("%s: event %+v", c.tier, ev)
			}
		}
		before := s.count()
		resp, b := post(`{"model":"claude-bare","max_tokens":100,"tools":[{"type":"web_search_20250305","name":"web_search"}],"messages":[{"role":"user","content":"hi"}]}`)
		wantAnthError(t, resp, b, http.StatusBadRequest, "invalid_request_error", "unknown_unit")
		if s.count() != before {
			t.Fatal("the refused request was forwarded")
		}
		e.verify()
	})
}

// eventByID reads one event of e's workspace by its id.
func (e *env) eventByID(id string) metering.Event {
	e.t.Helper()
	evs, err := e.metering.Events(context.Background(), metering.EventFilter{WorkspaceID: e.ws.ID, ID: id, Limit: 1})
	must(e.t, err)
	if len(evs) != 1 {
		e.t.Fatalf("no event %q", id)
	}
	return evs[0]
}

// newHTTPServer serves h for the test and returns its URL.
func newHTTPServer(t *testing.T, h http.Handler) string {
	t.Helper()
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return ts.URL
}

// An event metering rejects for a unit its price does not know (the price or the
// workspace's list changed between the request and its settlement, or a journal replays
// it later) is not lost: the settler and the journal's replay ingest it again with its
// units in its metadata, charged for its tokens.
func TestSettleKeepsEventWithUnknownUnit(t *testing.T) {
	eachStore(t, func(t *testing.T, db *store.DB, clk *clock) {
		e := newEnv(t, db, clk, envOpts{grant: money.Scale})
		ev := func(id string, meta string) metering.Event {
			return metering.Event{ID: id, WorkspaceID: e.ws.ID, KeyID: e.key.ID, Model: testModel, Timestamp: clk.Now(), Source: "gateway",
				Endpoint: "/v1/responses", Status: 200, Metadata: json.RawMessage(meta),
				Usage: pricing.Usage{Input: 10, Output: 5, WebSearchCalls: 2, Units: map[string]int64{"image_1024x1024_high": 1}}}
		}
		bad := metering.Event{ID: "req_bad", WorkspaceID: e.ws.ID, Model: testModel, Timestamp: clk.Now(), Usage: pricing.Usage{Input: -1}}
		res, err := e.gw.ingest(context.Background(), []metering.Event{bad, ev("req_a", `{"upstream":"fake"}`),
			ev("req_b", `{"upstream":"fake","unpriced_units":{"web_search_call":1}}`)})
		must(t, err)
		if res.Accepted != 2 || len(res.Rejected) != 1 || res.Rejected[0].Index != 0 || res.Outcomes[1] != metering.Accepted || res.Outcomes[2] != metering.Accepted {
			t.Fatalf("result %+v", res)
		}
		// testPrice: 10 × 2.50 + 5 × 10 = 25 + 50 µ, + 100 fee = 175 µ each; no unit charged.
		for id, want := range map[string]map[string]int64{"req_a": {"web_search_call": 2, "image_1024x1024_high": 1}, "req_b": {"web_search_call": 3, "image_1024x1024_high": 1}} {
			got := e.eventByID(id)
			var meta struct {
				Unpriced map[string]int64 `json:"unpriced_units"`
			}
			must(t, json.Unmarshal(got.Metadata, &meta))
			if got.Cost != 175 || got.Usage.WebSearchCalls != 0 || len(got.Usage.Units) != 0 || !reflect.DeepEqual(meta.Unpriced, want) {
				t.Fatalf("%s: %+v, metadata %s", id, got, got.Metadata)
			}
		}
		if b := e.balance(); b.Balance != money.Scale-350 {
			t.Fatalf("balance %s", b.Balance)
		}
		e.verify()
	})
}

// Streams: Anthropic's service tier comes in message_start's usage (message_delta's
// leaves it), and a Responses stream that ends without response.completed still counts
// the web searches of its output_item.done events; with response.completed, its output
// is the count (never both).
func TestStreamMetersTierAndItems(t *testing.T) {
	a := &anthropicMeter{}
	a.feed([]byte(`{"type":"message_start","message":{"id":"m","model":"c","usage":{"input_tokens":10,"output_tokens":1,"service_tier":"priority"}}}`))
	a.feed([]byte(`{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":7,"server_tool_use":{"web_search_requests":2}}}`))
	if u, est := a.result(99); est || !sameUsage(u, pricing.Usage{Input: 10, Output: 7, WebSearchCalls: 2, ServiceTier: "priority"}) {
		t.Fatalf("anthropic stream: %+v %v", u, est)
	}
	item := func(seq int, typ string) []byte {
		return []byte(`{"type":"response.output_item.done","sequence_number":` + string(rune('0'+seq)) + `,"item":{"type":"` + typ + `","id":"x"}}`)
	}
	m := &streamMeter{}
	m.event([]byte(`{"type":"response.created","sequence_number":0,"response":{"id":"r","model":"gpt-4o","service_tier":"auto"}}`))
	m.event(item(1, "web_search_call"))
	m.event(item(2, "web_search_call"))
	m.event(item(3, "message"))
	if u, est := m.result(40); !est || !sameUsage(u, pricing.Usage{Input: 40, WebSearchCalls: 2}) { // "auto" states no tier
		t.Fatalf("cut responses stream: %+v %v", u, est)
	}
	m.event([]byte(`{"type":"response.completed","sequence_number":4,"response":{"id":"r","service_tier":"flex","output":[{"type":"web_search_call"},{"type":"web_search_call"},{"type":"message"}],
		"usage":{"input_tokens":20,"output_tokens":3}}}`))
	for range 2 { // result may be asked twice (the settle, the closing chunk): the same answer
		if u, est := m.result(40); est || !sameUsage(u, pricing.Usage{Input: 20, Output: 3, WebSearchCalls: 2, ServiceTier: "flex"}) {
			t.Fatalf("completed responses stream: %+v %v", u, est)
		}
	}
	c := &streamMeter{}
	c.chunk([]byte(`{"id":"c","object":"chat.completion.chunk","service_tier":"priority","choices":[{"index":0,"delta":{"content":"hi"}}]}`))
	c.chunk([]byte(`{"id":"c","object":"chat.completion.chunk","service_tier":"priority","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2,"completion_tokens_details":{"audio_tokens":1}}}`))
	if u, est := c.result(40); est || !sameUsage(u, pricing.Usage{Input: 5, Output: 2, AudioOutput: 1, ServiceTier: "priority"}) {
		t.Fatalf("chat stream: %+v %v", u, est)
	}
}

// Through the gateway, with Google's official client: a Gemini answer's AUDIO prompt
// tokens and IMAGE candidate tokens are recorded and priced at the modality rates, whole
// and streamed (SSE, the cumulative usageMetadata of the last chunk).
func TestGeminiModalitiesThroughGateway(t *testing.T) {
	const model = "gemini-audio-test"
	// Per 1M: $0.30 input, $1 audio input, $2.50 output, $30 image output.
	price := pricing.Price{Model: model, Input: 300_000, AudioInput: 1_000_000, Output: 2_500_000, ImageOutput: 30_000_000, MaxOutputTokens: 8192}
	usage := func(out, image int) string {
		return `"usageMetadata":{"promptTokenCount":1000,"candidatesTokenCount":` + itoa(out) + `,"totalTokenCount":` + itoa(1000+out) + `,
			"promptTokensDetails":[{"modality":"TEXT","tokenCount":400},{"modality":"AUDIO","tokenCount":600}],
			"candidatesTokensDetails":[{"modality":"TEXT","tokenCount":10},{"modality":"IMAGE","tokenCount":` + itoa(image) + `}]}`
	}
	chunk := func(finish string, out, image int) string {
		f := ""
		if finish != "" {
			f = `,"finishReason":"` + finish + `"`
		}
		c := `{"candidates":[{"content":{"role":"model","parts":[{"text":"x"}]},"index":0` + f + `}],` + usage(out, image) + `,"modelVersion":"` + model + `"}`
		return strings.NewReplacer("\n", "", "\t", "").Replace(c) // one line: an SSE data line
	}
	// Input 1,000 (audio 600 → text 400), output 1,300 (image 1,290 → text 10):
	// 400 × 0.30 + 600 × 1 + 10 × 2.50 + 1,290 × 30 = 120 + 600 + 25 + 38,700 = 39,445 µ.
	want := pricing.Usage{Input: 1000, AudioInput: 600, Output: 1300, ImageOutput: 1290}
	const cost = money.Amount(39_445)
	eachStore(t, func(t *testing.T, db *store.DB, clk *clock) {
		s := &standIn{}
		e := newStandInEnv(t, db, clk, s, nil)
		p := price
		p.EffectiveFrom = clk.Now().Add(-time.Hour)
		must(t, db.AddPrice(context.Background(), p))
		e.metering.Invalidate()
		rec := upstreamRecord(e.gw, "gemini", newHTTPServer(t, s), []string{model})
		rec.API = upstream.Gemini
		_, err := db.PutUpstream(context.Background(), rec)
		must(t, err)
		must(t, e.gw.reg.load(context.Background()))
		g := &gemEnv{env: e, seen: map[string]bool{}}
		c := g.genai(e.srv.URL)

		s.set(func(string, []byte) (string, string) { return "application/json", chunk("STOP", 1300, 1290) })
		r, err := c.Models.GenerateContent(t.Context(), model, genai.Text("draw it"), nil)
		must(t, err)
		if r.UsageMetadata.PromptTokenCount != 1000 {
			t.Fatalf("answer %+v", r.UsageMetadata)
		}
		check := func(i int, stream bool) {
			t.Helper()
			ev := g.newEvent(i)
			if !sameUsage(ev.Usage, want) || ev.Cost != cost || ev.Stream != stream || ev.Estimated {
				t.Fatalf("stream %v: event %+v, want %+v at %s", stream, ev, want, cost)
			}
		}
		check(0, false)
		s.set(func(string, []byte) (string, string) {
			return "text/event-stream", sse("data: "+chunk("", 5, 0), "data: "+chunk("STOP", 1300, 1290))
		})
		for _, err := range c.Models.GenerateContentStream(t.Context(), model, genai.Text("draw it"), nil) {
			must(t, err)
		}
		check(1, true)
		e.verify()
	})
}

func itoa(n int) string { return strconv.Itoa(n) }
