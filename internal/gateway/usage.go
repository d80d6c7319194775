package gateway

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"

	"spectra/internal/pricing"
)

// decodeLoose is json.Unmarshal that tolerates fields of an unexpected type (they stay
// zero, everything else is decoded): providers vary, and metering must not lose a
// reported usage over an odd field elsewhere in the answer.
func decodeLoose(b []byte, v any) error {
	err := json.Unmarshal(b, v)
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return nil
	}
	return err
}

// wireUsage is a usage object in any of OpenAI's shapes: chat and completions
// (prompt_/completion_tokens), responses (input_/output_tokens), embeddings (prompt only).
type wireUsage struct {
	PromptTokens             *int64       `json:"prompt_tokens"`
	CompletionTokens         int64        `json:"completion_tokens"`
	InputTokens              *int64       `json:"input_tokens"`
	OutputTokens             int64        `json:"output_tokens"`
	PromptTokensDetails      tokenDetails `json:"prompt_tokens_details"`
	InputTokensDetails       tokenDetails `json:"input_tokens_details"`
	CompletionTokensDetails  tokenDetails `json:"completion_tokens_details"`
	OutputTokensDetails      tokenDetails `json:"output_tokens_details"`
	CacheCreationInputTokens int64        `json:"cache_creation_input_tokens"` // Anthropic-compatible servers
}

// tokenDetails is one of a usage's *_tokens_details objects: the parts of the count
// that were cache reads, reasoning, audio or image tokens. cached_tokens_details (the
// Realtime models' shape) says how many of the cache reads were audio or image.
type tokenDetails struct {
	CachedTokens        int64 `json:"cached_tokens"`
	ReasoningTokens     int64 `json:"reasoning_tokens"`
	AudioTokens         int64 `json:"audio_tokens"`
	ImageTokens         int64 `json:"image_tokens"`
	CachedTokensDetails struct {
		AudioTokens int64 `json:"audio_tokens"`
		ImageTokens int64 `json:"image_tokens"`
	} `json:"cached_tokens_details"`
}

// usage converts to Spectra's meaning, clamping inconsistent details so that a provider's
// odd report never makes the event invalid.
//
// The modalities: audio_tokens and image_tokens of the prompt (input) details are parts
// of the input, cache reads included; Spectra's AudioInput and ImageInput are uncached
// (cache reads are priced at cached_input whatever they hold), so the cached audio and
// image tokens (cached_tokens_details, when reported) are taken off them. The
// completion (output) details' audio_tokens and image_tokens are parts of the output:
// AudioOutput and ImageOutput. Each is clamped to what is left of its total
// (AudioInput + ImageInput ≤ Input − CachedInput, AudioOutput + ImageOutput ≤ Output),
// so that nothing is counted twice.
func (u *wireUsage) usage() (pricing.Usage, bool) {
	if u == nil || (u.PromptTokens == nil && u.InputTokens == nil) {
		return pricing.Usage{}, false
	}
	var out pricing.Usage
	var in, gen *tokenDetails
	if u.PromptTokens != nil {
		out.Input = *u.PromptTokens
		out.Output = u.CompletionTokens
		in, gen = &u.PromptTokensDetails, &u.CompletionTokensDetails
	} else {
		out.Input = *u.InputTokens
		out.Output = u.OutputTokens
		in, gen = &u.InputTokensDetails, &u.OutputTokensDetails
	}
	out.CachedInput = in.CachedTokens
	out.Reasoning = gen.ReasoningTokens
	out.CacheWrite = max(u.CacheCreationInputTokens, 0)
	out.Input, out.Output = max(out.Input, 0), max(out.Output, 0)
	out.CachedInput = min(max(out.CachedInput, 0), out.Input)
	out.Reasoning = min(max(out.Reasoning, 0), out.Output)
	uncached := out.Input - out.CachedInput
	out.AudioInput = min(max(in.AudioTokens-max(in.CachedTokensDetails.AudioTokens, 0), 0), uncached)
	out.ImageInput = min(max(in.ImageTokens-max(in.CachedTokensDetails.ImageTokens, 0), 0), uncached-out.AudioInput)
	out.AudioOutput = min(max(gen.AudioTokens, 0), out.Output)
	out.ImageOutput = min(max(gen.ImageTokens, 0), out.Output-out.AudioOutput)
	return out, true
}

