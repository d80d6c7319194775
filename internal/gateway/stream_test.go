package gateway

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"spectra/internal/gateway/fakeupstream"
	"spectra/internal/money"
	"spectra/internal/store"
)

// A client that leaves mid-stream cancels the upstream and is charged the prompt and the
// completion tokens streamed so far, recorded as estimated; its hold is closed.
func TestClientDisconnectMidStream(t *testing.T) {
	eachStore(t, func(t *testing.T, db *store.DB, clk *clock) {
		grant := money.Amount(10 * money.Scale)
		e := newEnv(t, db, clk, envOpts{grant: grant, upstream: fakeupstream.Options{CompletionTokens: 100_000, ChunkDelay: time.Millisecond}})
		ctx, cancel := context.WithCancel(context.Background())
		p := chatParams("write forever")
		p.MaxTokens = openai.Int(100_000)
		s := e.cl().Chat.Completions.NewStreaming(ctx, p)
		received := 0
		for received < 5 && s.Next() {
			if ch := s.Current(); len(ch.Choices) > 0 && ch.Choices[0].Delta.Content != "" {
				received++
			}
		}
		cancel()
		s.Close()
		e.flush()
		for deadline := time.Now().Add(10 * time.Second); e.up.Cancelled() == 0; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("the upstream stream was never cancelled")
			}
		}
		evs := e.events()
		if len(evs) != 1 {
			t.Fatalf("%d events, want 1", len(evs))
		}
		ev := evs[0]
		prompt := estimatePrompt(e.up.LastRequestBody())
		if !ev.Estimated || !ev.Stream || ev.Status != 499 || ev.Usage.Input != prompt ||
			ev.Usage.Output < int64(received) || ev.Usage.Output >= 100_000 {
			t.Fatalf("event %+v (client received %d tokens, prompt estimate %d)", ev, received, prompt)
		}
		// The wallet's first event: charged its exact cost rounded down (the rest carried).
		cost := expectedExact(prompt, 0, ev.Usage.Output)
		if ev.CostExact != cost || ev.Cost != cost.Micro || e.balance().Balance != grant-cost.Micro {
			t.Fatalf("cost %s balance %s, want cost %s", ev.Cost, e.balance().Balance, cost)
		}
		if st := e.gw.book.state(e.ws.ID); st.Open != 0 || st.Inflight != 0 {
			t.Fatalf("book still holds: %+v", st)
		}
		e.verify()
	})
}

// An upstream that reports no usage is metered from what it generated, as estimated.
func TestUpstreamWithoutUsage(t *testing.T) {
	eachStore(t, func(t *testing.T, db *store.DB, clk *clock) {
		grant := money.Amount(10 * money.Scale)
		e := newEnv(t, db, clk, envOpts{grant: grant, upstream: fakeupstream.Options{OmitUsage: true}})
		ctx := context.Background()
		var resp *http.Response
		cc, err := e.cl().Chat.Completions.New(ctx, chatParams("hello there"), option.WithResponseInto(&resp))
		must(t, err)
		e.flush()
		prompt := estimatePrompt(e.up.LastRequestBody())
		out := int64((len(cc.Choices[0].Message.Content) + 3) / 4) // ⌈bytes/4⌉, as documented
		ev := e.event(resp.Header.Get("X-Request-Id"))
		if !ev.Estimated || ev.Usage.Input != prompt || ev.Usage.Output != out || ev.CostExact != expectedExact(prompt, 0, out) {
			t.Fatalf("non-streamed event %+v, want prompt %d output %d", ev, prompt, out)
		}
		s := e.cl().Chat.Completions.NewStreaming(ctx, chatParams("stream without usage"), option.WithResponseInto(&resp))
		streamed := 0
		for s.Next() {
			if ch := s.Current(); len(ch.Choices) > 0 {
				streamed += len(ch.Choices[0].Delta.Content)
			}
		}
		must(t, s.Err())
		e.flush()
		prompt2 := estimatePrompt(e.up.LastRequestBody())
		out2 := int64((streamed + 3) / 4) // ⌈bytes/4⌉ of the text, not one per delta
		ev = e.event(resp.Header.Get("X-Request-Id"))
		if !ev.Estimated || !ev.Stream || ev.Status != 200 || ev.Usage.Output != out2 || out2 <= 20 || ev.Usage.Input != prompt2 {
			t.Fatalf("streamed event %+v, want %d output tokens", ev, out2)
		}
		var w charges
		if got := e.balance().Balance; got != grant-w.charge(expectedExact(prompt, 0, out))-w.charge(expectedExact(prompt2, 0, out2)) {
			t.Fatalf("balance %s", got)
		}
		e.verify()
	})
}

