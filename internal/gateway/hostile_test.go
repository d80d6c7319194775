package gateway

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"

	"spectra/internal/gateway/fakeupstream"
	"spectra/internal/money"
	"spectra/internal/pricing"
	"spectra/internal/store"
)

// Hostile tests: bodies crafted to shrink a request's hold, upstreams that ignore every
// limit, and clients that leave at the worst moment.

const hostileMessages = `"messages":[{"role":"user","content":"count to ten"}]`

// craftedBodies are requests whose hold a client might hope to shrink, by path: names
// the provider does not read on that endpoint, case variants, duplicates.
var craftedBodies = []struct{ path, body string }{
	{"/v1/chat/completions", `{"model":"gpt-4o","max_output_tokens":1,` + hostileMessages + `}`},
	{"/v1/chat/completions", `{"model":"gpt-4o","MAX_TOKENS":1,` + hostileMessages + `}`},
	{"/v1/chat/completions", `{"model":"gpt-4o","Max_Completion_Tokens":1,` + hostileMessages + `}`},
	{"/v1/chat/completions", `{"model":"gpt-4o","max_tokens":1,"max_tokens":100000,` + hostileMessages + `}`},
	{"/v1/chat/completions", `{"model":"gpt-4o","max_completion_tokens":1,"max_completion_tokens":null,` + hostileMessages + `}`},
	{"/v1/completions", `{"model":"gpt-4o","max_completion_tokens":1,"prompt":"count to ten"}`},
	{"/v1/completions", `{"model":"gpt-4o","max_output_tokens":1,"prompt":"count to ten"}`},
	{"/v1/responses", `{"model":"gpt-4o","max_tokens":1,"input":"count to ten"}`},
	{"/v1/responses", `{"model":"gpt-4o","MAX_OUTPUT_TOKENS":1,"input":"count to ten"}`},
	{"/v1/chat/completions", `{"model":"gpt-4o","stream":true,"max_output_tokens":1,` + hostileMessages + `}`},
}

// 100 concurrent crafted requests on credit for a handful of real answers, overdraft 0,
// with an upstream that reads names exactly (and so answers in full): the balance never
// goes below 0. Before the fix each was held for one output token and the balance ended
// far below zero.
func TestCraftedBodiesCannotOverspend(t *testing.T) {
	eachStore(t, func(t *testing.T, db *store.DB, clk *clock) {
		gt := newGate()
		const grant = money.Amount(20_000) // 0.02: about four answers of 500 tokens
		e := newEnv(t, db, clk, envOpts{grant: grant, wrap: gt.wrap, upstream: fakeupstream.Options{CompletionTokens: 500}})
		const n = 100
		var wg sync.WaitGroup
		var ok, refused400, refused402 atomic.Int64
		done := make(chan struct{}, n)
		for i := range n {
			wg.Go(func() {
				b := craftedBodies[i%len(craftedBodies)]
				resp, body := e.post(b.path, b.body)
				switch resp.StatusCode {
				case http.StatusOK:
					ok.Add(1)
					return // it reached the upstream: counted by the gate
				case http.StatusBadRequest:
					refused400.Add(1)
				case http.StatusPaymentRequired:
					refused402.Add(1)
				default:
					t.Errorf("%s %s: status %d: %s", b.path, b.body, resp.StatusCode, body)
				}
				done <- struct{}{}
			})
		}
		gt.await(n, done)
		if b := e.balance(); b.Available < 0 {
			t.Fatalf("available %s below zero while the requests are held", b.Available)
		}
		close(gt.open)
		wg.Wait()
		e.verify()
		if b := e.balance(); b.Balance < 0 {
			t.Fatalf("balance %s below zero after %d admitted crafted requests (%d refused 400, %d refused 402)",
				b.Balance, ok.Load(), refused400.Load(), refused402.Load())
		}
		if ok.Load() == 0 || refused400.Load() == 0 {
			t.Fatalf("%d admitted, %d refused 400: the test exercises nothing", ok.Load(), refused400.Load())
		}
	})
}

// A request that sets no limit is held for the model's max_output_tokens (a field of its
// price) when it has one, instead of the configured default.
func TestPriceMaxOutputTokensSizesTheHold(t *testing.T) {
	eachStore(t, func(t *testing.T, db *store.DB, clk *clock) {
		body := `{"model":"gpt-4o",` + hostileMessages + `}`
		p := testPrice
		p.MaxOutputTokens = 50
		hold, err := estimateCost(p, estimatePrompt([]byte(body)), 50)
		must(t, err)
		e := newEnv(t, db, clk, envOpts{grant: hold})
		p.EffectiveFrom = clk.Now().Add(-time.Minute)
		must(t, db.AddPrice(t.Context(), p))
		e.metering.Invalidate()
		// The default (1,000 tokens in these tests) would not fit; the model's 50 does.
		resp, b := e.post("/v1/chat/completions", body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d: %s", resp.StatusCode, b)
		}
		e.verify()
		if got := e.balance().Balance; got != hold-expectedCost(6, 0, 20) {
			t.Fatalf("balance %s", got)
		}
	})
}