// looseString is a string field that tolerates any other JSON value (read as ""), so
// that an odd field never costs the usage reported beside it.
type looseString string

func (s *looseString) UnmarshalJSON(b []byte) error {
	var v string
	if json.Unmarshal(b, &v) == nil {
		*s = looseString(v)
	} else {
		*s = ""
	}
	return nil
}

// outputItems is a Responses answer's output, read for its billed tool calls: an array
// of items, or one item (an object); anything else (a chat answer has no output) is
// none, and an item that is not an object is skipped.
type outputItems []outputItem

func (o *outputItems) UnmarshalJSON(b []byte) error {
	*o = nil
	var raw []json.RawMessage
	if len(b) > 0 && b[0] == '{' {
		raw = []json.RawMessage{b} // one item (an output_item event's)
	} else if json.Unmarshal(b, &raw) != nil {
		return nil
	}
	for _, r := range raw {
		var it outputItem
		if len(r) > 0 && r[0] == '{' && json.Unmarshal(r, &it) == nil && (it.Type == "web_search_call" || it.Type == "image_generation_call") {
			*o = append(*o, it)
		}
	}
	return nil
}

// outputItem is an item of a Responses answer's output, for the tool calls that are
// billed per call (see itemUnits).
type outputItem struct {
	Type    looseString `json:"type"`
	Size    looseString `json:"size"`
	Quality looseString `json:"quality"`
}

// unitImageGeneration is the unit of an image_generation_call whose size or quality the
// answer does not state (or states as "auto").
const unitImageGeneration = "image_generation_call"

// itemUnits counts the billed tool calls among a Responses answer's output items: each
// web_search_call is one "web_search_call" (Usage.WebSearchCalls), each
// image_generation_call one "image_<size>_<quality>" (e.g. "image_1024x1024_high", from
// the item's size and quality, lower-cased) or "image_generation_call" when the item
// does not state both.
func itemUnits(items []outputItem, u *pricing.Usage) {
	for _, it := range items {
		switch it.Type {
		case "web_search_call":
			u.WebSearchCalls++
		case "image_generation_call":
			name := imageUnit(string(it.Size), string(it.Quality))
			if u.Units == nil {
				u.Units = map[string]int64{}
			}
			u.Units[name]++
		}
	}
}

// imageUnit is the unit of one generated image of size and quality (see itemUnits).
func imageUnit(size, quality string) string {
	size, quality = strings.ToLower(size), strings.ToLower(quality)
	if size == "" || quality == "" || size == "auto" || quality == "auto" {
		return unitImageGeneration
	}
	name := "image_" + size + "_" + quality
	if !pricing.ValidUnit(name) {
		return unitImageGeneration
	}
	return name
}

// serviceTier is the service tier an answer reports, in the form the gateway keeps
// until the event is built (Gateway.event): "" when the answer names none, or "auto" (an
// answer's echo of the request, as OpenAI's response.created is: the request's own
// service_tier then applies), "default" for the default tier ("default", Anthropic's
// "standard") and for a name Spectra cannot record (pricing.ValidServiceTier: billed at
// the default prices), else the name lower-cased.
func serviceTier(reported string) string {
	t := strings.ToLower(strings.TrimSpace(reported))
	switch {
	case t == "" || t == "auto":
		return ""
	case t == "standard" || !pricing.ValidServiceTier(t):
		return pricing.DefaultServiceTier
	}
	return t
}

// textParts is generated text found in a choice, a message or a delta.
type textParts struct {
	Content          *string `json:"content"`
	Text             string  `json:"text"`
	Refusal          *string `json:"refusal"`
	ReasoningContent string  `json:"reasoning_content"`
	Reasoning        string  `json:"reasoning"`
	Arguments        string  `json:"arguments"`
	ToolCalls        []struct {
		Function struct {
			Arguments string `json:"arguments"`
		} `json:"function"`
	} `json:"tool_calls"`
}

func (t *textParts) each(fn func(string)) {
	if t.Content != nil {
		fn(*t.Content)
	}
	if t.Refusal != nil {
		fn(*t.Refusal)
	}
	fn(t.Text)
	fn(t.ReasoningContent)
	fn(t.Reasoning)
	fn(t.Arguments)
	for _, c := range t.ToolCalls {
		fn(c.Function.Arguments)
	}
}

