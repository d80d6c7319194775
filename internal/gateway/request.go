package gateway

import (
	"bytes"
	"encoding/json"

	"spectra/internal/money"
	"spectra/internal/pricing"
)

// endpoint is one of the gateway's forwarding routes.
type endpoint struct {
	path         string // after /v1, e.g. "/chat/completions"
	usageInChunk bool   // streams carry usage in a final chunk asked for with stream_options.include_usage
	generates    bool   // produces output tokens (not embeddings)
}

var (
	epChat        = endpoint{path: "/chat/completions", usageInChunk: true, generates: true}
	epCompletions = endpoint{path: "/completions", usageInChunk: true, generates: true}
	epEmbeddings  = endpoint{path: "/embeddings"}
	epResponses   = endpoint{path: "/responses", generates: true}
)

// request is what metering needs from a client's body; the body itself is forwarded as
// it is (apart from stream_options.include_usage).
type request struct {
	Model               string           `json:"model"`
	Stream              bool             `json:"stream"`
	StreamOptions       *json.RawMessage `json:"stream_options"`
	MaxTokens           *int64           `json:"max_tokens"`
	MaxCompletionTokens *int64           `json:"max_completion_tokens"`
	MaxOutputTokens     *int64           `json:"max_output_tokens"`
	N                   *int64           `json:"n"`
	BestOf              *int64           `json:"best_of"`
	Prompt              json.RawMessage  `json:"prompt"`

	clientUsage bool // the client asked for the usage chunk itself
}

// parseRequest reads the fields metering needs from a JSON object body.
func parseRequest(body []byte) (*request, error) {
	var r request
	if t := bytes.TrimLeft(body, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return nil, errInvalidJSON
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, errInvalidJSON
	}
	if r.Model == "" {
		return nil, errMissingModel
	}
	if r.StreamOptions != nil {
		var so struct {
			IncludeUsage bool `json:"include_usage"`
		}
		json.Unmarshal(*r.StreamOptions, &so)
		r.clientUsage = so.IncludeUsage
	}
	return &r, nil
}

// maxOutput is the most output tokens the request may produce: its max-tokens field (or
// ceiling when it has none) times the number of completions it asks for.
func (r *request) maxOutput(ep endpoint, ceiling int64) int64 {
	if !ep.generates {
		return 0
	}
	limit := ceiling
	for _, f := range []*int64{r.MaxCompletionTokens, r.MaxTokens, r.MaxOutputTokens} {
		if f != nil && *f > 0 {
			limit = *f
			break
		}
	}
	copies := int64(1)
	if r.N != nil && *r.N > 1 {
		copies = *r.N
	}
	if r.BestOf != nil && *r.BestOf > copies {
		copies = *r.BestOf
	}
	if ep == epCompletions {
		copies *= promptCount(r.Prompt)
	}
	return satMul(limit, min(copies, 1024))
}

// explicitMax is the request's own output limit (0 when it sets none), for rate limits.
func (r *request) explicitMax() int64 {
	for _, f := range []*int64{r.MaxCompletionTokens, r.MaxTokens, r.MaxOutputTokens} {
		if f != nil && *f > 0 {
			return *f
		}
	}
	return 0
}

// promptCount is the number of prompts in a completions "prompt" field: a string or a
// token array is one, an array of strings or of token arrays is its length.
func promptCount(p json.RawMessage) int64 {
	p = bytes.TrimSpace(p)
	if len(p) < 2 || p[0] != '[' {
		return 1
	}
	var items []json.RawMessage
	if json.Unmarshal(p, &items) != nil || len(items) == 0 {
		return 1
	}
	if first := bytes.TrimSpace(items[0]); len(first) > 0 && (first[0] == '"' || first[0] == '[') {
		return int64(len(items))
	}
	return 1
}

