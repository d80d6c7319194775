// Package fakeupstream is an OpenAI-compatible upstream stand-in for the
// gateway's tests and benchmarks. It speaks enough of OpenAI's wire format
// (JSON bodies, SSE streams, error shape) for the official openai-go client to
// parse its answers, and generates deterministic text and token counts:
//
//   - generated text is CompletionTokens words " tok1", " tok2", ..., one word
//     per token and one streamed chunk (or delta event) per token;
//   - prompt tokens are the whitespace-separated words of all message contents
//     plus 3 per message (chat, and responses where a string input or the
//     instructions count as one message each), the words of each prompt
//     (completions) or of each input (embeddings); token-id arrays count
//     their length.
//
// When a max-tokens field cuts generation short, the answer says so the way
// OpenAI does: finish_reason "length" for chat and completions, status
// "incomplete" and a terminal response.incomplete event for responses.
//
// Request fields are read as OpenAI reads them: by their exact, case-sensitive
// names ("MAX_TOKENS" is not max_tokens), the last of duplicate names winning;
// chat honours max_completion_tokens, then max_tokens, completions max_tokens
// and responses max_output_tokens. Options.IgnoreMaxTokens makes it a server
// that honours no limit at all.
package fakeupstream

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Server is an OpenAI-compatible upstream stand-in.
type Server struct {
	// URL is the base URL including "/v1", e.g. http://127.0.0.1:1234/v1.
	URL string

	opts       Options
	ts         *httptest.Server
	handler    http.Handler
	requests   atomic.Int64
	cancelled  atomic.Int64
	failStatus atomic.Int64
	ids        atomic.Int64

	mu       sync.Mutex
	lastBody []byte
}

// Options configures a Server. The zero value is usable.
type Options struct {
	// APIKey, when non-empty, makes requests without
	// "Authorization: Bearer <APIKey>" fail with 401 in OpenAI error shape.
	APIKey string
	// Models are the model ids served by GET /v1/models.
	Models []string
	// CompletionTokens is the number of tokens generated per request when
	// the request's max tokens allow; zero means 20. Each token is one word
	// " tokN" and one streamed chunk.
	CompletionTokens int
	// ChunkDelay is the delay between streamed chunks (default 0).
	ChunkDelay time.Duration
	// OmitUsage drops usage everywhere: from bodies and from streams, where
	// stream_options.include_usage is then ignored.
	OmitUsage bool
	// FailStatus, when non-zero, makes every POST answer this status with an
	// OpenAI error body. See also Server.SetFailStatus.
	FailStatus int
	// IgnoreMaxTokens makes the server ignore every max-tokens field: it always
	// generates CompletionTokens tokens.
	IgnoreMaxTokens bool
}

// New starts an httptest server speaking the OpenAI API. Close it when done.
func New(opts Options) *Server {
	if opts.CompletionTokens <= 0 {
		opts.CompletionTokens = 20
	}
	s := &Server{opts: opts}
	s.failStatus.Store(int64(opts.FailStatus))
	s.handler = http.HandlerFunc(s.serveHTTP)
	s.ts = httptest.NewServer(s.handler)
	s.URL = s.ts.URL + "/v1"
	return s
}

// Close shuts the server down, waiting for in-flight requests.
func (s *Server) Close() { s.ts.Close() }

// Requests returns the number of POST requests received so far, including
// rejected ones.
func (s *Server) Requests() int64 { return s.requests.Load() }

// LastRequestBody returns a copy of the raw body of the last POST.
func (s *Server) LastRequestBody() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.lastBody)
}

// Handler returns the server's handler, for benchmarks that run their own
// server. Its paths start with "/v1".
func (s *Server) Handler() http.Handler { return s.handler }

// SetFailStatus makes every later POST fail with code; 0 turns failures off.
func (s *Server) SetFailStatus(code int) { s.failStatus.Store(int64(code)) }

// Cancelled returns the number of streaming requests whose client went away
// before the stream ended.
func (s *Server) Cancelled() int64 { return s.cancelled.Load() }

// obj is a JSON object under construction.
type obj = map[string]any

