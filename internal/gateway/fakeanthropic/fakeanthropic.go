// Package fakeanthropic is a stand-in for Anthropic's Messages API, written for the
// gateway's tests: POST /v1/messages (streamed and not) and /v1/messages/count_tokens,
// with deterministic usage so that tests can compute costs by hand.
//
// Counting rules (all in words, split on spaces, of the text in the request):
//   - The prompt is the words of every system and message text block, plus 2 per message.
//   - A block with cache_control marks a cache prefix: the words of every block up to
//     and including it (and 2 per message before). The first request with that prefix
//     writes it (cache_creation_input_tokens, under ephemeral_1h_input_tokens when its
//     ttl is "1h", else ephemeral_5m_input_tokens); a later one reads it
//     (cache_read_input_tokens). input_tokens is the prompt less the prefix, as
//     Anthropic reports it.
//   - The answer is Options.Words words of text ("w1 w2 …"), at most max_tokens; each
//     word is one output token, streamed one text_delta per word.
//   - thinking {"type":"enabled"} adds a thinking block of ThinkingWords words first
//     (counted in output_tokens and output_tokens_details.thinking_tokens).
//   - A tool whose type starts with "web_search" makes WebSearches searches
//     (server_tool_use.web_search_requests), each with a server_tool_use block.
//   - A custom tool (no type, or "custom") with a user text containing "use the tool"
//     makes the answer a tool_use block with input {"city":"Paris"} (4 output tokens)
//     and stop_reason "tool_use".
package fakeanthropic

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure the server.
type Options struct {
	APIKey        string        // the x-api-key the server requires ("" accepts any)
	Words         int           // words of answer text (default 20)
	ThinkingWords int           // words of a thinking block (default 12)
	WebSearches   int           // searches a web search tool makes (default 2)
	IgnoreLimit   bool          // stream Words words whatever max_tokens says
	Delay         time.Duration // between streamed events
	NoUsage       bool          // answer without any usage
}

// Server is a running stand-in.
type Server struct {
	URL  string // base URL, ending in /v1
	opts Options
	ts   *httptest.Server

	requests  atomic.Int64
	counts    atomic.Int64
	cancelled atomic.Int64

	mu      sync.Mutex
	cached  map[[32]byte]bool
	headers http.Header
	query   string
	body    []byte
}

// New starts a server.
func New(o Options) *Server {
	if o.Words == 0 {
		o.Words = 20
	}
	if o.ThinkingWords == 0 {
		o.ThinkingWords = 12
	}
	if o.WebSearches == 0 {
		o.WebSearches = 2
	}
	s := &Server{opts: o, cached: map[[32]byte]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/messages", s.messages)
	mux.HandleFunc("POST /v1/messages/count_tokens", s.countTokens)
	s.ts = httptest.NewServer(mux)
	s.URL = s.ts.URL + "/v1"
	return s
}

// Close stops the server.
func (s *Server) Close() { s.ts.Close() }

// Requests is the number of /v1/messages requests received.
func (s *Server) Requests() int64 { return s.requests.Load() }

// Counts is the number of count_tokens requests received.
func (s *Server) Counts() int64 { return s.counts.Load() }

// Cancelled is the number of streams whose client went away before their end.
func (s *Server) Cancelled() int64 { return s.cancelled.Load() }

// LastHeaders returns the headers of the last request.
func (s *Server) LastHeaders() http.Header {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.headers.Clone()
}

// LastQuery returns the query string of the last request.
func (s *Server) LastQuery() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.query
}

// LastBody returns the body of the last request.
func (s *Server) LastBody() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.body)
}

type block struct {
	Type         string `json:"type"`
	Text         string `json:"text"`
	CacheControl *struct {
		TTL string `json:"ttl"`
	} `json:"cache_control"`
}

// blocks reads a content that is a string or an array of blocks.
func blocks(raw json.RawMessage) []block {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return []block{{Type: "text", Text: s}}
	}
	var bs []block
	json.Unmarshal(raw, &bs)
	return bs
}

type request struct {
	Model     string          `json:"model"`
	MaxTokens int             `json:"max_tokens"`
	Stream    bool            `json:"stream"`
	System    json.RawMessage `json:"system"`
	Messages  []struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	} `json:"messages"`
	Thinking *struct {
		Type string `json:"type"`
	} `json:"thinking"`
	Tools []struct {
		Type string `json:"type"`
		Name string `json:"name"`
	} `json:"tools"`
}

func words(s string) int { return len(strings.Fields(s)) }

// usage is what the server reports, in Anthropic's meaning.
type usage struct {
	Input, Write5m, Write1h, Read, Output, Thinking, Searches int
}

