package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/genai"

	"spectra/internal/budget"
	"spectra/internal/gateway/upstream"
	"spectra/internal/metering"
	"spectra/internal/money"
	"spectra/internal/pricing"
	"spectra/internal/store"
	"spectra/internal/team"
)

// geminiModel is served by the Gemini stand-in at geminiPrice: $0.30 input, $0.075
// cached, $2.50 output per million tokens, no request fee.
const geminiModel = "gemini-test-flash"

var geminiPrice = pricing.Price{Model: geminiModel, Input: 300_000, CachedInput: 75_000, Output: 2_500_000, MaxOutputTokens: 8192}

// geminiCost prices usage at geminiPrice by hand: Σ tokens × price per million, rounded
// half-up once.
func geminiCost(input, cached, output int64) money.Amount {
	return geminiExact(input, cached, output).Round()
}

// geminiExact is geminiCost before rounding: what the wallet's charges add up to.
func geminiExact(input, cached, output int64) pricing.Exact {
	return exactOf((input-cached)*300_000 + cached*75_000 + output*2_500_000)
}

// gemEnv is a gateway whose workspace can call geminiModel on a Gemini stand-in.
type gemEnv struct {
	*env
	fake *geminiFake
	seen map[string]bool // events newEvent has returned
}

func newGeminiEnv(t *testing.T, db *store.DB, clk *clock, grant money.Amount, words int) *gemEnv {
	t.Helper()
	e := newEnv(t, db, clk, envOpts{grant: grant})
	f := newGeminiFake(upstreamKey, words)
	t.Cleanup(f.Close)
	p := geminiPrice
	p.EffectiveFrom = clk.Now().Add(-time.Hour)
	must(t, db.AddPrice(t.Context(), p))
	rec := upstreamRecord(e.gw, "gemini", f.URL(), []string{geminiModel})
	rec.API = upstream.Gemini
	_, err := db.PutUpstream(t.Context(), rec)
	must(t, err)
	must(t, e.gw.reg.load(t.Context()))
	return &gemEnv{env: e, fake: f, seen: map[string]bool{}}
}

// genai is Google's official Go client pointed at the gateway (base URL) with the
// workspace's key.
func (e *gemEnv) genai(base string) *genai.Client {
	e.t.Helper()
	c, err := genai.NewClient(e.t.Context(), &genai.ClientConfig{APIKey: e.secret, Backend: genai.BackendGeminiAPI,
		HTTPOptions: genai.HTTPOptions{BaseURL: base, APIVersion: "v1beta"}})
	must(e.t, err)
	return c
}

// newEvent returns the workspace's one event that newEvent has not returned yet, once
// every settle is committed; there must be before+1 events in all.
func (e *gemEnv) newEvent(before int) metering.Event {
	e.t.Helper()
	e.flush()
	evs := e.events()
	if len(evs) != before+1 {
		e.t.Fatalf("%d events, want %d", len(evs), before+1)
	}
	for _, ev := range evs {
		if !e.seen[ev.ID] {
			e.seen[ev.ID] = true
			return ev
		}
	}
	e.t.Fatal("no new event")
	return metering.Event{}
}

