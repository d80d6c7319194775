package gateway

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"spectra/internal/errs"
	"spectra/internal/money"
	"spectra/internal/pricing"
)

// endpoint is one of the gateway's forwarding routes.
type endpoint struct {
	path         string // after /v1, e.g. "/chat/completions"
	usageInChunk bool   // streams carry usage in a final chunk asked for with stream_options.include_usage
	generates    bool   // produces output tokens (not embeddings)
	wire         wire   // the client-facing API (wire.go); nil is OpenAI's
}

var (
	epChat        = endpoint{path: "/chat/completions", usageInChunk: true, generates: true}
	epCompletions = endpoint{path: "/completions", usageInChunk: true, generates: true}
	epEmbeddings  = endpoint{path: "/embeddings"}
	epResponses   = endpoint{path: "/responses", generates: true}
)

// request is what metering needs from a client's body; the body itself is forwarded as
// it is (apart from stream_options.include_usage).
//
// Fields are read the way the providers behind the gateway read them (OpenAI's API,
// vLLM, and most servers decode with exact, case-sensitive names): only the exact names
// an endpoint honours count. A name that differs from one of them only in case
// ("MAX_TOKENS", "Model") is refused, so that neither an exact nor a case-insensitive
// upstream can read a limit the hold did not, and so is a name given twice.
type request struct {
	Model  string
	Stream bool
	// Limit is the endpoint's own output-token limit (0: none set): chat reads
	// max_completion_tokens and max_tokens (the larger when both are set), completions
	// max_tokens, responses max_output_tokens.
	Limit  int64
	N      int64 // n (0: not set)
	BestOf int64 // best_of (0: not set)
	Prompt []byte
	// WebSearchCalls is the number of web search calls the hold covers (priced per call).
	WebSearchCalls int64
	// Units are the other per-unit tool calls the hold covers (an image_generation tool's
	// image), by unit name. Each of them, and "web_search_call" when WebSearchCalls > 0,
	// must have a price before the request is forwarded (checkUnits).
	Units map[string]int64
	// ServiceTier is the request's service_tier field as sent (OpenAI's "auto", "default",
	// "flex", "priority"; Anthropic's "auto", "standard_only"): forwarded as it is, it
	// selects the prices the hold covers (holdPrice) and is the tier recorded when the
	// answer does not state one.
	ServiceTier string

	clientUsage bool // the client asked for the usage chunk itself
}

// maxCopies bounds n and best_of: a larger request is refused rather than held for
// fewer completions than the upstream may generate.
const maxCopies = 1024

// meteredNames are the fields the gateway reads, on any endpoint. A top-level name that
// equals one of them but for case is refused (invalid_field_name).
var meteredNames = []string{"model", "stream", "stream_options", "max_tokens", "max_completion_tokens",
	"max_output_tokens", "n", "best_of", "prompt", "service_tier", "tools"}

// limitFields are the output-limit fields each endpoint's provider honours.
func (ep endpoint) limitFields() []string {
	switch ep {
	case epChat:
		return []string{"max_completion_tokens", "max_tokens"}
	case epCompletions:
		return []string{"max_tokens"}
	case epResponses:
		return []string{"max_output_tokens"}
	}
	return nil
}

// parseRequest reads the fields metering needs from a JSON object body, with exact
// names; see request.
func parseRequest(ep endpoint, body []byte) (*request, error) {
	t, err := objectBody(body)
	if err != nil {
		return nil, err
	}
	r := &request{}
	limits := ep.limitFields()
	err = fieldReader{known: meteredNames}.each(t, func(name string, v []byte) error {
		switch name {
		case "model":
			s, err := stringValue(name, v)
			r.Model = s
			return err
		case "stream":
			b, err := boolValue(name, v)
			r.Stream = b
			return err
		case "stream_options":
			return r.streamOptions(v)
		case "n":
			n, err := copiesValue(name, v)
			r.N = n
			return err
		case "best_of":
			n, err := copiesValue(name, v)
			r.BestOf = n
			return err
		case "prompt":
			r.Prompt = v
			return nil
		case "service_tier":
			s, err := stringValue(name, v)
			r.ServiceTier = s
			return err
		case "tools":
			if ep != epResponses {
				return nil // chat's tools are functions, run by the client
			}
			return r.responseTools(v)
		}
		for _, f := range limits {
			if name == f {
				n, err := intValue(name, v)
				r.Limit = max(r.Limit, n)
				return err
			}
		}
		return nil // a metered name another endpoint reads
	})
	if err != nil {
		return nil, err
	}
	if r.Model == "" {
		return nil, errMissingModel
	}
	return r, nil
}

