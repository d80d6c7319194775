package gateway

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"

	"spectra/internal/gateway/fakeupstream"
	"spectra/internal/money"
	"spectra/internal/pricing"
	"spectra/internal/store"
)

func chatParams(text string) openai.ChatCompletionNewParams {
	return openai.ChatCompletionNewParams{Model: testModel, Messages: []openai.ChatCompletionMessageParamUnion{
		openai.SystemMessage("You are terse."), openai.UserMessage(text)}}
}

// fakeChatPrompt is the fake upstream's prompt count for chatParams: 3 per message plus
// the words of each (see package fakeupstream).
func fakeChatPrompt(text string) int64 { return 3 + 3 + 3 + int64(len(splitWords(text))) }

func splitWords(s string) []string {
	var out []string
	word := ""
	for _, r := range s + " " {
		if r == ' ' {
			if word != "" {
				out = append(out, word)
			}
			word = ""
			continue
		}
		word += string(r)
	}
	return out
}

// Every call, streamed or not, leaves the balance exactly at grant − Σ charged, where each
// exact cost is computed here from the price and the usage the upstream reported, and
// the wallet is charged the whole micro-units of its running total (charges).
func TestBalanceExactAfterEachCall(t *testing.T) {
	eachStore(t, func(t *testing.T, db *store.DB, clk *clock) {
		grant := money.Amount(10 * money.Scale)
		e := newEnv(t, db, clk, envOpts{grant: grant})
		c := e.client()
		ctx := context.Background()
		want := grant
		var w charges
		check := func(step string, exact pricing.Exact, hdr *http.Response) {
			t.Helper()
			e.flush()
			cost := w.charge(exact)
			want -= cost
			if got := e.balance(); got.Balance != want || got.Held != 0 {
				t.Fatalf("%s: balance %s held %s, want %s held 0", step, got.Balance, got.Held, want)
			}
			if hdr != nil {
				if got := hdr.Header.Get("X-Spectra-Cost"); got != exact.Round().String() {
					t.Fatalf("%s: X-Spectra-Cost %q, want %q", step, got, exact.Round())
				}
				ev := e.event(hdr.Header.Get("X-Request-Id"))
				if ev.Cost != cost || ev.CostExact != exact || ev.Source != "gateway" || ev.Estimated || ev.KeyID != e.key.ID || ev.Project != "proj" || ev.Member != "mem" || ev.Status != 200 {
					t.Fatalf("%s: event %+v", step, ev)
				}
			}
		}

		// Chat, not streamed.
		var resp *http.Response
		cc, err := c.Chat.Completions.New(ctx, chatParams("say hello to the gateway"), option.WithResponseInto(&resp))
		must(t, err)
		if cc.Usage.PromptTokens != fakeChatPrompt("say hello to the gateway") || cc.Usage.CompletionTokens != 20 {
			t.Fatalf("usage %+v", cc.Usage)
		}
		check("chat", expectedExact(cc.Usage.PromptTokens, 0, cc.Usage.CompletionTokens), resp)
		if ev := e.event(resp.Header.Get("X-Request-Id")); ev.Endpoint != "/v1/chat/completions" || ev.Stream || ev.Usage.Input != cc.Usage.PromptTokens {
			t.Fatalf("chat event %+v", ev)
		}

		// Chat, streamed, with the usage chunk asked for by the client.
		p := chatParams("stream this one please")
		p.StreamOptions.IncludeUsage = openai.Bool(true)
		s := c.Chat.Completions.NewStreaming(ctx, p, option.WithResponseInto(&resp))
		var usage openai.CompletionUsage
		for s.Next() {
			if ch := s.Current(); ch.Usage.TotalTokens > 0 {
				usage = ch.Usage
			}
		}
		must(t, s.Err())
		if usage.CompletionTokens != 20 {
			t.Fatalf("streamed usage %+v", usage)
		}
		check("chat stream", expectedExact(usage.PromptTokens, 0, usage.CompletionTokens), nil)
		if ev := e.event(resp.Header.Get("X-Request-Id")); !ev.Stream || ev.Estimated || ev.CostExact != expectedExact(usage.PromptTokens, 0, 20) {
			t.Fatalf("stream event %+v", ev)
		}

		// Chat, streamed, without the usage chunk: charged from the usage Spectra asked for.
		s = c.Chat.Completions.NewStreaming(ctx, chatParams("no usage chunk for me"))
		chunks := 0
		for s.Next() {
			chunks++
			if len(s.Current().Choices) == 0 {
				t.Fatal("the client received the usage chunk it did not ask for")
			}
		}
		must(t, s.Err())
		check("chat stream without usage", expectedExact(fakeChatPrompt("no usage chunk for me"), 0, 20), nil)

		// Legacy completions.
		cp, err := c.Completions.New(ctx, openai.CompletionNewParams{Model: testModel,
			Prompt: openai.CompletionNewParamsPromptUnion{OfString: openai.String("once upon a time")}, MaxTokens: openai.Int(7)},
			option.WithResponseInto(&resp))
		must(t, err)
		if cp.Usage.CompletionTokens != 7 || cp.Usage.PromptTokens != 4 {
			t.Fatalf("completions usage %+v", cp.Usage)
		}
		check("completions", expectedExact(4, 0, 7), resp)

		// Responses, not streamed and streamed (usage in response.completed).
		r, err := c.Responses.New(ctx, responses.ResponseNewParams{Model: testModel,
			Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("tell me a story")}}, option.WithResponseInto(&resp))
		must(t, err)
		check("responses", expectedExact(r.Usage.InputTokens, 0, r.Usage.OutputTokens), resp)
		rs := c.Responses.NewStreaming(ctx, responses.ResponseNewParams{Model: testModel,
			Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("stream a story")}})
		var ru responses.ResponseUsage
		for rs.Next() {
			if ev := rs.Current(); ev.Type == "response.completed" {
				ru = ev.Response.Usage
			}
		}
		must(t, rs.Err())
		if ru.InputTokens != 6 || ru.OutputTokens != 20 {
			t.Fatalf("responses stream usage %+v", ru)
		}
		check("responses stream", expectedExact(6, 0, 20), nil)

		// Embeddings: input tokens only, at the embedding model's price.
		em, err := c.Embeddings.New(ctx, openai.EmbeddingNewParams{Model: "text-embedding-3-small",
			Input: openai.EmbeddingNewParamsInputUnion{OfString: openai.String("embed these five words")}}, option.WithResponseInto(&resp))
		must(t, err)
		embExact := exactOf(em.Usage.PromptTokens * 20_000)
		e.flush()
		want -= w.charge(embExact)
		if got := e.balance(); got.Balance != want || resp.Header.Get("X-Spectra-Cost") != embExact.Round().String() {
			t.Fatalf("embeddings: balance %s (want %s), cost header %q", got.Balance, want, resp.Header.Get("X-Spectra-Cost"))
		}
		if n := len(e.events()); n != 7 {
			t.Fatalf("%d events, want 7", n)
		}
		e.verify()
	})
}