func (u usage) json() map[string]any {
	return map[string]any{
		"input_tokens":                u.Input,
		"cache_creation_input_tokens": u.Write5m + u.Write1h,
		"cache_read_input_tokens":     u.Read,
		"cache_creation":              map[string]int{"ephemeral_5m_input_tokens": u.Write5m, "ephemeral_1h_input_tokens": u.Write1h},
		"output_tokens":               u.Output,
		"output_tokens_details":       map[string]int{"thinking_tokens": u.Thinking},
		"server_tool_use":             map[string]int{"web_search_requests": u.Searches},
	}
}

// prompt counts the request's prompt and its cache prefix.
func (s *Server) prompt(req *request) (u usage) {
	total, prefix := 0, 0
	ttl := ""
	h := sha256.New()
	var key [32]byte
	visit := func(bs []block) {
		for _, b := range bs {
			n := words(b.Text)
			total += n
			h.Write([]byte(b.Text))
			if b.CacheControl != nil {
				prefix, ttl = total, b.CacheControl.TTL
				copy(key[:], h.Sum(nil))
			}
		}
	}
	if len(req.System) > 0 {
		visit(blocks(req.System))
	}
	for _, m := range req.Messages {
		total += 2
		h.Write([]byte(m.Role))
		visit(blocks(m.Content))
	}
	if prefix == 0 {
		u.Input = total
		return u
	}
	s.mu.Lock()
	hit := s.cached[key]
	s.cached[key] = true
	s.mu.Unlock()
	switch {
	case hit:
		u.Read = prefix
	case ttl == "1h":
		u.Write1h = prefix
	default:
		u.Write5m = prefix
	}
	u.Input = total - prefix
	return u
}

func (s *Server) check(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	var b bytes.Buffer
	b.ReadFrom(r.Body)
	s.mu.Lock()
	s.headers, s.query, s.body = r.Header.Clone(), r.URL.RawQuery, b.Bytes()
	s.mu.Unlock()
	if s.opts.APIKey != "" && r.Header.Get("X-Api-Key") != s.opts.APIKey {
		writeError(w, http.StatusUnauthorized, "authentication_error", "invalid x-api-key")
		return nil, false
	}
	if r.Header.Get("Anthropic-Version") == "" {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "anthropic-version: header is required")
		return nil, false
	}
	return b.Bytes(), true
}

func writeError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"type": "error", "error": map[string]string{"type": typ, "message": msg}})
}

func (s *Server) countTokens(w http.ResponseWriter, r *http.Request) {
	s.counts.Add(1)
	body, ok := s.check(w, r)
	if !ok {
		return
	}
	var req request
	if err := json.Unmarshal(body, &req); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request_error", err.Error())
		return
	}
	u := s.prompt(&req)
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]int{"input_tokens": u.Input + u.Write5m + u.Write1h + u.Read})
}

// answer is the content the server generates for req.
type answer struct {
	blocks     []map[string]any
	deltas     [][]map[string]any // per block: its deltas
	stopReason string
	usage      usage
}