// lastData returns the data payloads of a raw SSE body.
func lastData(t *testing.T, b []byte) (datas []string, events []string) {
	t.Helper()
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "data: "); ok {
			datas = append(datas, v)
		}
		if v, ok := strings.CutPrefix(l, "event: "); ok {
			events = append(events, v)
		}
	}
	if len(datas) == 0 {
		t.Fatalf("no data in %s", b)
	}
	return datas, events
}

// A stream whose upstream ignores every limit is ended by Spectra once its metered
// output passes the hold: the client gets finish_reason "length", the usage chunk it
// asked for, and [DONE]; the upstream request is closed; the charge is the prompt
// estimate and ⌈bytes/4⌉ of the text relayed.
func TestStreamEndedAtItsHold(t *testing.T) {
	eachStore(t, func(t *testing.T, db *store.DB, clk *clock) {
		grant := money.Amount(10 * money.Scale)
		e := newEnv(t, db, clk, envOpts{grant: grant, upstream: fakeupstream.Options{IgnoreMaxTokens: true, CompletionTokens: 100_000, ChunkDelay: 100 * time.Microsecond}})
		p := chatParams("write forever")
		p.MaxTokens = openai.Int(5)
		p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
		s := e.cl().Chat.Completions.NewStreaming(t.Context(), p)
		var text strings.Builder
		finish := ""
		var usage openai.CompletionUsage
		for s.Next() {
			ch := s.Current()
			for _, c := range ch.Choices {
				text.WriteString(c.Delta.Content)
				if c.FinishReason != "" {
					finish = c.FinishReason
				}
			}
			if ch.Usage.TotalTokens > 0 {
				usage = ch.Usage
			}
		}
		must(t, s.Err())
		// Cut after the sixth delta (more than the 5 held): " tok1"…" tok6" is 30 bytes.
		out := int64((text.Len() + 3) / 4)
		if finish != "length" || usage.CompletionTokens != out || out != 8 || out > 5+5/2+2 {
			t.Fatalf("finish %q usage %+v, text %q (%d tokens by ⌈bytes/4⌉)", finish, usage, text.String(), out)
		}
		e.flush()
		ev := e.events()[0]
		if !ev.Estimated || ev.Status != 200 || ev.Usage.Output != out || ev.Usage.Input != usage.PromptTokens {
			t.Fatalf("event %+v", ev)
		}
		waitCancelled(t, e.up, 1)

		// Completions: the closing chunk, no usage chunk (not asked for), [DONE].
		resp, b := e.post("/v1/completions", `{"model":"gpt-4o","prompt":"x","max_tokens":5,"stream":true}`)
		datas, _ := lastData(t, b)
		if resp.StatusCode != 200 || datas[len(datas)-1] != "[DONE]" || !strings.Contains(datas[len(datas)-2], `"finish_reason":"length"`) ||
			strings.Contains(string(b), `"usage":{`) {
			t.Fatalf("completions stream: %s", b)
		}
		waitCancelled(t, e.up, 2)

		// Responses: a response.incomplete event with the usage charged.
		resp, b = e.post("/v1/responses", `{"model":"gpt-4o","input":"x","max_output_tokens":5,"stream":true}`)
		datas, events := lastData(t, b)
		if resp.StatusCode != 200 || events[len(events)-1] != "response.incomplete" || !strings.Contains(datas[len(datas)-1], `"output_tokens":`) {
			t.Fatalf("responses stream: %s", b)
		}
		waitCancelled(t, e.up, 3)
		e.verify()
	})
}

// A provider that honours the limit ends the stream itself at it, with its own usage:
// Spectra's ⌈bytes/4⌉ (above the true count for text of more than 4 bytes a token, as
// here) does not cut it short.
func TestStreamAtItsLimitNotCutShort(t *testing.T) {
	eachStore(t, func(t *testing.T, db *store.DB, clk *clock) {
		e := newEnv(t, db, clk, envOpts{grant: 10 * money.Scale, upstream: fakeupstream.Options{CompletionTokens: 100}})
		resp, b := e.post("/v1/chat/completions", `{"model":"gpt-4o","max_tokens":5,"stream":true,"stream_options":{"include_usage":true},`+hostileMessages+`}`)
		if resp.StatusCode != 200 || !strings.Contains(string(b), `"completion_tokens":5,`) || !strings.Contains(string(b), `"finish_reason":"length"`) {
			t.Fatalf("%s", b)
		}
		e.flush()
		if ev := e.events()[0]; ev.Estimated || ev.Usage.Output != 5 {
			t.Fatalf("event %+v: the provider's own end was cut short", ev)
		}
		e.verify()
	})
}