// The official client, not streamed and streamed: the answer arrives whole, the usage is
// the upstream's, the stream's repeated usageMetadata is counted once, the cost is the
// hand-computed one and the balance the ledger's.
func TestGeminiSDKGenerate(t *testing.T) {
	eachStore(t, func(t *testing.T, db *store.DB, clk *clock) {
		grant := money.Amount(10 * money.Scale)
		e := newGeminiEnv(t, db, clk, grant, 20)
		c := e.genai(e.srv.URL)
		resp, err := c.Models.GenerateContent(t.Context(), geminiModel, genai.Text("hello world"), nil)
		must(t, err)
		if !strings.HasPrefix(resp.Text(), " w1 w2") || resp.UsageMetadata.CandidatesTokenCount != 20 {
			t.Fatalf("answer %q usage %+v", resp.Text(), resp.UsageMetadata)
		}
		u, body, h := e.fake.last()
		if u.Path != "/v1beta/models/"+geminiModel+":generateContent" || u.RawQuery != "" || h.Get("X-Goog-Api-Key") != upstreamKey {
			t.Fatalf("upstream got %s with key %q", u, h.Get("X-Goog-Api-Key"))
		}
		ev := e.newEvent(0)
		prompt := int64(2 + geminiFakeOverhead)
		if !sameUsage(ev.Usage, pricing.Usage{Input: prompt, Output: 20}) || ev.Estimated || ev.Stream || ev.CostExact != geminiExact(prompt, 0, 20) || ev.Model != geminiModel {
			t.Fatalf("event %+v", ev)
		}
		// (6 × 0.30 + 20 × 2.50) per million = 51.8 micro-units exactly: the wallet is
		// charged 51 and carries 0.8 to its next event.
		if ev.Cost != 51 {
			t.Fatalf("cost %s, want 51 micro-units", ev.Cost)
		}
		var sent map[string]any
		must(t, json.Unmarshal(body, &sent))

		var text strings.Builder
		chunks := 0
		for r, err := range c.Models.GenerateContentStream(t.Context(), geminiModel, genai.Text("hello world"), nil) {
			must(t, err)
			text.WriteString(r.Text())
			chunks++
		}
		if chunks != 20 || !strings.HasSuffix(text.String(), " w20") {
			t.Fatalf("%d chunks: %q", chunks, text.String())
		}
		if u, _, _ := e.fake.last(); u.Path != "/v1beta/models/"+geminiModel+":streamGenerateContent" || u.RawQuery != "alt=sse" {
			t.Fatalf("upstream got %s", u)
		}
		ev = e.newEvent(1)
		// 20 chunks each reporting the cumulative usage: charged 20 output tokens, not 210:
		// 51.8 again, + the 0.8 carried = 52.6: charged 52, 0.6 carried.
		if !sameUsage(ev.Usage, pricing.Usage{Input: prompt, Output: 20}) || ev.Estimated || !ev.Stream || ev.Status != 200 || ev.Cost != 52 {
			t.Fatalf("streamed event %+v", ev)
		}
		if got := e.balance().Balance; got != grant-51-52 {
			t.Fatalf("balance %s, want %s", got, grant-51-52)
		}
		e.verify()
	})
}