// streamOptions reads stream_options: an object (or null) whose include_usage is a
// boolean (or null).
func (r *request) streamOptions(v []byte) error {
	if string(v) == "null" {
		return nil
	}
	if v[0] != '{' {
		return errInvalidType("stream_options", "an object")
	}
	return fieldReader{path: "stream_options.", known: []string{"include_usage"}}.each(v, func(_ string, v []byte) error {
		b, err := boolValue("stream_options.include_usage", v)
		r.clientUsage = b
		return err
	})
}

// maxOutput is the most output tokens the request may produce: its own limit (or
// ceiling, the model's maximum output, when it sets none) times the number of
// completions it asks for. A limit above the ceiling is held as it is: the upstream will
// refuse or cap it, and holding the larger figure is the safe side.
func (r *request) maxOutput(ep endpoint, ceiling int64) int64 {
	if !ep.generates {
		return 0
	}
	limit := ceiling
	if r.Limit > 0 {
		limit = r.Limit
	}
	copies := max(r.N, r.BestOf, 1)
	if ep == epCompletions {
		copies = satMul(copies, promptCount(r.Prompt))
	}
	return satMul(limit, copies)
}

// explicitMax is the request's own output limit (0 when it sets none), for rate limits.
func (r *request) explicitMax() int64 { return r.Limit }

// names is a set of member names: a small array while there are few, a map beyond.
type names struct {
	few  [16]string
	n    int
	many map[string]struct{}
}

// add adds name and reports whether it was new.
func (s *names) add(name string) bool {
	if s.many == nil {
		for _, f := range s.few[:s.n] {
			if f == name {
				return false
			}
		}
		if s.n < len(s.few) {
			s.few[s.n] = name
			s.n++
			return true
		}
		s.many = make(map[string]struct{}, 2*len(s.few))
		for _, f := range s.few {
			s.many[f] = struct{}{}
		}
	}
	if _, ok := s.many[name]; ok {
		return false
	}
	s.many[name] = struct{}{}
	return true
}

// objectBody checks that body is valid JSON (errInvalidJSON) holding an object
// (errNotObject) and returns it from the '{' on.
func objectBody(body []byte) ([]byte, error) {
	t := bytes.TrimLeft(body, " \t\r\n")
	if !json.Valid(body) {
		return nil, errInvalidJSON
	}
	if len(t) == 0 || t[0] != '{' {
		return nil, errNotObject
	}
	return t, nil
}

// fieldReader reads the members of a JSON object with exact names: fn sees each member
// named exactly one of known; a case variant of a known name is refused
// (errFieldCase), and so is a name given twice (errDuplicateKey): any name, or with
// knownOnce only a known one (the object's other members being the upstream's to judge).
// Other members are skipped. path prefixes the names in errors ("thinking.").
type fieldReader struct {
	path      string
	known     []string
	knownOnce bool
}

// each reads the object at the start of v, which must be valid JSON (json.Valid).
func (fr fieldReader) each(v []byte, fn func(name string, value []byte) error) error {
	var seen names
	return eachMember(v, func(name string, v []byte) error {
		if !fr.knownOnce && !seen.add(name) {
			return errDuplicateKey(fr.path + name)
		}
		for _, k := range fr.known {
			if name == k {
				if fr.knownOnce && !seen.add(name) {
					return errDuplicateKey(fr.path + name)
				}
				return fn(name, v)
			}
		}
		for _, k := range fr.known {
			if strings.EqualFold(name, k) {
				return errFieldCase(fr.path+name, k)
			}
		}
		return nil
	})
}

// eachMember calls fn with the decoded name and the raw value of each member of the JSON
// object at the start of b, which must be valid JSON (json.Valid).
func eachMember(b []byte, fn func(name string, value []byte) error) error {
	i := skipSpace(b, 1) // after '{'
	for i < len(b) && b[i] != '}' {
		end, escaped := stringEnd(b, i)
		var name string
		if escaped {
			if err := json.Unmarshal(b[i:end], &name); err != nil {
				return errInvalidJSON
			}
		} else {
			name = string(b[i+1 : end-1])
		}
		i = skipSpace(b, end)
		i = skipSpace(b, i+1) // after ':'
		vEnd := valueEnd(b, i)
		if err := fn(name, b[i:vEnd]); err != nil {
			return err
		}
		i = skipSpace(b, vEnd)
		if i < len(b) && b[i] == ',' {
			i = skipSpace(b, i+1)
		}
	}
	return nil
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// stringEnd returns the index after the string starting at b[i] (a quote), and whether
// it holds an escape.
func stringEnd(b []byte, i int) (int, bool) {
	escaped := false
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			escaped = true
			j++
		case '"':
			return j + 1, escaped
		}
	}
	return len(b), escaped
}