// sseEvents splits a raw SSE body into its data payloads.
func sseData(t *testing.T, b []byte) []string {
	t.Helper()
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			out = append(out, v)
		}
	}
	return out
}

// Streams ask the upstream for usage; the extra usage chunk reaches only clients that
// asked for it, and every other field of the body survives.
func TestIncludeUsageInjectedAndStripped(t *testing.T) {
	eachStore(t, func(t *testing.T, db *store.DB, clk *clock) {
		e := newEnv(t, db, clk, envOpts{grant: 10 * money.Scale})
		body := `{"model":"gpt-4o","stream":true,"x_custom":{"keep":[1,"two"]},"stream_options":{"include_obfuscation":false},"messages":[{"role":"user","content":"hi"}]}`
		resp, b := e.post("/v1/chat/completions", body)
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, b)
		}
		var sent map[string]any
		must(t, json.Unmarshal(e.up.LastRequestBody(), &sent))
		so, _ := sent["stream_options"].(map[string]any)
		if so["include_usage"] != true || so["include_obfuscation"] != false || sent["x_custom"] == nil {
			t.Fatalf("upstream got %s", e.up.LastRequestBody())
		}
		for _, d := range sseData(t, b) {
			if strings.Contains(d, `"choices":[]`) {
				t.Fatalf("usage chunk reached a client that did not ask for it: %s", d)
			}
		}
		if resp.Trailer.Get("X-Spectra-Cost") == "" {
			t.Fatal("no X-Spectra-Cost trailer")
		}

		body = `{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`
		_, b = e.post("/v1/chat/completions", body)
		if !bytes.Equal(e.up.LastRequestBody(), []byte(body)) {
			t.Fatalf("a body that needed no change was changed: %s", e.up.LastRequestBody())
		}
		found := false
		for _, d := range sseData(t, b) {
			found = found || strings.Contains(d, `"choices":[]`)
		}
		if !found {
			t.Fatal("the client asked for the usage chunk and did not get it")
		}
		e.verify()
	})
}

// Bodies pass through unchanged: unknown request fields reach the upstream byte for
// byte, and unknown response fields reach the client.
func TestUnknownFieldsSurvive(t *testing.T) {
	eachStore(t, func(t *testing.T, db *store.DB, clk *clock) {
		e := newEnv(t, db, clk, envOpts{grant: 10 * money.Scale})
		body := `{"model":"gpt-4o", "messages":[{"role":"user","content":"hi","x_note":"n"}], "x_vendor":{"a":[1,2,{"b":null}]}, "temperature":0.5}`
		resp, b := e.post("/v1/chat/completions", body)
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, b)
		}
		if !bytes.Equal(e.up.LastRequestBody(), []byte(body)) {
			t.Fatalf("upstream got %s", e.up.LastRequestBody())
		}
		for _, field := range []string{`"system_fingerprint":"fp_fake"`, `"service_tier":"default"`} {
			if !bytes.Contains(b, []byte(field)) {
				t.Fatalf("response lost %s: %s", field, b)
			}
		}
		var extra map[string]any
		_, err := e.cl().Chat.Completions.New(context.Background(), chatParams("hi"),
			option.WithJSONSet("x_vendor", map[string]any{"deep": true}))
		must(t, err)
		must(t, json.Unmarshal(e.up.LastRequestBody(), &extra))
		if v, _ := extra["x_vendor"].(map[string]any); v["deep"] != true {
			t.Fatalf("unknown field lost: %s", e.up.LastRequestBody())
		}
		e.verify()
	})
}