// Tool use, a cached-content read, and thinking, each priced at its own rates.
func TestGeminiSDKToolsCacheThinking(t *testing.T) {
	eachStore(t, func(t *testing.T, db *store.DB, clk *clock) {
		grant := money.Amount(10 * money.Scale)
		e := newGeminiEnv(t, db, clk, grant, 20)
		c := e.genai(e.srv.URL)
		var spent money.Amount

		// Tool use: a function call back; the code-execution tool's prompt is input.
		tools := &genai.GenerateContentConfig{Tools: []*genai.Tool{
			{FunctionDeclarations: []*genai.FunctionDeclaration{{Name: "get_weather", Description: "Weather in a city"}}},
			{CodeExecution: &genai.ToolCodeExecution{}},
		}}
		resp, err := c.Models.GenerateContent(t.Context(), geminiModel, genai.Text("weather in Paris"), tools)
		must(t, err)
		if fc := resp.FunctionCalls(); len(fc) != 1 || fc[0].Name != "get_weather" || fc[0].Args["city"] != "Paris" {
			t.Fatalf("function calls %+v", fc)
		}
		ev := e.newEvent(0)
		in := int64(3 + geminiFakeOverhead + geminiFakeToolPrompt) // promptTokenCount + toolUsePromptTokenCount
		if !sameUsage(ev.Usage, pricing.Usage{Input: in, Output: geminiFakeCallTokens}) || ev.CostExact != geminiExact(in, 0, geminiFakeCallTokens) || ev.Cost != 27 {
			t.Fatalf("tool event %+v", ev) // (18 × 0.30 + 9 × 2.50) / 1e6 = 27.9: charged 27, 0.9 carried
		}
		spent += ev.Cost

		// A cached-content read: promptTokenCount includes the 1,000 cached tokens, which
		// are charged at the cached rate and not again at the input rate.
		resp, err = c.Models.GenerateContent(t.Context(), geminiModel, genai.Text("hello world"),
			&genai.GenerateContentConfig{CachedContent: "cachedContents/abc123"})
		must(t, err)
		if resp.UsageMetadata.CachedContentTokenCount != geminiFakeCached {
			t.Fatalf("usage %+v", resp.UsageMetadata)
		}
		ev = e.newEvent(1)
		in = 2 + geminiFakeOverhead + geminiFakeCached
		if !sameUsage(ev.Usage, pricing.Usage{Input: in, CachedInput: geminiFakeCached, Output: 20}) || ev.Cost != 127 || ev.CostExact != geminiExact(in, geminiFakeCached, 20) {
			t.Fatalf("cached event %+v", ev) // (6 × 0.30 + 1000 × 0.075 + 20 × 2.50) / 1e6 = 126.8, + 0.9 carried = 127.7: 127, 0.7 carried
		}
		spent += ev.Cost

		// Thinking, streamed: the thoughts are output (and reasoning), counted once.
		think := &genai.GenerateContentConfig{ThinkingConfig: &genai.ThinkingConfig{IncludeThoughts: true, ThinkingBudget: genai.Ptr[int32](100)}}
		thoughts := 0
		for r, err := range c.Models.GenerateContentStream(t.Context(), geminiModel, genai.Text("hello world"), think) {
			must(t, err)
			for _, p := range r.Candidates[0].Content.Parts {
				if p.Thought {
					thoughts++
				}
			}
		}
		if thoughts != 1 {
			t.Fatalf("%d thought parts", thoughts)
		}
		ev = e.newEvent(2)
		out := int64(20 + geminiFakeThoughts)
		if !sameUsage(ev.Usage, pricing.Usage{Input: 6, Output: out, Reasoning: geminiFakeThoughts}) || ev.Cost != 70 || ev.CostExact != geminiExact(6, 0, out) || ev.Estimated {
			t.Fatalf("thinking event %+v", ev) // (6 × 0.30 + 27 × 2.50) / 1e6 = 69.3, + 0.7 carried = 70.0: 70, nothing carried
		}
		spent += ev.Cost
		if got := e.balance().Balance; got != grant-spent {
			t.Fatalf("balance %s, want %s", got, grant-spent)
		}
		e.verify()
	})
}

// A client that leaves mid-stream cancels the upstream and is charged the prompt the
// upstream reported and what it streamed so far, as estimated, with status 499.
func TestGeminiSDKDisconnectMidStream(t *testing.T) {
	eachStore(t, func(t *testing.T, db *store.DB, clk *clock) {
		grant := money.Amount(10 * money.Scale)
		e := newGeminiEnv(t, db, clk, grant, 100_000)
		e.fake.delay.Store(int64(time.Millisecond))
		c := e.genai(e.srv.URL)
		ctx, cancel := context.WithCancel(t.Context())
		received := 0
		for r, err := range c.Models.GenerateContentStream(ctx, geminiModel, genai.Text("write forever"),
			&genai.GenerateContentConfig{MaxOutputTokens: 100_000}) {
			must(t, err)
			if r.Text() != "" {
				received++
			}
			if received == 5 {
				break
			}
		}
		cancel()
		e.flush()
		for deadline := time.Now().Add(10 * time.Second); e.fake.cancelled.Load() == 0; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("the upstream stream was never cancelled")
			}
		}
		ev := e.newEvent(0)
		if !ev.Estimated || !ev.Stream || ev.Status != 499 || ev.Usage.Input != 2+geminiFakeOverhead ||
			ev.Usage.Output < int64(received) || ev.Usage.Output >= 100_000 {
			t.Fatalf("event %+v (client received %d chunks)", ev, received)
		}
		if cost := geminiExact(ev.Usage.Input, 0, ev.Usage.Output); ev.CostExact != cost || ev.Cost != cost.Micro || e.balance().Balance != grant-cost.Micro {
			t.Fatalf("cost %s balance %s, want cost %s (the wallet's first event: charged its exact cost rounded down)", ev.Cost, e.balance().Balance, cost)
		}
		if st := e.gw.book.state(e.ws.ID); st.Open != 0 || st.Inflight != 0 {
			t.Fatalf("book still holds: %+v", st)
		}
		e.verify()
	})
}