func waitCancelled(t *testing.T, up *fakeupstream.Server, n int64) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); up.Cancelled() < n; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the upstream stream was not closed (%d of %d)", up.Cancelled(), n)
		}
	}
}

// sseUpstream replaces the upstream with script, which writes a chat stream with send.
func sseUpstream(script func(r *http.Request, send func(data string) bool)) func(http.Handler) http.Handler {
	return func(http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			w.WriteHeader(http.StatusOK)
			rc := http.NewResponseController(w)
			script(r, func(data string) bool {
				if _, err := fmt.Fprintf(w, "data: %s\n\n", data); err != nil {
					return false
				}
				return rc.Flush() == nil
			})
		})
	}
}

func chatChunk(delta, finish string) string {
	return `{"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":` + delta + `,"finish_reason":` + finish + `}]}`
}

// One huge delta cannot carry a stream past its hold: the chunk that goes past it is the
// last one relayed (the documented bound), and the upstream request is closed.
func TestHugeDeltaEndsTheStream(t *testing.T) {
	eachStore(t, func(t *testing.T, db *store.DB, clk *clock) {
		big := strings.Repeat("a", 64<<10)
		var sent atomic.Int64
		upstreamDone := make(chan error, 1)
		e := newEnv(t, db, clk, envOpts{grant: 10 * money.Scale, wrap: sseUpstream(func(r *http.Request, send func(string) bool) {
			defer func() { upstreamDone <- r.Context().Err() }()
			for range 10_000 {
				if !send(chatChunk(`{"content":"`+big+`"}`, "null")) {
					return
				}
				sent.Add(1)
			}
		})})
		resp, b := e.post("/v1/chat/completions", `{"model":"gpt-4o","max_tokens":5,"stream":true,`+hostileMessages+`}`)
		datas, _ := lastData(t, b)
		if resp.StatusCode != 200 || strings.Count(string(b), big) != 1 || datas[len(datas)-1] != "[DONE]" ||
			!strings.Contains(datas[len(datas)-2], `"finish_reason":"length"`) {
			t.Fatalf("%d chunks of text relayed; end %q", strings.Count(string(b), big), datas[max(0, len(datas)-2):])
		}
		select {
		case err := <-upstreamDone:
			if err == nil {
				t.Fatalf("the upstream wrote all its %d chunks: it was not closed", sent.Load())
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the upstream request was not closed")
		}
		e.flush()
		if ev := e.events()[0]; ev.Usage.Output != int64(len(big)/4) || !ev.Estimated {
			t.Fatalf("event %+v, want %d output tokens", ev, len(big)/4)
		}
		e.verify()
	})
}

// A non-streamed answer cannot be cut: it is charged what the provider reports, and with
// a provider that ignores the limit that can exceed the hold by the output it generated
// beyond the limit (the documented bound). A provider that honours it keeps within.
func TestNonStreamedBoundWithUpstreamIgnoringLimits(t *testing.T) {
	eachStore(t, func(t *testing.T, db *store.DB, clk *clock) {
		body := `{"model":"gpt-4o","max_tokens":5,` + hostileMessages + `}`
		hold, err := estimateCost(testPrice, estimatePrompt([]byte(body)), 5)
		must(t, err)
		e := newEnv(t, db, clk, envOpts{grant: hold, upstream: fakeupstream.Options{IgnoreMaxTokens: true, CompletionTokens: 200}})
		resp, b := e.post("/v1/chat/completions", body)
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, b)
		}
		e.verify()
		cost := expectedCost(6, 0, 200)
		overspend := -(hold - cost)
		if got := e.balance().Balance; got != hold-cost || overspend > money.Amount((200-5)*testPrice.Output/1_000_000)+1 {
			t.Fatalf("balance %s, want %s (overspend %s)", got, hold-cost, overspend)
		}
	})
}