// withUsage returns body with stream_options.include_usage set to true, keeping every
// other field (and every other stream option).
func withUsage(body []byte) ([]byte, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return nil, errInvalidJSON
	}
	opts := map[string]json.RawMessage{}
	if so, ok := top["stream_options"]; ok && !bytes.Equal(bytes.TrimSpace(so), []byte("null")) {
		if err := json.Unmarshal(so, &opts); err != nil {
			return nil, errInvalidJSON
		}
	}
	opts["include_usage"] = json.RawMessage("true")
	so, err := json.Marshal(opts)
	if err != nil {
		return nil, err
	}
	top["stream_options"] = so
	return json.Marshal(top)
}

// Prompt-token estimation. No tokenizer is shipped: the bound is the one documented in
// the README, conservative for ordinary text (BPE tokenizers average about 4 bytes per
// token of English and rarely fewer than 3 bytes on prose and code):
//
//	prompt tokens ≈ 3                                   (reply priming)
//	              + Σ over string values ⌈bytes / 3⌉    (keys are not counted)
//	              + 4 per object inside an array         (message and content-part overhead)
//	              + 1 per number inside an array         (token-id prompts)
//	              + 1,500 per "data:" URL               (an inline image or file, flat)
//
// Usage the upstream reports always replaces the estimate at settlement; the estimate
// sizes holds and rate limits, and is what a request is charged for its prompt when the
// upstream reports no usage (recorded as estimated).
const (
	primingTokens   = 3
	bytesPerToken   = 3
	objectOverhead  = 4
	dataURLTokens   = 1500
	outputTextBytes = 4 // bytes per token when counting completion text without usage
)

// estimatePrompt returns the prompt-token bound of a JSON body, in one pass without allocating.
func estimatePrompt(body []byte) int64 {
	n := int64(primingTokens)
	var stack [64]byte
	depth := 0
	inArray := func() bool { return depth > 0 && depth <= len(stack) && stack[depth-1] == '[' }
	for i := 0; i < len(body); i++ {
		switch c := body[i]; {
		case c == '"':
			j := i + 1
			for j < len(body) && body[j] != '"' {
				if body[j] == '\\' {
					j++
				}
				j++
			}
			s := body[i+1 : min(j, len(body))]
			i = j
			k := j + 1
			for k < len(body) && (body[k] == ' ' || body[k] == '\t' || body[k] == '\n' || body[k] == '\r') {
				k++
			}
			if k < len(body) && body[k] == ':' {
				continue // a key
			}
			if bytes.HasPrefix(s, []byte("data:")) {
				n += dataURLTokens
			} else {
				n += int64((len(s) + bytesPerToken - 1) / bytesPerToken)
			}
		case c == '{' || c == '[':
			if c == '{' && inArray() {
				n += objectOverhead
			}
			if depth < len(stack) {
				stack[depth] = c
			}
			depth++
		case c == '}' || c == ']':
			if depth > 0 {
				depth--
			}
		case c == '-' || (c >= '0' && c <= '9'):
			if inArray() {
				n++
			}
			for i+1 < len(body) && bytes.IndexByte([]byte("0123456789.eE+-"), body[i+1]) >= 0 {
				i++
			}
		}
	}
	return n
}

// textTokens counts the completion tokens of generated text when the upstream reports
// none: ⌈bytes / 4⌉ (at least 1 for non-empty text).
func textTokens(s string) int64 {
	if s == "" {
		return 0
	}
	return int64((len(s) + outputTextBytes - 1) / outputTextBytes)
}

// estimateCost is the most a request may cost: every prompt token at the model's highest
// input price (uncached, cached or cache write), every possible output token at the
// output price, plus the request fee.
func estimateCost(p pricing.Price, prompt, output int64) (money.Amount, error) {
	in := max(p.Input, p.CachedInput, p.CacheWrite)
	return pricing.Cost(pricing.Price{Input: in, Output: p.Output, Request: p.Request},
		pricing.Usage{Input: prompt, Output: output})
}

func satMul(a, b int64) int64 {
	if a == 0 || b == 0 {
		return 0
	}
	if a > (1<<62)/b {
		return 1 << 62
	}
	return a * b
}