// geminiPost sends a raw Gemini request; key goes in x-goog-api-key unless the path
// carries it.
func (e *gemEnv) geminiPost(path, body, key string) (*http.Response, []byte) {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+path, strings.NewReader(body))
	must(e.t, err)
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("X-Goog-Api-Key", key)
	}
	resp, err := http.DefaultClient.Do(req)
	must(e.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	must(e.t, err)
	return resp, b
}

// wantGeminiError checks a raw answer's status and its Google-shaped error: the status
// name and Spectra's code in the ErrorInfo.
func wantGeminiError(t *testing.T, resp *http.Response, b []byte, code int, status, spectra string) geminiError {
	t.Helper()
	var v struct {
		Error *geminiError `json:"error"`
	}
	if resp.StatusCode != code || json.Unmarshal(b, &v) != nil || v.Error == nil {
		t.Fatalf("status %d, want %d: %s", resp.StatusCode, code, b)
	}
	e := *v.Error
	if e.Code != code || e.Status != status || len(e.Details) != 1 || e.Details[0].Metadata["code"] != spectra ||
		e.Details[0].Reason != strings.ToUpper(spectra) || e.Details[0].Type != "type.googleapis.com/google.rpc.ErrorInfo" {
		t.Fatalf("error %s, want %d %s %s", b, code, status, spectra)
	}
	return e
}

const geminiBody = `{"contents":[{"role":"user","parts":[{"text":"hello world"}]}]}`

// The JSON-array stream (no alt=sse) is relayed element by element and metered from its
// last usageMetadata; the key may come as ?key=, and never reaches the upstream.
func TestGeminiArrayStream(t *testing.T) {
	eachStore(t, func(t *testing.T, db *store.DB, clk *clock) {
		grant := money.Amount(10 * money.Scale)
		e := newGeminiEnv(t, db, clk, grant, 20)
		resp, b := e.geminiPost("/v1beta/models/"+geminiModel+":streamGenerateContent?key="+e.secret, geminiBody, "")
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, b)
		}
		var chunks []geminiResponse
		if err := json.Unmarshal(b, &chunks); err != nil || len(chunks) != 20 {
			t.Fatalf("%d chunks, %v: %s", len(chunks), err, b)
		}
		if u, _, h := e.fake.last(); u.RawQuery != "" || h.Get("X-Goog-Api-Key") != upstreamKey {
			t.Fatalf("upstream got %s key %q", u, h.Get("X-Goog-Api-Key"))
		}
		if resp.Trailer.Get("X-Spectra-Cost") != money.Amount(52).String() {
			t.Fatalf("cost trailer %q", resp.Trailer.Get("X-Spectra-Cost"))
		}
		ev := e.newEvent(0)
		// 51.8 micro-units exactly (the trailer rounds it half-up): the wallet's first event is charged 51.
		if !sameUsage(ev.Usage, pricing.Usage{Input: 6, Output: 20}) || ev.Estimated || ev.Status != 200 || ev.Cost != 51 {
			t.Fatalf("event %+v", ev)
		}
		e.verify()
	})
}