func (s *Server) answer(req *request) answer {
	a := answer{usage: s.prompt(req), stopReason: "end_turn"}
	out := 0
	limit := req.MaxTokens
	if s.opts.IgnoreLimit || limit <= 0 {
		limit = 1 << 30
	}
	if req.Thinking != nil && req.Thinking.Type == "enabled" {
		var ws []string
		for i := 1; i <= s.opts.ThinkingWords; i++ {
			ws = append(ws, fmt.Sprintf("t%d", i))
		}
		var ds []map[string]any
		for _, w := range ws {
			ds = append(ds, map[string]any{"type": "thinking_delta", "thinking": w + " "})
		}
		ds = append(ds, map[string]any{"type": "signature_delta", "signature": "sig"})
		a.blocks = append(a.blocks, map[string]any{"type": "thinking", "thinking": strings.Join(ws, " ") + " ", "signature": "sig"})
		a.deltas = append(a.deltas, ds)
		out += len(ws)
		a.usage.Thinking = len(ws)
	}
	search, custom := false, false
	for _, t := range req.Tools {
		switch {
		case strings.HasPrefix(t.Type, "web_search"):
			search = true
		case t.Type == "" || t.Type == "custom":
			custom = true
		}
	}
	if search {
		for i := 0; i < s.opts.WebSearches; i++ {
			id := fmt.Sprintf("srvtoolu_%d", i)
			a.blocks = append(a.blocks, map[string]any{"type": "server_tool_use", "id": id, "name": "web_search", "input": map[string]any{"query": "q"}})
			a.deltas = append(a.deltas, nil)
			a.blocks = append(a.blocks, map[string]any{"type": "web_search_tool_result", "tool_use_id": id, "content": []any{}})
			a.deltas = append(a.deltas, nil)
		}
		a.usage.Searches = s.opts.WebSearches
	}
	if custom && strings.Contains(string(mustJSON(req.Messages)), "use the tool") {
		a.blocks = append(a.blocks, map[string]any{"type": "tool_use", "id": "toolu_1", "name": "weather", "input": map[string]any{"city": "Paris"}})
		a.deltas = append(a.deltas, []map[string]any{{"type": "input_json_delta", "partial_json": `{"city":`}, {"type": "input_json_delta", "partial_json": ` "Paris"}`}})
		a.usage.Output = out + 4
		a.stopReason = "tool_use"
		return a
	}
	var ws []string
	for i := 1; i <= s.opts.Words && out < limit; i++ {
		ws = append(ws, fmt.Sprintf("w%d", i))
		out++
	}
	if out >= limit && len(ws) < s.opts.Words {
		a.stopReason = "max_tokens"
	}
	var ds []map[string]any
	for i, w := range ws {
		if i > 0 {
			w = " " + w
		}
		ds = append(ds, map[string]any{"type": "text_delta", "text": w})
	}
	a.blocks = append(a.blocks, map[string]any{"type": "text", "text": strings.Join(ws, " ")})
	a.deltas = append(a.deltas, ds)
	a.usage.Output = out
	return a
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

func (s *Server) messages(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	body, ok := s.check(w, r)
	if !ok {
		return
	}
	var req request
	if err := json.Unmarshal(body, &req); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request_error", err.Error())
		return
	}
	if req.MaxTokens < 1 {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "max_tokens: Field required")
		return
	}
	a := s.answer(&req)
	id := fmt.Sprintf("msg_%d", s.requests.Load())
	if !req.Stream {
		msg := map[string]any{"id": id, "type": "message", "role": "assistant", "model": req.Model, "content": a.blocks,
			"stop_reason": a.stopReason, "stop_sequence": nil}
		if !s.opts.NoUsage {
			msg["usage"] = a.usage.json()
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Request-Id", "req_up_"+id)
		json.NewEncoder(w).Encode(msg)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("Request-Id", "req_up_"+id)
	w.WriteHeader(http.StatusOK)
	fl := w.(http.Flusher)
	send := func(name string, v any) bool {
		if s.opts.Delay > 0 {
			select {
			case <-time.After(s.opts.Delay):
			case <-r.Context().Done():
			}
		}
		if r.Context().Err() != nil {
			s.cancelled.Add(1)
			return false
		}
		fmt.Fprintf(w, "event: %s\ndata: %s\n\n", name, mustJSON(v))
		fl.Flush()
		return true
	}
	start := a.usage
	start.Output = 1
	start.Searches = 0
	startUsage := start.json()
	delete(startUsage, "server_tool_use")
	if s.opts.NoUsage {
		startUsage = nil
	}
	if !send("message_start", map[string]any{"type": "message_start", "message": map[string]any{"id": id, "type": "message", "role": "assistant",
		"model": req.Model, "content": []any{}, "stop_reason": nil, "stop_sequence": nil, "usage": startUsage}}) {
		return
	}
	if !send("ping", map[string]any{"type": "ping"}) {
		return
	}
	for i, b := range a.blocks {
		startBlock := map[string]any{}
		for k, v := range b {
			startBlock[k] = v
		}
		switch b["type"] {
		case "text":
			startBlock["text"] = ""
		case "thinking":
			startBlock["thinking"], startBlock["signature"] = "", ""
		case "tool_use":
			startBlock["input"] = map[string]any{}
		}
		if !send("content_block_start", map[string]any{"type": "content_block_start", "index": i, "content_block": startBlock}) {
			return
		}
		for _, d := range a.deltas[i] {
			if !send("content_block_delta", map[string]any{"type": "content_block_delta", "index": i, "delta": d}) {
				return
			}
		}
		if !send("content_block_stop", map[string]any{"type": "content_block_stop", "index": i}) {
			return
		}
	}
	delta := map[string]any{"type": "message_delta", "delta": map[string]any{"stop_reason": a.stopReason, "stop_sequence": nil}}
	if !s.opts.NoUsage {
		du := a.usage.json() // cumulative totals, as Anthropic sends them, without the split
		delete(du, "cache_creation")
		delta["usage"] = du
	}
	if !send("message_delta", delta) {
		return
	}
	send("message_stop", map[string]any{"type": "message_stop"})
}
