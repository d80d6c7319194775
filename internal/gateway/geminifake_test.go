package gateway

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// geminiFake is a stand-in for Google's Gemini API (v1beta generateContent,
// streamGenerateContent with and without alt=sse, countTokens), written for these tests.
// It answers deterministically:
//
//   - prompt tokens: the whitespace-separated words of every "text" in contents and
//     systemInstruction, plus geminiFakeOverhead; a request naming a cachedContent adds
//     geminiFakeCached tokens, all of them reported as cachedContentTokenCount;
//   - a request with tools holding functionDeclarations is answered with one
//     functionCall of the first declared function (args {"city":"Paris"}), counted as
//     geminiFakeCallTokens candidate tokens; a codeExecution tool adds
//     geminiFakeToolPrompt tokens of toolUsePromptTokenCount;
//   - a thinkingConfig with includeThoughts or a positive thinkingBudget makes
//     geminiFakeThoughts thought tokens (and, with includeThoughts, one thought part);
//   - otherwise the text is `words` words " w1", " w2", …, one token each and, streamed,
//     one chunk each, cut at generationConfig.maxOutputTokens (or generation_config.
//     max_output_tokens; finishReason MAX_TOKENS) unless ignoreMax.
//
// Streams carry usageMetadata in every chunk, as Google's do: the prompt each time, the
// candidates cumulatively, the thoughts in the last.
type geminiFake struct {
	srv       *httptest.Server
	key       string
	words     int
	ignoreMax atomic.Bool  // honour no maxOutputTokens
	delay     atomic.Int64 // between streamed chunks, in nanoseconds
	fail      atomic.Int64 // when set, every request is answered this status in Google's error shape

	requests  atomic.Int64
	cancelled atomic.Int64

	mu         sync.Mutex
	lastURL    *url.URL
	lastBody   []byte
	lastHeader http.Header
}

const (
	geminiFakeOverhead   = 4
	geminiFakeCached     = 1000
	geminiFakeCallTokens = 9
	geminiFakeToolPrompt = 11
	geminiFakeThoughts   = 7
)

func newGeminiFake(key string, words int) *geminiFake {
	f := &geminiFake{key: key, words: words}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	return f
}

// URL is the base URL to register: the server's /v1beta.
func (f *geminiFake) URL() string { return f.srv.URL + "/v1beta" }

func (f *geminiFake) Close() { f.srv.Close() }

func (f *geminiFake) last() (*url.URL, []byte, http.Header) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lastURL, f.lastBody, f.lastHeader
}

type geminiFakeReq struct {
	Contents          []geminiFakeContent `json:"contents"`
	SystemInstruction *geminiFakeContent  `json:"systemInstruction"`
	CachedContent     string              `json:"cachedContent"`
	Tools             []struct {
		FunctionDeclarations []struct {
			Name string `json:"name"`
		} `json:"functionDeclarations"`
		CodeExecution json.RawMessage `json:"codeExecution"`
	} `json:"tools"`
	GenerationConfig struct {
		MaxOutputTokens *int `json:"maxOutputTokens"`
		ThinkingConfig  *struct {
			IncludeThoughts bool `json:"includeThoughts"`
			ThinkingBudget  int  `json:"thinkingBudget"`
		} `json:"thinkingConfig"`
	} `json:"generationConfig"`
	GenerationConfigSnake struct { // Google reads the proto (snake_case) names too
		MaxOutputTokens *int `json:"max_output_tokens"`
	} `json:"generation_config"`
}

type geminiFakeContent struct {
	Parts []struct {
		Text string `json:"text"`
	} `json:"parts"`
}

