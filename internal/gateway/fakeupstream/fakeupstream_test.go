package fakeupstream

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"
)

const testKey = "sk-fake"

func newClient(baseURL, key string) openai.Client {
	return openai.NewClient(option.WithBaseURL(baseURL), option.WithAPIKey(key), option.WithMaxRetries(0))
}

func start(t *testing.T, opts Options) (*Server, openai.Client) {
	t.Helper()
	if opts.APIKey == "" {
		opts.APIKey = testKey
	}
	s := New(opts)
	t.Cleanup(s.Close)
	return s, newClient(s.URL, testKey)
}

// chatParams has 2 messages of 3 words each: 12 prompt tokens.
func chatParams() openai.ChatCompletionNewParams {
	return openai.ChatCompletionNewParams{
		Model: "gpt-test",
		Messages: []openai.ChatCompletionMessageParamUnion{
			openai.SystemMessage("be very brief"),
			openai.UserMessage([]openai.ChatCompletionContentPartUnionParam{
				openai.TextContentPart("hello"), openai.TextContentPart("there  world"),
			}),
		},
	}
}

func checkUsage(t *testing.T, got openai.CompletionUsage, prompt, completion int64) {
	t.Helper()
	if got.PromptTokens != prompt || got.CompletionTokens != completion || got.TotalTokens != prompt+completion {
		t.Errorf("usage = %d/%d/%d, want %d/%d/%d", got.PromptTokens, got.CompletionTokens, got.TotalTokens, prompt, completion, prompt+completion)
	}
	if !got.JSON.PromptTokensDetails.Valid() || !got.CompletionTokensDetails.JSON.ReasoningTokens.Valid() {
		t.Errorf("usage details missing: %s", got.RawJSON())
	}
}