// A stream that runs past its hold (an upstream ignoring maxOutputTokens) is ended by
// Spectra with a MAX_TOKENS chunk stating the usage charged, in both stream forms; the
// array stays valid JSON.
func TestGeminiStreamEndedAtItsHold(t *testing.T) {
	eachStore(t, func(t *testing.T, db *store.DB, clk *clock) {
		grant := money.Amount(10 * money.Scale)
		e := newGeminiEnv(t, db, clk, grant, 1000)
		e.fake.ignoreMax.Store(true)
		body := `{"contents":[{"parts":[{"text":"hello world"}]}],"generationConfig":{"maxOutputTokens":10}}`
		var w charges
		for i, path := range []string{":streamGenerateContent?alt=sse", ":streamGenerateContent"} {
			resp, b := e.geminiPost("/v1beta/models/"+geminiModel+path, body, e.secret)
			if resp.StatusCode != 200 {
				t.Fatalf("%s: %d %s", path, resp.StatusCode, b)
			}
			var chunks []geminiResponse
			if i == 0 {
				for _, d := range sseData(t, b) {
					var r geminiResponse
					must(t, json.Unmarshal([]byte(d), &r))
					chunks = append(chunks, r)
				}
			} else if err := json.Unmarshal(b, &chunks); err != nil {
				t.Fatalf("array stream is not JSON after the cut: %v: %s", err, b)
			}
			last := chunks[len(chunks)-1]
			if len(chunks) > 12 || len(last.Candidates) != 1 || last.Candidates[0].FinishReason != "MAX_TOKENS" || last.UsageMetadata == nil {
				t.Fatalf("%s: %d chunks, last %+v", path, len(chunks), last)
			}
			ev := e.newEvent(i)
			if !ev.Estimated || !sameUsage(ev.Usage, last.UsageMetadata.usage()) || ev.Usage.Output > 11 ||
				ev.CostExact != geminiExact(ev.Usage.Input, 0, ev.Usage.Output) || ev.Cost != w.charge(ev.CostExact) {
				t.Fatalf("%s: event %+v, closing usage %+v", path, ev, last.UsageMetadata)
			}
		}
		if n := e.fake.cancelled.Load(); n < 1 {
			t.Fatalf("the upstream was not cancelled (%d)", n)
		}
		e.verify()
	})
}

// A 402 (balance) and a hard budget stop Gemini requests before the upstream is called,
// in Google's error shape with Spectra's code.
func TestGeminiRefusedBeforeUpstream(t *testing.T) {
	eachStore(t, func(t *testing.T, db *store.DB, clk *clock) {
		e := newGeminiEnv(t, db, clk, 100, 20) // 100 micro-units: less than 8,192 output tokens at $2.50/M
		_, err := e.genai(e.srv.URL).Models.GenerateContent(t.Context(), geminiModel, genai.Text("hello"), nil)
		var ae genai.APIError
		if !errors.As(err, &ae) || ae.Code != http.StatusPaymentRequired || ae.Status != "RESOURCE_EXHAUSTED" ||
			len(ae.Details) != 1 || ae.Details[0]["reason"] != "INSUFFICIENT_BALANCE" {
			t.Fatalf("err = %#v, want 402 INSUFFICIENT_BALANCE", err)
		}
		resp, b := e.geminiPost("/v1beta/models/"+geminiModel+":streamGenerateContent?alt=sse", geminiBody, e.secret)
		wantGeminiError(t, resp, b, 402, "RESOURCE_EXHAUSTED", "insufficient_balance")
		if e.fake.requests.Load() != 0 {
			t.Fatal("the upstream was called for a request that could not pay")
		}

		// A hard budget: the first request fits, the second does not.
		_, _, err = e.ledger.Grant(t.Context(), e.ws.ID, 10*money.Scale, "more", "")
		must(t, err)
		n := e.budgetNode()
		est, err := estimateCost(geminiPrice, estimatePrompt([]byte(geminiBody)), 8192)
		must(t, err)
		bud := e.hardBudget(n.budgets, budget.Budget{Name: "gemini key", Scope: budget.ScopeKey, ScopeID: e.key.ID, Amount: est})
		req := func() (*http.Response, []byte) {
			hr, err := http.NewRequest(http.MethodPost, n.url+"/v1beta/models/"+geminiModel+":generateContent", strings.NewReader(geminiBody))
			must(t, err)
			hr.Header.Set("X-Goog-Api-Key", e.secret)
			r, err := http.DefaultClient.Do(hr)
			must(t, err)
			defer r.Body.Close()
			b, err := io.ReadAll(r.Body)
			must(t, err)
			return r, b
		}
		if r, b := req(); r.StatusCode != 200 {
			t.Fatalf("first request: %d %s", r.StatusCode, b)
		}
		must(t, n.gw.Flush(t.Context()))
		before := e.fake.requests.Load()
		r, b := req()
		ge := wantGeminiError(t, r, b, 402, "RESOURCE_EXHAUSTED", "budget_exceeded")
		if ge.Details[0].Metadata["budget_id"] != bud.ID || !strings.Contains(ge.Message, bud.ID) {
			t.Fatalf("budget error %s", b)
		}
		if e.fake.requests.Load() != before {
			t.Fatal("the refused request reached the upstream")
		}
		must(t, n.gw.Flush(t.Context()))
		e.verify()
	})
}