// request holds the fields of all supported POST bodies.
type request struct {
	Model          string `json:"model"`
	Messages       []any  `json:"messages"`     // chat
	Prompt         any    `json:"prompt"`       // completions
	Input          any    `json:"input"`        // embeddings, responses
	Instructions   string `json:"instructions"` // responses
	EncodingFormat string `json:"encoding_format"`
	Stream         bool   `json:"stream"`
	StreamOptions  struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	MaxTokens           *int `json:"max_tokens"`
	MaxCompletionTokens *int `json:"max_completion_tokens"`
	MaxOutputTokens     *int `json:"max_output_tokens"`
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	var body []byte
	if r.Method == http.MethodPost {
		s.requests.Add(1)
		var err error
		if body, err = io.ReadAll(r.Body); err != nil {
			writeError(w, http.StatusBadRequest, "invalid_request_error", "invalid_body", "reading request body: "+err.Error())
			return
		}
		s.mu.Lock()
		s.lastBody = body
		s.mu.Unlock()
	}
	if s.opts.APIKey != "" && r.Header.Get("Authorization") != "Bearer "+s.opts.APIKey {
		writeError(w, http.StatusUnauthorized, "invalid_request_error", "invalid_api_key", "Incorrect API key provided.")
		return
	}
	if code := int(s.failStatus.Load()); code != 0 && r.Method == http.MethodPost {
		typ, errCode := failure(code)
		writeError(w, code, typ, errCode, "fakeupstream: injected failure")
		return
	}

	w.Header().Set("X-Request-Id", fmt.Sprintf("req_fake%d", s.ids.Add(1)))
	switch r.Method + " " + r.URL.Path {
	case "POST /v1/chat/completions":
		post(w, r, body, s.chat)
	case "POST /v1/completions":
		post(w, r, body, s.completions)
	case "POST /v1/embeddings":
		post(w, r, body, s.embeddings)
	case "POST /v1/responses":
		post(w, r, body, s.responses)
	case "GET /v1/models":
		data := []obj{}
		for _, m := range s.opts.Models {
			data = append(data, model(m))
		}
		writeJSON(w, obj{"object": "list", "data": data})
	default:
		if id, ok := strings.CutPrefix(r.URL.Path, "/v1/models/"); ok && r.Method == http.MethodGet {
			if slices.Contains(s.opts.Models, id) {
				writeJSON(w, model(id))
			} else {
				writeError(w, http.StatusNotFound, "invalid_request_error", "model_not_found", fmt.Sprintf("The model '%s' does not exist", id))
			}
			return
		}
		writeError(w, http.StatusNotFound, "invalid_request_error", "unknown_url", fmt.Sprintf("Invalid URL (%s %s)", r.Method, r.URL.Path))
	}
}

// requestFields are the body fields the server reads, by their exact names.
var requestFields = []string{"model", "messages", "prompt", "input", "instructions", "encoding_format",
	"stream", "stream_options", "max_tokens", "max_completion_tokens", "max_output_tokens"}

// post decodes a POST body, reading only the exact names of requestFields, and
// hands it to endpoint.
func post(w http.ResponseWriter, r *http.Request, body []byte, endpoint func(http.ResponseWriter, *http.Request, *request)) {
	var req request
	var top map[string]json.RawMessage
	err := json.Unmarshal(body, &top)
	if err == nil {
		exact := map[string]json.RawMessage{}
		for _, f := range requestFields {
			if v, ok := top[f]; ok {
				exact[f] = v
			}
		}
		b, _ := json.Marshal(exact)
		err = json.Unmarshal(b, &req)
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "invalid_json", "We could not parse the JSON body of your request: "+err.Error())
		return
	}
	if req.Model == "" {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "missing_required_parameter", "you must provide a model parameter")
		return
	}
	endpoint(w, r, &req)
}

// failure picks the OpenAI error type and code for an injected status.
func failure(status int) (typ, code string) {
	switch {
	case status == http.StatusTooManyRequests:
		return "requests", "rate_limit_exceeded"
	case status >= 500:
		return "server_error", "server_error"
	default:
		return "invalid_request_error", "fake_failure"
	}
}

func model(id string) obj {
	return obj{"id": id, "object": "model", "created": 1700000000, "owned_by": "system"}
}