func TestChat(t *testing.T) {
	s, c := start(t, Options{CompletionTokens: 5})
	ctx := context.Background()

	res, err := c.Chat.Completions.New(ctx, chatParams())
	if err != nil {
		t.Fatal(err)
	}
	checkUsage(t, res.Usage, 12, 5)
	if got := res.Choices[0].Message.Content; got != " tok1 tok2 tok3 tok4 tok5" {
		t.Errorf("content = %q", got)
	}
	if res.Model != "gpt-test" || res.Choices[0].FinishReason != "stop" || res.Object != "chat.completion" {
		t.Errorf("model %q, finish %q, object %q", res.Model, res.Choices[0].FinishReason, res.Object)
	}
	if s.Requests() != 1 || !json.Valid(s.LastRequestBody()) {
		t.Errorf("Requests() = %d, LastRequestBody() = %q", s.Requests(), s.LastRequestBody())
	}

	p := chatParams()
	p.MaxCompletionTokens = openai.Int(3)
	res, err = c.Chat.Completions.New(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	checkUsage(t, res.Usage, 12, 3)
	if res.Choices[0].FinishReason != "length" {
		t.Errorf("finish = %q, want length", res.Choices[0].FinishReason)
	}
}

func TestChatStream(t *testing.T) {
	_, c := start(t, Options{CompletionTokens: 4})
	p := chatParams()
	p.StreamOptions.IncludeUsage = openai.Bool(true)
	stream := c.Chat.Completions.NewStreaming(context.Background(), p)
	var acc openai.ChatCompletionAccumulator
	chunks, usageChunks := 0, 0
	var usage openai.CompletionUsage
	for stream.Next() {
		chunk := stream.Current()
		if !acc.AddChunk(chunk) {
			t.Fatalf("accumulator rejected chunk %s", chunk.RawJSON())
		}
		chunks++
		if chunk.JSON.Usage.Valid() && chunk.Usage.TotalTokens > 0 {
			usageChunks++
			usage = chunk.Usage
			if len(chunk.Choices) != 0 {
				t.Errorf("usage chunk has choices: %s", chunk.RawJSON())
			}
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	// role + 4 tokens + finish + usage
	if chunks != 7 || usageChunks != 1 {
		t.Errorf("chunks = %d, usage chunks = %d", chunks, usageChunks)
	}
	if got := acc.Choices[0].Message.Content; got != " tok1 tok2 tok3 tok4" {
		t.Errorf("content = %q", got)
	}
	if acc.Choices[0].FinishReason != "stop" {
		t.Errorf("finish = %q", acc.Choices[0].FinishReason)
	}
	checkUsage(t, usage, 12, 4)
	// The accumulator sums usage over chunks and keeps no JSON metadata.
	if acc.Usage.TotalTokens != 16 {
		t.Errorf("accumulated usage = %+v", acc.Usage)
	}
}

func TestOmitUsage(t *testing.T) {
	_, c := start(t, Options{CompletionTokens: 2, OmitUsage: true})
	ctx := context.Background()
	res, err := c.Chat.Completions.New(ctx, chatParams())
	if err != nil {
		t.Fatal(err)
	}
	if res.JSON.Usage.Valid() {
		t.Errorf("usage present: %s", res.RawJSON())
	}
	p := chatParams()
	p.StreamOptions.IncludeUsage = openai.Bool(true)
	stream := c.Chat.Completions.NewStreaming(ctx, p)
	for stream.Next() {
		if stream.Current().JSON.Usage.Valid() {
			t.Errorf("usage in chunk: %s", stream.Current().RawJSON())
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
}

func TestCompletions(t *testing.T) {
	_, c := start(t, Options{CompletionTokens: 3})
	ctx := context.Background()
	res, err := c.Completions.New(ctx, openai.CompletionNewParams{
		Model:  "gpt-3.5-turbo-instruct",
		Prompt: openai.CompletionNewParamsPromptUnion{OfArrayOfStrings: []string{"one two", "three"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Choices) != 2 || res.Choices[1].Text != " tok1 tok2 tok3" || res.Choices[1].Index != 1 {
		t.Errorf("choices = %s", res.RawJSON())
	}
	checkUsage(t, res.Usage, 3, 6)

	stream := c.Completions.NewStreaming(ctx, openai.CompletionNewParams{
		Model:         "gpt-3.5-turbo-instruct",
		Prompt:        openai.CompletionNewParamsPromptUnion{OfString: openai.String("say something")},
		MaxTokens:     openai.Int(2),
		StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
	})
	var text, finish string
	var usage openai.CompletionUsage
	for stream.Next() {
		chunk := stream.Current()
		for _, ch := range chunk.Choices {
			text += ch.Text
			if ch.FinishReason != "" {
				finish = string(ch.FinishReason)
			}
		}
		if chunk.Usage.TotalTokens > 0 {
			usage = chunk.Usage
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if text != " tok1 tok2" || finish != "length" {
		t.Errorf("text = %q, finish = %q", text, finish)
	}
	checkUsage(t, usage, 2, 2)
}

func TestEmbeddings(t *testing.T) {
	_, c := start(t, Options{})
	ctx := context.Background()
	params := openai.EmbeddingNewParams{
		Model: "text-embedding-3-small",
		Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"a b c", "d", "a b c"}},
	}
	res, err := c.Embeddings.New(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Data) != 3 || res.Usage.PromptTokens != 7 || res.Usage.TotalTokens != 7 {
		t.Fatalf("response = %s", res.RawJSON())
	}
	for i, e := range res.Data {
		if len(e.Embedding) != 8 || e.Index != int64(i) {
			t.Errorf("embedding %d = %v (index %d)", i, e.Embedding, e.Index)
		}
	}
	if !slices.Equal(res.Data[0].Embedding, res.Data[2].Embedding) || slices.Equal(res.Data[0].Embedding, res.Data[1].Embedding) {
		t.Errorf("embeddings not deterministic per input: %v", res.Data)
	}

	params.EncodingFormat = openai.EmbeddingNewParamsEncodingFormatBase64
	b64, err := c.Embeddings.New(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(b64.Data[0].Embedding, res.Data[0].Embedding) {
		t.Errorf("base64 embedding %v, float embedding %v", b64.Data[0].Embedding, res.Data[0].Embedding)
	}
}

func checkResponseUsage(t *testing.T, got responses.ResponseUsage, input, output int64) {
	t.Helper()
	if got.InputTokens != input || got.OutputTokens != output || got.TotalTokens != input+output {
		t.Errorf("usage = %s, want %d in, %d out", got.RawJSON(), input, output)
	}
	if !got.InputTokensDetails.JSON.CachedTokens.Valid() || !got.OutputTokensDetails.JSON.ReasoningTokens.Valid() {
		t.Errorf("usage details missing: %s", got.RawJSON())
	}
}

func TestResponses(t *testing.T) {
	_, c := start(t, Options{CompletionTokens: 4})
	ctx := context.Background()
	res, err := c.Responses.New(ctx, responses.ResponseNewParams{
		Model: "gpt-test",
		Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("tell me a joke")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := res.OutputText(); got != " tok1 tok2 tok3 tok4" {
		t.Errorf("OutputText() = %q", got)
	}
	if res.Status != "completed" || res.Model != "gpt-test" {
		t.Errorf("status %q, model %q", res.Status, res.Model)
	}
	checkResponseUsage(t, res.Usage, 7, 4)

	// Input items: 2 messages of 2 and 1 words, plus instructions of 2 words.
	res, err = c.Responses.New(ctx, responses.ResponseNewParams{
		Model:        "gpt-test",
		Instructions: openai.String("be nice"),
		Input: responses.ResponseNewParamsInputUnion{OfInputItemList: responses.ResponseInputParam{
			responses.ResponseInputItemParamOfMessage("hi there", responses.EasyInputMessageRoleUser),
			responses.ResponseInputItemParamOfMessage(responses.ResponseInputMessageContentListParam{
				responses.ResponseInputContentParamOfInputText("again"),
			}, responses.EasyInputMessageRoleUser),
		}},
		MaxOutputTokens: openai.Int(2),
	})
	if err != nil {
		t.Fatal(err)
	}
	checkResponseUsage(t, res.Usage, 14, 2)
	if res.Status != "incomplete" || res.IncompleteDetails.Reason != "max_output_tokens" {
		t.Errorf("status %q, incomplete details %s", res.Status, res.IncompleteDetails.RawJSON())
	}
}

func TestResponsesStream(t *testing.T) {
	_, c := start(t, Options{CompletionTokens: 3})
	stream := c.Responses.NewStreaming(context.Background(), responses.ResponseNewParams{
		Model: "gpt-test",
		Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("one two")},
	})
	var types []string
	var text string
	var completed responses.ResponseCompletedEvent
	for stream.Next() {
		ev := stream.Current()
		if ev.SequenceNumber != int64(len(types)) {
			t.Errorf("event %s has sequence number %d", ev.Type, ev.SequenceNumber)
		}
		types = append(types, ev.Type)
		switch ev := ev.AsAny().(type) {
		case responses.ResponseTextDeltaEvent:
			text += ev.Delta
		case responses.ResponseCompletedEvent:
			completed = ev
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if types[0] != "response.created" || types[len(types)-1] != "response.completed" {
		t.Errorf("event types = %v", types)
	}
	if n := len(slices.DeleteFunc(types, func(s string) bool { return s != "response.output_text.delta" })); n != 3 {
		t.Errorf("%d delta events, want 3", n)
	}
	if text != " tok1 tok2 tok3" || completed.Response.OutputText() != text {
		t.Errorf("deltas %q, completed text %q", text, completed.Response.OutputText())
	}
	checkResponseUsage(t, completed.Response.Usage, 5, 3)
}

func TestModels(t *testing.T) {
	_, c := start(t, Options{Models: []string{"gpt-a", "gpt-b"}})
	page, err := c.Models.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range page.Data {
		ids = append(ids, m.ID)
	}
	if !slices.Equal(ids, []string{"gpt-a", "gpt-b"}) {
		t.Errorf("models = %v", ids)
	}
	m, err := c.Models.Get(context.Background(), "gpt-b")
	if err != nil || m.ID != "gpt-b" {
		t.Errorf("Get = %v, %v", m, err)
	}
}

func TestFailStatus(t *testing.T) {
	s, c := start(t, Options{FailStatus: http.StatusServiceUnavailable})
	_, err := c.Chat.Completions.New(context.Background(), chatParams())
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusServiceUnavailable || apiErr.Type != "server_error" {
		t.Fatalf("err = %v", err)
	}

	s.SetFailStatus(http.StatusTooManyRequests)
	stream := c.Chat.Completions.NewStreaming(context.Background(), chatParams())
	for stream.Next() {
	}
	if !errors.As(stream.Err(), &apiErr) || apiErr.StatusCode != http.StatusTooManyRequests || apiErr.Code != "rate_limit_exceeded" {
		t.Fatalf("stream err = %v", stream.Err())
	}

	s.SetFailStatus(0)
	if _, err := c.Chat.Completions.New(context.Background(), chatParams()); err != nil {
		t.Fatal(err)
	}
	if s.Requests() != 3 {
		t.Errorf("Requests() = %d, want 3", s.Requests())
	}
}

func TestUnauthorized(t *testing.T) {
	s, _ := start(t, Options{})
	c := newClient(s.URL, "sk-wrong")
	_, err := c.Chat.Completions.New(context.Background(), chatParams())
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusUnauthorized || apiErr.Code != "invalid_api_key" {
		t.Fatalf("err = %v", err)
	}
	if _, err := c.Models.List(context.Background()); !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusUnauthorized {
		t.Fatalf("models err = %v", err)
	}
}

func TestUnknownPath(t *testing.T) {
	s, _ := start(t, Options{})
	req, _ := http.NewRequest(http.MethodGet, s.URL+"/nope", nil)
	req.Header.Set("Authorization", "Bearer "+testKey)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body struct {
		Error struct{ Message, Type, Code string }
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusNotFound || body.Error.Type != "invalid_request_error" || body.Error.Code == "" || body.Error.Message == "" {
		t.Errorf("status %d, body %+v", res.StatusCode, body)
	}
}

func TestCancelMidStream(t *testing.T) {
	s, c := start(t, Options{CompletionTokens: 100000, ChunkDelay: 5 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream := c.Chat.Completions.NewStreaming(ctx, chatParams())
	for i := 0; i < 3 && stream.Next(); i++ {
	}
	cancel()
	stream.Close()
	for deadline := time.Now().Add(10 * time.Second); s.Cancelled() == 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if s.Cancelled() != 1 {
		t.Fatalf("Cancelled() = %d, want 1", s.Cancelled())
	}
}

// TestThroughProxy streams through a byte-forwarding reverse proxy serving
// Handler() from its own server.
func TestThroughProxy(t *testing.T) {
	s := New(Options{CompletionTokens: 3})
	defer s.Close()
	upstream := httptest.NewServer(s.Handler())
	defer upstream.Close()
	target, _ := url.Parse(upstream.URL)
	proxy := httptest.NewServer(&httputil.ReverseProxy{
		Rewrite:       func(r *httputil.ProxyRequest) { r.SetURL(target) },
		FlushInterval: -1,
	})
	defer proxy.Close()

	c := newClient(proxy.URL+"/v1", "any")
	p := chatParams()
	p.StreamOptions.IncludeUsage = openai.Bool(true)
	stream := c.Chat.Completions.NewStreaming(context.Background(), p)
	var acc openai.ChatCompletionAccumulator
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if acc.Choices[0].Message.Content != " tok1 tok2 tok3" || acc.Usage.CompletionTokens != 3 {
		t.Errorf("content %q, usage %s", acc.Choices[0].Message.Content, acc.Usage.RawJSON())
	}
}