// body is a non-streamed answer's generated text, for when it reports no usage.
type body struct {
	Choices []struct {
		textParts
		Message textParts `json:"message"`
	} `json:"choices"`
	Output []struct {
		textParts
		Content []textParts `json:"content"`
		Summary []textParts `json:"summary"`
	} `json:"output"`
}

// meterBody returns the usage of a non-streamed answer, or (when the upstream reported
// none) the usage counted from it: the prompt estimate and ⌈bytes/4⌉ of generated text.
func meterBody(b []byte, promptEstimate int64) (u pricing.Usage, estimated bool, err error) {
	var reported struct {
		Usage       *wireUsage  `json:"usage"`
		ServiceTier looseString `json:"service_tier"`
		Output      outputItems `json:"output"`
	}
	var te *json.UnmarshalTypeError
	if err := json.Unmarshal(b, &reported); errors.As(err, &te) {
		reported.Usage = nil // a usage of the wrong shape is no usage: count instead
	} else if err != nil {
		return pricing.Usage{}, false, err
	}
	if u, ok := reported.Usage.usage(); ok {
		u.ServiceTier = serviceTier(string(reported.ServiceTier))
		itemUnits(reported.Output, &u)
		return u, false, nil
	}

	var parsed body
	if err := decodeLoose(b, &parsed); err != nil {
		return pricing.Usage{}, false, err
	}
	var out int64
	count := func(s string) { out += textTokens(s) }
	for i := range parsed.Choices {
		parsed.Choices[i].textParts.each(count)
		parsed.Choices[i].Message.each(count)
	}
	for i := range parsed.Output {
		o := &parsed.Output[i]
		o.textParts.each(count)
		for j := range o.Content {
			o.Content[j].each(count)
		}
		for j := range o.Summary {
			o.Summary[j].each(count)
		}
	}
	u = pricing.Usage{Input: promptEstimate, Output: out, ServiceTier: serviceTier(string(reported.ServiceTier))}
	itemUnits(reported.Output, &u) // the tool calls the answer lists are billed even when its tokens are counted
	return u, true, nil
}

// chunk is one streamed chat or completions chunk.
type chunk struct {
	ID      string          `json:"id"`
	Object  string          `json:"object"`
	Created json.RawMessage `json:"created"`
	Model   string          `json:"model"`
	Choices []struct {
		Index int64 `json:"index"`
		textParts
		Delta        textParts       `json:"delta"`
		FinishReason json.RawMessage `json:"finish_reason"`
	} `json:"choices"`
	Usage       *wireUsage  `json:"usage"`
	ServiceTier looseString `json:"service_tier"`
}

// respEvent is one Responses API stream event.
type respEvent struct {
	Type           string          `json:"type"`
	SequenceNumber int64           `json:"sequence_number"`
	Delta          json.RawMessage `json:"delta"`
	Response       *struct {
		ID          string          `json:"id"`
		CreatedAt   json.RawMessage `json:"created_at"`
		Model       string          `json:"model"`
		Usage       *wireUsage      `json:"usage"`
		ServiceTier looseString     `json:"service_tier"`
		Output      outputItems     `json:"output"`
	} `json:"response"`
	Item outputItems `json:"item"` // response.output_item.done's item, as a list of one
}

// streamMeter follows a stream: the usage it reports, and the text it carries. Without a
// reported usage the completion is ⌈bytes/4⌉ of the generated text (content, text,
// refusal, reasoning, tool arguments; for the Responses API every string delta),
// whatever the number of deltas that carried it.
type streamMeter struct {
	usage     pricing.Usage
	reported  bool
	textBytes int64 // bytes of generated text streamed so far
	deltas    int64 // chunks or delta events that carried text
	done      bool  // the stream reached its end marker
	finished  bool  // the answer has finished: a finish_reason, or a Responses ".done" event

	// What a closing chunk that Spectra writes itself needs (see endStream).
	id, object, model string
	created           json.RawMessage
	choices           []int64 // choice indexes seen, in order
	closed            map[int64]bool
	seq               int64 // last Responses sequence_number

	// What the answer says beside its usage: the service tier (the last one stated), and
	// the Responses API's billed tool calls: the output items of response.completed (or
	// incomplete, failed) when it came (final), else those of the output_item.done
	// events seen.
	tier      string
	items     []outputItem
	lastItems []outputItem
	hasFinal  bool
}