// Keys, methods and limits: each refusal in Google's shape with Spectra's code; a 429
// carries Retry-After; countTokens is forwarded and not charged.
func TestGeminiRejectionsAndCountTokens(t *testing.T) {
	eachStore(t, func(t *testing.T, db *store.DB, clk *clock) {
		grant := money.Amount(10 * money.Scale)
		e := newGeminiEnv(t, db, clk, grant, 20)
		gen := "/v1beta/models/" + geminiModel + ":generateContent"
		resp, b := e.geminiPost(gen, geminiBody, "")
		wantGeminiError(t, resp, b, 401, "UNAUTHENTICATED", "invalid_api_key")
		resp, b = e.geminiPost(gen, geminiBody, "sk-not-a-key")
		wantGeminiError(t, resp, b, 401, "UNAUTHENTICATED", "invalid_api_key")
		resp, b = e.geminiPost(gen+"?key=sk-not-a-key", geminiBody, "")
		wantGeminiError(t, resp, b, 401, "UNAUTHENTICATED", "invalid_api_key")
		// An OpenAI bearer token is not a Gemini key.
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+gen, strings.NewReader(geminiBody))
		req.Header.Set("Authorization", "Bearer "+e.secret)
		r, err := http.DefaultClient.Do(req)
		must(t, err)
		r.Body.Close()
		if r.StatusCode != 401 {
			t.Fatalf("bearer token accepted: %d", r.StatusCode)
		}
		resp, b = e.geminiPost("/v1beta/models/"+geminiModel+":embedContent", geminiBody, e.secret)
		wantGeminiError(t, resp, b, 404, "NOT_FOUND", "method_not_found")
		resp, b = e.geminiPost("/v1beta/models/"+geminiModel, geminiBody, e.secret)
		wantGeminiError(t, resp, b, 404, "NOT_FOUND", "method_not_found")
		resp, b = e.geminiPost("/v1beta/models/gpt-4o:generateContent", geminiBody, e.secret) // priced, but no Gemini upstream serves it
		wantGeminiError(t, resp, b, 404, "NOT_FOUND", "model_not_found")
		resp, b = e.geminiPost(gen, `{"generationConfig":{"maxOutputTokens":1,"max_output_tokens":100000}}`, e.secret)
		wantGeminiError(t, resp, b, 400, "INVALID_ARGUMENT", "duplicate_key")
		resp, b = e.geminiPost(gen, `{"generationConfig":{"MaxOutputTokens":100000}}`, e.secret)
		wantGeminiError(t, resp, b, 400, "INVALID_ARGUMENT", "invalid_field_name")
		if e.fake.requests.Load() != 0 {
			t.Fatal("a refused request reached the upstream")
		}

		// countTokens: forwarded (without the client's key), not charged.
		c := e.genai(e.srv.URL)
		ct, err := c.Models.CountTokens(t.Context(), geminiModel, genai.Text("one two three"), nil)
		must(t, err)
		if ct.TotalTokens != 3+geminiFakeOverhead {
			t.Fatalf("countTokens %+v", ct)
		}
		if u, _, h := e.fake.last(); !strings.HasSuffix(u.Path, ":countTokens") || h.Get("X-Goog-Api-Key") != upstreamKey {
			t.Fatalf("upstream got %s", u)
		}
		e.flush()
		if len(e.events()) != 0 || e.balance().Balance != grant {
			t.Fatalf("countTokens was charged: %d events, balance %s", len(e.events()), e.balance().Balance)
		}

		// 1 request per minute: the second is a 429 with Retry-After.
		_, err = db.SetKeyLimits(t.Context(), e.ws.ID, e.key.ID, team.KeyLimits{RPM: ptr(1)})
		must(t, err)
		clk.Advance(keyCacheTTL)
		if resp, b := e.geminiPost(gen, geminiBody, e.secret); resp.StatusCode != 200 {
			t.Fatalf("first request: %s", b)
		}
		resp, b = e.geminiPost(gen, geminiBody, e.secret)
		wantGeminiError(t, resp, b, 429, "RESOURCE_EXHAUSTED", "rate_limit_exceeded")
		if resp.Header.Get("Retry-After") == "" {
			t.Fatal("429 without Retry-After")
		}
		e.verify()
	})
}