// A client that reads up to finish_reason and leaves before the usage chunk arrives is
// charged the usage the upstream reports, which Spectra waits for (without relaying).
// Without any usage, it is charged ⌈bytes/4⌉ of the text, not one token per delta.
func TestDisconnectAfterLastChunk(t *testing.T) {
	for _, withUsage := range []bool{true, false} {
		t.Run(fmt.Sprintf("usage=%v", withUsage), func(t *testing.T) {
			eachStore(t, func(t *testing.T, db *store.DB, clk *clock) {
				draining := make(chan string, 1)
				testHookDraining = func(id string) { draining <- id }
				t.Cleanup(func() { testHookDraining = nil })
				text := strings.Repeat("abcd", 1024) // 4 KB in one delta
				grant := money.Amount(10 * money.Scale)
				var forwarded atomic.Value
				e := newEnv(t, db, clk, envOpts{grant: grant, wrap: sseUpstream(func(r *http.Request, send func(string) bool) {
					b, _ := io.ReadAll(r.Body)
					forwarded.Store(b)
					send(chatChunk(`{"role":"assistant","content":""}`, "null"))
					send(chatChunk(`{"content":"`+text+`"}`, "null"))
					send(chatChunk(`{}`, `"stop"`))
					select {
					case <-draining: // the client has left; Spectra still reads
					case <-r.Context().Done():
						return
					case <-time.After(30 * time.Second):
						return
					}
					if withUsage {
						send(`{"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[],"usage":{"prompt_tokens":11,"completion_tokens":1025,"total_tokens":1036}}`)
					}
					send("[DONE]")
				})})
				req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, e.srv.URL+"/v1/chat/completions",
					strings.NewReader(`{"model":"gpt-4o","stream":true,"max_tokens":2000,`+hostileMessages+`}`))
				must(t, err)
				req.Header.Set("Authorization", "Bearer "+e.secret)
				resp, err := http.DefaultClient.Do(req)
				must(t, err)
				br := bufio.NewReader(resp.Body)
				for {
					line, err := br.ReadString('\n')
					must(t, err)
					if strings.Contains(line, `"finish_reason":"stop"`) {
						break
					}
				}
				resp.Body.Close() // gone before the usage chunk
				e.flush()
				ev := e.events()[0]
				want := pricing.Usage{Input: 11, Output: 1025}
				if !withUsage {
					want = pricing.Usage{Input: estimatePrompt(forwarded.Load().([]byte)), Output: int64(len(text) / 4)}
				}
				// The wallet's first event: charged its exact cost rounded down (the rest carried).
				if x := expectedExact(want.Input, 0, want.Output); !sameUsage(ev.Usage, want) || ev.Estimated == withUsage || ev.CostExact != x || ev.Cost != x.Micro {
					t.Fatalf("event usage %+v estimated %v cost %s, want %+v cost %s", ev.Usage, ev.Estimated, ev.Cost, want, x.Micro)
				}
				if got := e.balance().Balance; got != grant-ev.Cost {
					t.Fatalf("balance %s", got)
				}
				e.verify()
			})
		})
	}
}

// Gateway errors are always JSON in OpenAI's shape: a field of the wrong type names the
// field, and a route called with the wrong method is a JSON 405.
func TestGatewayErrorsAreJSON(t *testing.T) {
	eachStore(t, func(t *testing.T, db *store.DB, clk *clock) {
		e := newEnv(t, db, clk, envOpts{grant: money.Scale})
		resp, b := e.post("/v1/chat/completions", `{"model":5,`+hostileMessages+`}`)
		wantError(t, resp, b, http.StatusBadRequest, "invalid_type")
		if ae := apiErr(t, b); ae.Param == nil || *ae.Param != "model" || strings.Contains(ae.Message, "not a JSON object") {
			t.Fatalf("wrong-type error %s", b)
		}
		for _, c := range []struct{ method, path, allow string }{
			{http.MethodGet, "/v1/chat/completions", "POST"},
			{http.MethodGet, "/v1/completions", "POST"},
			{http.MethodPut, "/v1/embeddings", "POST"},
			{http.MethodDelete, "/v1/responses", "POST"},
			{http.MethodPost, "/v1/models", "GET, HEAD"},
		} {
			req, err := http.NewRequest(c.method, e.srv.URL+c.path, nil)
			must(t, err)
			req.Header.Set("Authorization", "Bearer "+e.secret)
			resp, err := http.DefaultClient.Do(req)
			must(t, err)
			var buf strings.Builder
			_, err = bufio.NewReader(resp.Body).WriteTo(&buf)
			resp.Body.Close()
			must(t, err)
			wantError(t, resp, []byte(buf.String()), http.StatusMethodNotAllowed, "method_not_allowed")
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" || resp.Header.Get("Allow") != c.allow {
				t.Fatalf("%s %s: Content-Type %q Allow %q", c.method, c.path, ct, resp.Header.Get("Allow"))
			}
		}
	})
}