func (s *Server) chat(w http.ResponseWriter, r *http.Request, req *request) {
	prompt := 0
	for _, m := range req.Messages {
		prompt += 3 + words(m)
	}
	limit := req.MaxTokens
	if req.MaxCompletionTokens != nil {
		limit = req.MaxCompletionTokens
	}
	n, finish := s.generate(limit)
	usage := obj{
		"prompt_tokens":             prompt,
		"completion_tokens":         n,
		"total_tokens":              prompt + n,
		"prompt_tokens_details":     obj{"cached_tokens": 0},
		"completion_tokens_details": obj{"reasoning_tokens": 0},
	}
	base := obj{
		"id":                 fmt.Sprintf("chatcmpl-fake%d", s.ids.Add(1)),
		"created":            time.Now().Unix(),
		"model":              req.Model,
		"service_tier":       "default",
		"system_fingerprint": "fp_fake",
	}
	if !req.Stream {
		body := with(base, obj{
			"object": "chat.completion",
			"choices": []obj{{
				"index":         0,
				"message":       obj{"role": "assistant", "content": text(n), "refusal": nil, "annotations": []any{}},
				"logprobs":      nil,
				"finish_reason": finish,
			}},
		})
		if !s.opts.OmitUsage {
			body["usage"] = usage
		}
		writeJSON(w, body)
		return
	}

	includeUsage := req.StreamOptions.IncludeUsage && !s.opts.OmitUsage
	chunk := func(delta obj, finish any) obj {
		c := with(base, obj{
			"object":  "chat.completion.chunk",
			"choices": []obj{{"index": 0, "delta": delta, "logprobs": nil, "finish_reason": finish}},
		})
		if includeUsage {
			c["usage"] = nil
		}
		return c
	}
	st := s.startStream(w, r)
	defer s.endStream(st)
	st.send("", chunk(obj{"role": "assistant", "content": "", "refusal": nil}, nil))
	for i := 1; i <= n; i++ {
		if !st.send("", chunk(obj{"content": word(i)}, nil)) {
			return
		}
	}
	st.send("", chunk(obj{}, finish))
	if includeUsage {
		st.send("", with(base, obj{"object": "chat.completion.chunk", "choices": []obj{}, "usage": usage}))
	}
	st.done()
}

func (s *Server) completions(w http.ResponseWriter, r *http.Request, req *request) {
	prompts, ok := inputs(req.Prompt)
	if !ok {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "invalid_prompt", "prompt must be a string or an array of strings or token ids")
		return
	}
	prompt := 0
	for _, p := range prompts {
		prompt += p.tokens
	}
	n, finish := s.generate(req.MaxTokens)
	usage := obj{
		"prompt_tokens":             prompt,
		"completion_tokens":         n * len(prompts),
		"total_tokens":              prompt + n*len(prompts),
		"prompt_tokens_details":     obj{"cached_tokens": 0},
		"completion_tokens_details": obj{"reasoning_tokens": 0},
	}
	base := obj{
		"id":      fmt.Sprintf("cmpl-fake%d", s.ids.Add(1)),
		"object":  "text_completion",
		"created": time.Now().Unix(),
		"model":   req.Model,
	}
	choice := func(i int, text string, finish any) obj {
		return obj{"text": text, "index": i, "logprobs": nil, "finish_reason": finish}
	}
	if !req.Stream {
		choices := []obj{}
		for i := range prompts {
			choices = append(choices, choice(i, text(n), finish))
		}
		body := with(base, obj{"choices": choices})
		if !s.opts.OmitUsage {
			body["usage"] = usage
		}
		writeJSON(w, body)
		return
	}

	includeUsage := req.StreamOptions.IncludeUsage && !s.opts.OmitUsage
	chunk := func(c obj) obj {
		c = with(base, obj{"choices": []obj{c}})
		if includeUsage {
			c["usage"] = nil
		}
		return c
	}
	st := s.startStream(w, r)
	defer s.endStream(st)
	for t := 1; t <= n; t++ {
		for i := range prompts {
			if !st.send("", chunk(choice(i, word(t), nil))) {
				return
			}
		}
	}
	for i := range prompts {
		st.send("", chunk(choice(i, "", finish)))
	}
	if includeUsage {
		st.send("", with(base, obj{"choices": []obj{}, "usage": usage}))
	}
	st.done()
}

func (s *Server) embeddings(w http.ResponseWriter, _ *http.Request, req *request) {
	in, ok := inputs(req.Input)
	if !ok {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "invalid_input", "input must be a string or an array of strings or token ids")
		return
	}
	data := []obj{}
	prompt := 0
	for i, x := range in {
		prompt += x.tokens
		var vec any = embedding(x.text)
		if req.EncodingFormat == "base64" {
			vec = encodeBase64(vec.([]float64))
		}
		data = append(data, obj{"object": "embedding", "index": i, "embedding": vec})
	}
	body := obj{"object": "list", "data": data, "model": req.Model}
	if !s.opts.OmitUsage {
		body["usage"] = obj{"prompt_tokens": prompt, "total_tokens": prompt}
	}
	writeJSON(w, body)
}