// Google's Go SDK sends to /v1 unless told otherwise: those routes are Gemini's too, and
// reach the upstream's base URL (its version) all the same.
func TestGeminiSDKDefaultVersion(t *testing.T) {
	eachStore(t, func(t *testing.T, db *store.DB, clk *clock) {
		e := newGeminiEnv(t, db, clk, 10*money.Scale, 20)
		c, err := genai.NewClient(t.Context(), &genai.ClientConfig{APIKey: e.secret, Backend: genai.BackendGeminiAPI,
			HTTPOptions: genai.HTTPOptions{BaseURL: e.srv.URL}})
		must(t, err)
		resp, err := c.Models.GenerateContent(t.Context(), geminiModel, genai.Text("hello world"), nil)
		must(t, err)
		if resp.UsageMetadata.CandidatesTokenCount != 20 {
			t.Fatalf("usage %+v", resp.UsageMetadata)
		}
		if u, _, _ := e.fake.last(); u.Path != "/v1beta/models/"+geminiModel+":generateContent" {
			t.Fatalf("upstream got %s", u)
		}
		if ev := e.newEvent(0); ev.CostExact != exactOf(51_800_000) || ev.Cost != 51 { // 51.8 exactly: the wallet's first event is charged 51
			t.Fatalf("event %+v", ev)
		}
		e.verify()
	})
}

// An upstream's own error reaches the client as it is (Google's shape, Retry-After kept)
// and costs nothing.
func TestGeminiUpstreamErrorRelayed(t *testing.T) {
	eachStore(t, func(t *testing.T, db *store.DB, clk *clock) {
		grant := money.Amount(10 * money.Scale)
		e := newGeminiEnv(t, db, clk, grant, 20)
		e.fake.fail.Store(http.StatusTooManyRequests)
		for _, path := range []string{":generateContent", ":streamGenerateContent?alt=sse", ":streamGenerateContent"} {
			resp, b := e.geminiPost("/v1beta/models/"+geminiModel+path, geminiBody, e.secret)
			var v struct {
				Error geminiError `json:"error"`
			}
			if resp.StatusCode != 429 || json.Unmarshal(b, &v) != nil || v.Error.Status != "RESOURCE_EXHAUSTED" || resp.Header.Get("Retry-After") != "7" {
				t.Fatalf("%s: %d %s (Retry-After %q)", path, resp.StatusCode, b, resp.Header.Get("Retry-After"))
			}
		}
		_, err := e.genai(e.srv.URL).Models.GenerateContent(t.Context(), geminiModel, genai.Text("hello"), nil)
		var ae genai.APIError
		if !errors.As(err, &ae) || ae.Code != 429 || ae.Status != "RESOURCE_EXHAUSTED" {
			t.Fatalf("err = %#v", err)
		}
		e.flush()
		if n := len(e.events()); n != 0 || e.balance().Balance != grant {
			t.Fatalf("%d events, balance %s: an upstream error was charged", n, e.balance().Balance)
		}
		e.verify()
	})
}