func (f *geminiFake) serve(w http.ResponseWriter, r *http.Request) {
	f.requests.Add(1)
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.lastURL, f.lastBody, f.lastHeader = r.URL, body, r.Header.Clone()
	f.mu.Unlock()
	fail := func(code int, status, msg string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		fmt.Fprintf(w, `{"error":{"code":%d,"message":%q,"status":%q}}`, code, msg, status)
	}
	if code := int(f.fail.Load()); code != 0 {
		w.Header().Set("Retry-After", "7")
		fail(code, "RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota).")
		return
	}
	if r.Header.Get("X-Goog-Api-Key") != f.key || r.URL.Query().Has("key") {
		fail(401, "UNAUTHENTICATED", "API key not valid.")
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/v1beta/models/")
	if r.Method != http.MethodPost || !ok {
		fail(404, "NOT_FOUND", "not found")
		return
	}
	var req geminiFakeReq
	if err := json.Unmarshal(body, &req); err != nil {
		fail(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
		return
	}
	model, method, _ := strings.Cut(rest, ":")
	prompt := geminiFakeOverhead
	for _, c := range append(req.Contents, derefContent(req.SystemInstruction)...) {
		for _, p := range c.Parts {
			prompt += len(strings.Fields(p.Text))
		}
	}
	u := map[string]any{}
	cached := 0
	if req.CachedContent != "" {
		cached = geminiFakeCached
		prompt += cached
		u["cachedContentTokenCount"] = cached
	}
	u["promptTokenCount"] = prompt
	switch method {
	case "countTokens":
		writeFakeJSON(w, map[string]any{"totalTokens": prompt, "cachedContentTokenCount": cached})
		return
	case "generateContent", "streamGenerateContent":
	default:
		fail(404, "NOT_FOUND", "unknown method "+method)
		return
	}
	toolPrompt, thoughts := 0, 0
	var call string
	for _, t := range req.Tools {
		if len(t.FunctionDeclarations) > 0 && call == "" {
			call = t.FunctionDeclarations[0].Name
		}
		if len(t.CodeExecution) > 0 {
			toolPrompt = geminiFakeToolPrompt
		}
	}
	if toolPrompt > 0 {
		u["toolUsePromptTokenCount"] = toolPrompt
	}
	showThoughts := false
	if tc := req.GenerationConfig.ThinkingConfig; tc != nil && (tc.IncludeThoughts || tc.ThinkingBudget > 0) {
		thoughts, showThoughts = geminiFakeThoughts, tc.IncludeThoughts
	}
	if req.GenerationConfig.MaxOutputTokens == nil {
		req.GenerationConfig.MaxOutputTokens = req.GenerationConfigSnake.MaxOutputTokens
	}
	n, finish := f.words, "STOP"
	if call != "" {
		n = geminiFakeCallTokens
	} else if m := req.GenerationConfig.MaxOutputTokens; m != nil && *m < n && !f.ignoreMax.Load() {
		n, finish = *m, "MAX_TOKENS"
	}
	usage := func(candidates int, final bool) map[string]any {
		out := map[string]any{}
		for k, v := range u {
			out[k] = v
		}
		out["candidatesTokenCount"] = candidates
		total := prompt + candidates + toolPrompt
		if final && thoughts > 0 {
			out["thoughtsTokenCount"] = thoughts
			total += thoughts
		}
		out["totalTokenCount"] = total
		out["promptTokensDetails"] = []map[string]any{{"modality": "TEXT", "tokenCount": prompt}}
		return out
	}
	candidate := func(parts []map[string]any, finish string) map[string]any {
		c := map[string]any{"content": map[string]any{"role": "model", "parts": parts}, "index": 0}
		if finish != "" {
			c["finishReason"] = finish
		}
		return c
	}
	response := func(parts []map[string]any, finish string, usage map[string]any) map[string]any {
		return map[string]any{"candidates": []any{candidate(parts, finish)}, "usageMetadata": usage,
			"modelVersion": model, "responseId": "fake-resp"}
	}
	var thoughtPart []map[string]any
	if showThoughts {
		thoughtPart = []map[string]any{{"text": "Let me think.", "thought": true}}
	}
	if method == "generateContent" {
		parts := thoughtPart
		if call != "" {
			parts = append(parts, map[string]any{"functionCall": map[string]any{"name": call, "args": map[string]any{"city": "Paris"}}})
		} else {
			var b strings.Builder
			for i := 1; i <= n; i++ {
				fmt.Fprintf(&b, " w%d", i)
			}
			parts = append(parts, map[string]any{"text": b.String()})
		}
		writeFakeJSON(w, response(parts, finish, usage(n, true)))
		return
	}

	sse := r.URL.Query().Get("alt") == "sse"
	if sse {
		w.Header().Set("Content-Type", "text/event-stream")
	} else {
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	}
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	first := true
	send := func(v any) bool {
		b, _ := json.Marshal(v)
		var err error
		switch {
		case sse:
			_, err = fmt.Fprintf(w, "data: %s\r\n\r\n", b)
		case first:
			_, err = fmt.Fprintf(w, "[%s", b)
		default:
			_, err = fmt.Fprintf(w, "\n,\r\n%s", b)
		}
		first = false
		if flusher != nil {
			flusher.Flush()
		}
		if err != nil || r.Context().Err() != nil {
			f.cancelled.Add(1)
			return false
		}
		if d := time.Duration(f.delay.Load()); d > 0 {
			select {
			case <-time.After(d):
			case <-r.Context().Done():
				f.cancelled.Add(1)
				return false
			}
		}
		return true
	}
	if len(thoughtPart) > 0 && !send(response(thoughtPart, "", usage(0, false))) {
		return
	}
	if call != "" {
		send(response([]map[string]any{{"functionCall": map[string]any{"name": call, "args": map[string]any{"city": "Paris"}}}}, finish, usage(n, true)))
	} else {
		for i := 1; i <= n; i++ {
			fin := ""
			if i == n {
				fin = finish
			}
			if !send(response([]map[string]any{{"text": fmt.Sprintf(" w%d", i)}}, fin, usage(i, i == n))) {
				return
			}
		}
	}
	if !sse {
		io.WriteString(w, "\n]")
	}
}

func derefContent(c *geminiFakeContent) []geminiFakeContent {
	if c == nil {
		return nil
	}
	return []geminiFakeContent{*c}
}

func writeFakeJSON(w http.ResponseWriter, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.Write(b)
}