func (s *Server) responses(w http.ResponseWriter, r *http.Request, req *request) {
	prompt := 0
	switch in := req.Input.(type) {
	case string:
		prompt = 3 + words(in)
	case []any:
		for _, item := range in {
			prompt += 3 + words(item)
		}
	}
	if req.Instructions != "" {
		prompt += 3 + words(req.Instructions)
	}
	n, finish := s.generate(req.MaxOutputTokens)
	status, incomplete := "completed", any(nil)
	if finish == "length" {
		status, incomplete = "incomplete", obj{"reason": "max_output_tokens"}
	}

	created := time.Now().Unix()
	respID := fmt.Sprintf("resp_fake%d", s.ids.Add(1))
	msgID := fmt.Sprintf("msg_fake%d", s.ids.Add(1))
	part := func(text string) obj {
		return obj{"type": "output_text", "text": text, "annotations": []any{}, "logprobs": []any{}}
	}
	message := func(status string, content ...obj) obj {
		return obj{"id": msgID, "type": "message", "role": "assistant", "status": status, "content": append([]obj{}, content...)}
	}
	var instructions any
	if req.Instructions != "" {
		instructions = req.Instructions
	}
	response := func(status string, incomplete any, output []obj, usage bool) obj {
		resp := obj{
			"id": respID, "object": "response", "created_at": created,
			"status": status, "error": nil, "incomplete_details": incomplete,
			"instructions": instructions, "max_output_tokens": req.MaxOutputTokens,
			"model": req.Model, "output": output, "parallel_tool_calls": true,
			"previous_response_id": nil, "reasoning": obj{"effort": nil, "summary": nil},
			"store": false, "temperature": 1.0, "text": obj{"format": obj{"type": "text"}},
			"tool_choice": "auto", "tools": []any{}, "top_p": 1.0, "truncation": "disabled",
			"metadata": obj{}, "usage": nil,
		}
		if s.opts.OmitUsage {
			delete(resp, "usage")
		} else if usage {
			resp["usage"] = obj{
				"input_tokens":          prompt,
				"input_tokens_details":  obj{"cached_tokens": 0},
				"output_tokens":         n,
				"output_tokens_details": obj{"reasoning_tokens": 0},
				"total_tokens":          prompt + n,
			}
		}
		return resp
	}
	final := response(status, incomplete, []obj{message("completed", part(text(n)))}, true)
	if !req.Stream {
		writeJSON(w, final)
		return
	}

	st := s.startStream(w, r)
	defer s.endStream(st)
	seq := 0
	event := func(typ string, fields obj) bool {
		seq++
		return st.send(typ, with(fields, obj{"type": typ, "sequence_number": seq - 1}))
	}
	at := obj{"item_id": msgID, "output_index": 0, "content_index": 0}
	event("response.created", obj{"response": response("in_progress", nil, []obj{}, false)})
	event("response.in_progress", obj{"response": response("in_progress", nil, []obj{}, false)})
	event("response.output_item.added", obj{"output_index": 0, "item": message("in_progress")})
	event("response.content_part.added", with(at, obj{"part": part("")}))
	for i := 1; i <= n; i++ {
		if !event("response.output_text.delta", with(at, obj{"delta": word(i), "logprobs": []any{}})) {
			return
		}
	}
	event("response.output_text.done", with(at, obj{"text": text(n), "logprobs": []any{}}))
	event("response.content_part.done", with(at, obj{"part": part(text(n))}))
	event("response.output_item.done", obj{"output_index": 0, "item": message("completed", part(text(n)))})
	event("response."+status, obj{"response": final})
}

// generate returns how many tokens to produce under limit and the resulting
// finish reason ("stop", or "length" when limit cut generation short).
func (s *Server) generate(limit *int) (int, string) {
	if limit != nil && !s.opts.IgnoreMaxTokens && *limit < s.opts.CompletionTokens {
		return max(*limit, 0), "length"
	}
	return s.opts.CompletionTokens, "stop"
}

// word is the i-th generated token, i counting from 1.
func word(i int) string { return fmt.Sprintf(" tok%d", i) }

// text is the whole generated text of n tokens.
func text(n int) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		b.WriteString(word(i))
	}
	return b.String()
}