// A request whose hold does not fit is refused with 402 before any upstream call.
func TestInsufficientBalanceRefusedBeforeUpstream(t *testing.T) {
	eachStore(t, func(t *testing.T, db *store.DB, clk *clock) {
		e := newEnv(t, db, clk, envOpts{grant: 5000}) // $0.005: less than 1000 output tokens at $10/M
		before := e.up.Requests()
		_, err := e.cl().Chat.Completions.New(context.Background(), chatParams("hello"))
		var apiErr *openai.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusPaymentRequired || apiErr.Code != "insufficient_balance" || apiErr.Type != "insufficient_quota" {
			t.Fatalf("err = %v, want 402 insufficient_balance", err)
		}
		if e.up.Requests() != before {
			t.Fatal("the upstream was called for a request that could not pay")
		}
		// A request small enough to fit passes.
		p := chatParams("hello")
		p.MaxTokens = openai.Int(10)
		_, err = e.cl().Chat.Completions.New(context.Background(), p)
		must(t, err)
		e.flush()
		if got := e.balance().Balance; got != 5000-expectedCost(fakeChatPrompt("hello"), 0, 10) {
			t.Fatalf("balance %s", got)
		}
		if len(e.events()) != 1 {
			t.Fatal("want exactly one event")
		}
		e.verify()
	})
}

// An upstream failure is relayed, charges nothing and leaves no hold.
func TestUpstreamFailureChargesNothing(t *testing.T) {
	eachStore(t, func(t *testing.T, db *store.DB, clk *clock) {
		grant := money.Amount(money.Scale)
		e := newEnv(t, db, clk, envOpts{grant: grant, upstream: fakeupstream.Options{FailStatus: 500}})
		_, err := e.cl().Chat.Completions.New(context.Background(), chatParams("hello"))
		var apiErr *openai.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 500 {
			t.Fatalf("err = %v, want the upstream's 500", err)
		}
		s := e.cl().Chat.Completions.NewStreaming(context.Background(), chatParams("hello"))
		for s.Next() {
		}
		if !errors.As(s.Err(), &apiErr) || apiErr.StatusCode != 500 {
			t.Fatalf("stream err = %v, want 500", s.Err())
		}
		if st := e.gw.book.state(e.ws.ID); st.Open != 0 || st.Inflight != 0 {
			t.Fatalf("book after failures: %+v", st)
		}
		e.flush()
		if b := e.balance(); b.Balance != grant || b.Held != 0 {
			t.Fatalf("balance %s held %s, want %s and 0", b.Balance, b.Held, grant)
		}
		if n := len(e.events()); n != 0 {
			t.Fatalf("%d events for failed requests", n)
		}
		e.verify()
	})
}