// chunk meters one chat or completions data payload and reports whether it is the extra
// usage-only chunk (no choices) that include_usage adds.
func (m *streamMeter) chunk(data []byte) (usageOnly bool) {
	if string(data) == "[DONE]" {
		m.done = true
		return false
	}
	var c chunk
	var te *json.UnmarshalTypeError
	if err := json.Unmarshal(data, &c); errors.As(err, &te) {
		c.Usage = nil // never trust a usage of the wrong shape; the text still counts
	} else if err != nil {
		return false
	}
	if m.id == "" {
		m.id, m.object, m.model, m.created = c.ID, c.Object, c.Model, c.Created
	}
	if t := serviceTier(string(c.ServiceTier)); t != "" {
		m.tier = t
	}
	for i := range c.Choices {
		ch := &c.Choices[i]
		var n int64
		add := func(s string) { n += int64(len(s)) }
		ch.Delta.each(add)
		ch.textParts.each(add)
		if n > 0 {
			m.textBytes += n
			m.deltas++
		}
		if len(m.choices) < maxCopies && !slices.Contains(m.choices, ch.Index) {
			m.choices = append(m.choices, ch.Index)
		}
		if len(ch.FinishReason) > 0 && string(ch.FinishReason) != "null" {
			m.finished = true
			if m.closed == nil {
				m.closed = map[int64]bool{}
			}
			m.closed[ch.Index] = true
		}
	}
	if u, ok := c.Usage.usage(); ok {
		m.usage, m.reported = u, true
		return len(c.Choices) == 0
	}
	return false
}

// event meters one Responses API stream event.
func (m *streamMeter) event(data []byte) {
	var e respEvent
	var te *json.UnmarshalTypeError
	if err := json.Unmarshal(data, &e); errors.As(err, &te) {
		e.Response = nil
	} else if err != nil {
		return
	}
	m.seq = max(m.seq, e.SequenceNumber)
	if e.Response != nil && m.id == "" {
		m.id, m.model, m.created = e.Response.ID, e.Response.Model, e.Response.CreatedAt
	}
	if e.Response != nil {
		if t := serviceTier(string(e.Response.ServiceTier)); t != "" {
			m.tier = t
		}
	}
	if e.Type == "response.output_item.done" && len(m.items) < maxCopies {
		m.items = append(m.items, e.Item...)
	}
	switch {
	case strings.HasSuffix(e.Type, ".delta"):
		var s string
		if len(e.Delta) > 0 && e.Delta[0] == '"' && json.Unmarshal(e.Delta, &s) == nil && s != "" {
			m.textBytes += int64(len(s))
			m.deltas++
		}
	case strings.HasSuffix(e.Type, ".done"):
		m.finished = true
	case e.Type == "response.completed" || e.Type == "response.incomplete" || e.Type == "response.failed":
		m.done, m.finished = true, true
		if e.Response != nil {
			if u, ok := e.Response.Usage.usage(); ok {
				m.usage, m.reported = u, true
			}
			m.lastItems, m.hasFinal = e.Response.Output, true
		}
	}
}

// output is the completion counted from the text: ⌈bytes/4⌉.
func (m *streamMeter) output() int64 {
	return (m.textBytes + outputTextBytes - 1) / outputTextBytes
}

// past reports whether a stream has gone past the output its hold covers (capacity
// tokens; see Gateway.stream): more deltas that carried text than that (each carries at
// least one token, and OpenAI-compatible servers stream about one token per delta), or
// text whose ⌈bytes/4⌉ is more than one and a half times it (so that huge deltas cannot
// carry a stream past its hold, while the ⌈bytes/4⌉ estimate of ordinary text, which
// runs above its true token count when tokens average more than 4 bytes, never ends a
// stream that a provider is about to end itself at its limit).
func (m *streamMeter) past(capacity int64) bool {
	return m.deltas > capacity || m.output() > capacity+capacity/2
}

// result is the usage to record: the reported one, or the prompt estimate plus ⌈bytes/4⌉
// of the text streamed (estimated).
func (m *streamMeter) result(promptEstimate int64) (pricing.Usage, bool) {
	u, estimated := m.usage, false
	if !m.reported {
		u, estimated = pricing.Usage{Input: promptEstimate, Output: m.output()}, true
	}
	u.ServiceTier = m.tier
	items := m.items
	if m.hasFinal {
		items = m.lastItems
	}
	u.Units = nil // itemUnits makes a new map: the one returned before is the caller's
	itemUnits(items, &u)
	return u, estimated
}