// valueEnd returns the index after the (valid) JSON value starting at b[i].
func valueEnd(b []byte, i int) int {
	if i >= len(b) {
		return i
	}
	switch b[i] {
	case '"':
		end, _ := stringEnd(b, i)
		return end
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				end, _ := stringEnd(b, j)
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return len(b)
	}
	j := i
	for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\t' && b[j] != '\n' && b[j] != '\r' {
		j++
	}
	return j
}

// stringValue reads a string field (null reads as "").
func stringValue(name string, v []byte) (string, error) {
	if string(v) == "null" {
		return "", nil
	}
	if v[0] != '"' {
		return "", errInvalidType(name, "a string")
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", errInvalidType(name, "a string")
	}
	return s, nil
}

// boolValue reads a boolean field (null reads as false).
func boolValue(name string, v []byte) (bool, error) {
	switch string(v) {
	case "true":
		return true, nil
	case "false", "null":
		return false, nil
	}
	return false, errInvalidType(name, "a boolean")
}

// intValue reads a non-negative integer field written as a JSON integer (null reads as
// 0). A fraction, an exponent, a string or a number beyond int64 is refused: a provider
// might read it as some integer, and the hold could not know which.
func intValue(name string, v []byte) (int64, error) {
	if string(v) == "null" {
		return 0, nil
	}
	if v[0] != '-' && (v[0] < '0' || v[0] > '9') || bytes.ContainsAny(v, ".eE") {
		return 0, errInvalidType(name, "an integer")
	}
	n, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil {
		return 0, newParamError(name, "integer_above_max_value", "Invalid '"+name+"': integer above maximum value.")
	}
	if n < 0 {
		return 0, newParamError(name, "integer_below_min_value", "Invalid '"+name+"': integer below minimum value. Expected a value >= 0, but got "+string(v)+" instead.")
	}
	return n, nil
}