// The hold is maxOutputTokens (plus a thinking budget) when set, the model's maximum
// output when not: a balance that covers 10 output tokens but not 8,192 admits only the
// request that asks for 10, and a large thinking budget is held too.
func TestGeminiHoldFromGenerationConfig(t *testing.T) {
	eachStore(t, func(t *testing.T, db *store.DB, clk *clock) {
		e := newGeminiEnv(t, db, clk, 100, 20) // 100 micro-units: 40 output tokens at $2.50/M
		gen := "/v1beta/models/" + geminiModel + ":generateContent"
		resp, b := e.geminiPost(gen, geminiBody, e.secret) // held for 8,192
		wantGeminiError(t, resp, b, 402, "RESOURCE_EXHAUSTED", "insufficient_balance")
		resp, b = e.geminiPost(gen, `{"contents":[{"parts":[{"text":"hello world"}]}],"generationConfig":{"maxOutputTokens":10,"thinkingConfig":{"thinkingBudget":50000}}}`, e.secret)
		wantGeminiError(t, resp, b, 402, "RESOURCE_EXHAUSTED", "insufficient_balance")
		resp, b = e.geminiPost(gen, `{"contents":[{"parts":[{"text":"hello world"}]}],"generation_config":{"candidate_count":8,"max_output_tokens":10}}`, e.secret)
		wantGeminiError(t, resp, b, 402, "RESOURCE_EXHAUSTED", "insufficient_balance") // 80 output tokens
		if e.fake.requests.Load() != 0 {
			t.Fatal("a request that could not pay reached the upstream")
		}
		for _, body := range []string{
			`{"contents":[{"parts":[{"text":"hello world"}]}],"generationConfig":{"maxOutputTokens":10}}`,
			`{"contents":[{"parts":[{"text":"hello world"}]}],"generation_config":{"max_output_tokens":10}}`,
		} {
			if resp, b := e.geminiPost(gen, body, e.secret); resp.StatusCode != 200 {
				t.Fatalf("%s: %d %s", body, resp.StatusCode, b)
			}
		}
		e.flush()
		// (6 × 0.30 + 10 × 2.50) / 1e6 = 26.8 micro-units each: charged 26 (0.8 carried), then 27 (26.8 + 0.8 = 27.6, 0.6 carried).
		if geminiExact(2+geminiFakeOverhead, 0, 10) != exactOf(26_800_000) || e.balance().Balance != 100-26-27 || len(e.events()) != 2 {
			t.Fatalf("balance %s, %d events", e.balance().Balance, len(e.events()))
		}
		e.verify()
	})
}

// A client that leaves the JSON-array stream mid-way is charged as one that leaves an SSE
// stream: the reported prompt and what was relayed, estimated, status 499.
func TestGeminiArrayStreamDisconnect(t *testing.T) {
	eachStore(t, func(t *testing.T, db *store.DB, clk *clock) {
		grant := money.Amount(10 * money.Scale)
		e := newGeminiEnv(t, db, clk, grant, 100_000)
		e.fake.delay.Store(int64(time.Millisecond))
		req, err := http.NewRequest(http.MethodPost, e.srv.URL+"/v1beta/models/"+geminiModel+":streamGenerateContent",
			strings.NewReader(`{"contents":[{"parts":[{"text":"hello world"}]}],"generationConfig":{"maxOutputTokens":100000}}`))
		must(t, err)
		req.Header.Set("X-Goog-Api-Key", e.secret)
		resp, err := http.DefaultClient.Do(req)
		must(t, err)
		a := newArrayReader(resp.Body) // the client reads the array as the gateway does
		for i := range 5 {
			if _, elem, err := a.next(); err != nil || len(elem) == 0 {
				t.Fatalf("element %d: %v", i, err)
			}
		}
		resp.Body.Close()
		for deadline := time.Now().Add(10 * time.Second); e.fake.cancelled.Load() == 0; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("the upstream stream was never cancelled")
			}
		}
		ev := e.newEvent(0)
		if !ev.Estimated || ev.Status != 499 || ev.Usage.Input != 2+geminiFakeOverhead || ev.Usage.Output < 5 || ev.Usage.Output >= 100_000 {
			t.Fatalf("event %+v", ev)
		}
		if cost := geminiCost(ev.Usage.Input, 0, ev.Usage.Output); ev.Cost != cost || e.balance().Balance != grant-cost {
			t.Fatalf("cost %s balance %s, want %s", ev.Cost, e.balance().Balance, cost)
		}
		e.verify()
	})
}