// words counts the whitespace-separated words of a string, or of the "text"
// and "content" fields found in (arrays of) message and content-part objects.
func words(v any) int {
	switch v := v.(type) {
	case string:
		return len(strings.Fields(v))
	case []any:
		n := 0
		for _, e := range v {
			n += words(e)
		}
		return n
	case map[string]any:
		return words(v["text"]) + words(v["content"])
	}
	return 0
}

// input is one prompt or embedding input.
type input struct {
	text   string
	tokens int
}

// inputs splits a prompt or input field (a string, an array of strings, an
// array of token ids or an array of token-id arrays) into its inputs.
func inputs(v any) ([]input, bool) {
	switch v := v.(type) {
	case string:
		return []input{{v, words(v)}}, true
	case []any:
		if len(v) > 0 {
			if _, ok := v[0].(float64); ok {
				return []input{{fmt.Sprint(v), len(v)}}, true
			}
		}
		in := make([]input, 0, len(v))
		for _, e := range v {
			switch e := e.(type) {
			case string:
				in = append(in, input{e, words(e)})
			case []any:
				in = append(in, input{fmt.Sprint(e), len(e)})
			default:
				return nil, false
			}
		}
		return in, true
	}
	return nil, false
}

// embedding derives 8 small floats from text. They lie in [-0.5, 0.5) and
// are exact in float32, so the base64 encoding round-trips.
func embedding(text string) []float64 {
	h := fnv.New64a()
	h.Write([]byte(text))
	x := h.Sum64()
	vec := make([]float64, 8)
	for i := range vec {
		vec[i] = float64(int(byte(x>>(8*i)))-128) / 256
	}
	return vec
}

// encodeBase64 encodes vec as OpenAI's encoding_format "base64" does:
// little-endian float32s.
func encodeBase64(vec []float64) string {
	b := make([]byte, 0, 4*len(vec))
	for _, f := range vec {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(float32(f)))
	}
	return base64.StdEncoding.EncodeToString(b)
}

// with returns a new object holding the fields of a and then b.
func with(a, b obj) obj {
	o := make(obj, len(a)+len(b))
	for k, v := range a {
		o[k] = v
	}
	for k, v := range b {
		o[k] = v
	}
	return o
}

func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only our own maps are marshalled
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
}

// writeError answers in OpenAI's error shape.
func writeError(w http.ResponseWriter, status int, typ, code, message string) {
	b, _ := json.Marshal(obj{"error": obj{"message": message, "type": typ, "param": nil, "code": code}})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}

// stream writes server-sent events. Once the client has gone away every send
// is a no-op and broken is set.
type stream struct {
	w      http.ResponseWriter
	rc     *http.ResponseController
	ctx    context.Context
	delay  time.Duration
	sent   int
	broken bool
}

func (s *Server) startStream(w http.ResponseWriter, r *http.Request) *stream {
	w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	return &stream{w: w, rc: http.NewResponseController(w), ctx: r.Context(), delay: s.opts.ChunkDelay}
}

// endStream counts the stream as cancelled when the client left early.
func (s *Server) endStream(st *stream) {
	if st.broken {
		s.cancelled.Add(1)
	}
}

// send writes one event ("data: ..." preceded by "event: ..." when event is
// non-empty) and flushes it, waiting ChunkDelay first unless it is the first.
// It reports whether the client is still there.
func (st *stream) send(event string, v any) bool {
	if st.broken {
		return false
	}
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only our own maps are marshalled
	}
	return st.write(event, b)
}

// done ends a chat or completions stream with "data: [DONE]".
func (st *stream) done() { st.write("", []byte("[DONE]")) }

func (st *stream) write(event string, data []byte) bool {
	if st.broken {
		return false
	}
	if st.sent > 0 && st.delay > 0 {
		t := time.NewTimer(st.delay)
		select {
		case <-st.ctx.Done():
		case <-t.C:
		}
		t.Stop()
	}
	if st.ctx.Err() != nil {
		st.broken = true
		return false
	}
	var buf bytes.Buffer
	if event != "" {
		fmt.Fprintf(&buf, "event: %s\n", event)
	}
	fmt.Fprintf(&buf, "data: %s\n\n", data)
	if _, err := st.w.Write(buf.Bytes()); err != nil {
		st.broken = true
		return false
	}
	if err := st.rc.Flush(); err != nil {
		st.broken = true
		return false
	}
	st.sent++
	return true
}