// copiesValue reads n or best_of: an integer from 0 to maxCopies.
func copiesValue(name string, v []byte) (int64, error) {
	n, err := intValue(name, v)
	if err == nil && n > maxCopies {
		err = newParamError(name, "integer_above_max_value", "Invalid '"+name+"': integer above maximum value. Expected a value <= "+strconv.Itoa(maxCopies)+", but got "+string(v)+" instead.")
	}
	return n, err
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

// estimateCost is the most a request that asks for no service tier and uses no billed
// tool may cost: holdCost.
func estimateCost(p pricing.Price, prompt, output int64) (money.Amount, error) {
	return holdCost(p, &request{}, prompt, output)
}

// holdCost is the most request r may cost, its hold: pricing.MaxCost at the prices
// holdPrice leaves (every context tier, whatever the prompt: the estimate is no sure
// guide to the tier, as a Responses request's previous_response_id or files bring input
// the gateway does not see), with every prompt token at the highest input price
// (uncached, cached, cache write, 1-hour cache write, audio, image), every possible output
// token at the highest output price (text, audio, image), the request fee, and the
// request's web search calls and units at their prices. Rounded up.
func holdCost(p pricing.Price, r *request, prompt, output int64) (money.Amount, error) {
	q := holdPrice(p, r.ServiceTier)
	var best money.Amount
	for _, u := range []pricing.Usage{
		{Input: prompt},
		{Input: prompt, CachedInput: prompt},
		{CacheWrite: prompt},
		{CacheWrite: prompt, CacheWrite1h: prompt},
	} {
		u.Output, u.WebSearchCalls, u.Units = output, r.WebSearchCalls, r.Units
		c, err := pricing.MaxCost(q, u)
		if err != nil {
			return 0, err
		}
		best = max(best, c)
	}
	return best, nil
}

// holdPrice is p with the service tiers an answer to a request asking for service tier
// asked may be billed at: every one of them when it asks for none or "auto" (the
// provider picks: a project may be set to priority), none but the default for "default"
// and Anthropic's "standard_only", and the default and the tier asked for otherwise (a
// provider may serve a flex or priority request at the default tier). A tier the
// version does not price is billed at the default prices.
func holdPrice(p pricing.Price, asked string) pricing.Price {
	t := strings.ToLower(strings.TrimSpace(asked))
	switch t {
	case "", "auto":
		return p
	case pricing.DefaultServiceTier, "standard_only":
		p.ServiceTiers = nil
		return p
	}
	st, ok := p.ServiceTiers[t]
	p.ServiceTiers = nil
	if ok {
		p.ServiceTiers = map[string]pricing.ServiceTier{t: st}
	}
	return p
}

// heldUnits is units with the unit of an image of unstated size or quality
// ("image_generation_call") held as the most expensive image the price knows (an
// "image_…" unit) when the price has no "image_generation_call" of its own: the answer
// states the size and quality it made.
func heldUnits(p pricing.Price, units map[string]int64) map[string]int64 {
	n, ok := units[unitImageGeneration]
	if !ok {
		return units
	}
	prices := p.BaseUnits()
	if _, priced := prices[unitImageGeneration]; priced {
		return units
	}
	best, bestPrice := "", money.Amount(-1)
	for name, a := range prices {
		if strings.HasPrefix(name, "image_") && (a > bestPrice || a == bestPrice && name < best) {
			best, bestPrice = name, a
		}
	}
	if best == "" {
		return units // refused: unknown_unit
	}
	out := make(map[string]int64, len(units))
	for k, v := range units {
		out[k] = v
	}
	delete(out, unitImageGeneration)
	out[best] += n
	return out
}

// errUnknownUnit refuses a request that enables a tool billed in a unit the model's
// price does not know: it would be recorded at no price for it, so it is not forwarded.
func errUnknownUnit(model, unit, tool string) *apiError {
	return newError(http.StatusBadRequest, "invalid_request_error", "unknown_unit",
		"The model `"+model+"` has no price for the unit `"+unit+"`, in which the "+tool+" tool this request enables is billed, so the request was not sent. Ask the operator to add units."+unit+" to the model's price, or leave the tool out.")
}

// checkUnits refuses r (unknown_unit) when one of the units its tools are billed in has
// no price at one of the service tiers its answer may be billed at (holdPrice).
func checkUnits(p pricing.Price, r *request) error {
	if r.WebSearchCalls == 0 && len(r.Units) == 0 {
		return nil
	}
	q := holdPrice(p, r.ServiceTier)
	tiers := []string{pricing.DefaultServiceTier}
	for name := range q.ServiceTiers {
		tiers = append(tiers, name)
	}
	for _, tier := range tiers {
		if r.WebSearchCalls > 0 {
			if _, err := q.Quote(pricing.Usage{WebSearchCalls: 1, ServiceTier: tier}); errs.Is(err, "unknown_unit") {
				return errUnknownUnit(p.Model, pricing.UnitWebSearchCall, "web search")
			}
		}
		for name := range r.Units {
			if _, err := q.Quote(pricing.Usage{Units: map[string]int64{name: 1}, ServiceTier: tier}); errs.Is(err, "unknown_unit") {
				return errUnknownUnit(p.Model, name, "image generation")
			}
		}
	}
	return nil
}

// responseTools reads a Responses request's tools (an array, or null) for the tools
// billed per call: each web_search tool (type "web_search", "web_search_preview", …)
// holds webSearchHold calls; each image_generation tool holds one image, in the unit of
// its size and quality (imageUnit; "image_generation_call" when either is "auto" or not
// set). Other tools, and entries that are not objects, are the upstream's to judge.
func (r *request) responseTools(v []byte) error {
	if string(v) == "null" {
		return nil
	}
	if v[0] != '[' {
		return errInvalidType("tools", "an array")
	}
	var tools []json.RawMessage
	if err := json.Unmarshal(v, &tools); err != nil {
		return errInvalidType("tools", "an array")
	}
	for _, tool := range tools {
		tool = bytes.TrimSpace(tool)
		if len(tool) == 0 || tool[0] != '{' {
			continue
		}
		var typ, size, quality string
		err := fieldReader{path: "tools.", known: []string{"type", "size", "quality"}, knownOnce: true}.each(tool, func(name string, v []byte) error {
			s, err := stringValue("tools."+name, v)
			switch name {
			case "type":
				typ = s
			case "size":
				size = s
			case "quality":
				quality = s
			}
			return err
		})
		if err != nil {
			return err
		}
		switch {
		case strings.HasPrefix(typ, "web_search"):
			r.WebSearchCalls = addTokens(r.WebSearchCalls, webSearchHold)
		case typ == "image_generation":
			if r.Units == nil {
				r.Units = map[string]int64{}
			}
			r.Units[imageUnit(size, quality)]++
		}
	}
	return nil
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
