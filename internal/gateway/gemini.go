package gateway

// Google's Gemini API (generativelanguage.googleapis.com, v1beta), spoken natively:
//
//	POST /v1beta/models/{model}:generateContent         one answer
//	POST /v1beta/models/{model}:streamGenerateContent   a stream: SSE with ?alt=sse, else one JSON array
//	POST /v1beta/models/{model}:countTokens             forwarded, not charged
//
// The client authenticates with the workspace's inference key in x-goog-api-key or
// ?key=; the key is removed before forwarding and the upstream's own secret is sent in
// x-goog-api-key. Errors are answered in Google's shape (geminiError).

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"spectra/internal/pricing"
)

// geminiMethod is the custom method after the model in a Gemini path.
type geminiMethod int

const (
	gmGenerate geminiMethod = iota + 1 // :generateContent
	gmStream                           // :streamGenerateContent
	gmCount                            // :countTokens
)

var geminiMethods = map[string]geminiMethod{
	"generateContent":       gmGenerate,
	"streamGenerateContent": gmStream,
	"countTokens":           gmCount,
}

// String is the method's name in the path.
func (m geminiMethod) String() string {
	for name, v := range geminiMethods {
		if v == m {
			return name
		}
	}
	return ""
}

// splitGeminiPath splits what follows /v1beta/models/ ("gemini-2.5-flash:generateContent")
// on its last ':' into the model and the method. ServeMux cannot match a segment with a
// suffix, so the route takes the whole rest and this splits it. A model name may itself
// hold ':' (Spectra's model names allow it); the method never does.
func splitGeminiPath(rest string) (string, geminiMethod, error) {
	i := strings.LastIndexByte(rest, ':')
	if i <= 0 {
		return "", 0, errGeminiNoMethod(rest)
	}
	m, ok := geminiMethods[rest[i+1:]]
	if !ok {
		return "", 0, errGeminiNoMethod(rest)
	}
	return rest[:i], m, nil
}

// errGeminiNoMethod refuses a path under /v1beta/models/ that names no method the
// gateway serves, with the 404 Google gives an unknown path.
func errGeminiNoMethod(rest string) *apiError {
	return newError(http.StatusNotFound, "invalid_request_error", "method_not_found",
		"The path /v1beta/models/"+rest+" names no method this gateway serves (generateContent, streamGenerateContent, countTokens).")
}

// geminiKey returns the inference key a Gemini client sent: the x-goog-api-key header,
// else the key query parameter. It is empty when there is none.
func geminiKey(r *http.Request) string {
	if k := strings.TrimSpace(r.Header.Get("X-Goog-Api-Key")); k != "" {
		return k
	}
	return strings.TrimSpace(r.URL.Query().Get("key"))
}

// errGeminiMissingKey is the 401 of a Gemini request without a key.
var errGeminiMissingKey = newError(http.StatusUnauthorized, "invalid_request_error", "invalid_api_key",
	"You didn't provide an API key. Send it in the x-goog-api-key header or the key query parameter.")

// geminiQuery is the query to forward upstream: the client's, without its key and
// without Google's response field mask (fields or $fields: a mask leaving out
// usageMetadata and the thought parts would leave the meter the visible text only, the
// thinking tokens uncharged; the client gets the whole answer). Order and every other
// parameter (alt=sse among them) are kept.
func geminiQuery(raw string) string {
	if raw == "" {
		return ""
	}
	parts := strings.Split(raw, "&")
	out := parts[:0]
	for _, p := range parts {
		name, _, _ := strings.Cut(p, "=")
		n, err := url.QueryUnescape(name)
		if err != nil {
			n = name
		}
		if n == "key" || name == "key" || n == "fields" || n == "$fields" {
			continue
		}
		out = append(out, p)
	}
	return strings.Join(out, "&")
}

// geminiSSE reports whether a streamGenerateContent request asks for server-sent events
// (alt=sse); without it Google streams one JSON array.
func geminiSSE(q url.Values) bool { return q.Get("alt") == "sse" }

// geminiRequest is what metering reads of a Gemini body; the body is forwarded as it is.
//
// Google's JSON parser takes each field under its lowerCamelCase name and under its
// proto name in snake_case ("maxOutputTokens" and "max_output_tokens"). The gateway reads
// both, refuses a body that gives the same field under both (or twice), and refuses a
// name that differs from either only in case, so that no spelling can carry a limit the
// hold did not read. The integers it reads must be JSON integers: Google would also take
// "100" or 1e2, which the gateway refuses rather than guess.
type geminiRequest struct {
	Limit          int64 // generationConfig.maxOutputTokens (0: not set)
	Candidates     int64 // generationConfig.candidateCount (0: not set)
	ThinkingBudget int64 // generationConfig.thinkingConfig.thinkingBudget when positive
	CachedContent  bool  // the request reads a cachedContent
}

// geminiField is a field Google reads under two names.
type geminiField struct{ camel, snake string }

var (
	gfGenerationConfig = geminiField{"generationConfig", "generation_config"}
	gfCachedContent    = geminiField{"cachedContent", "cached_content"}
	gfMaxOutputTokens  = geminiField{"maxOutputTokens", "max_output_tokens"}
	gfCandidateCount   = geminiField{"candidateCount", "candidate_count"}
	gfThinkingConfig   = geminiField{"thinkingConfig", "thinking_config"}
	gfThinkingBudget   = geminiField{"thinkingBudget", "thinking_budget"}
)

// geminiMember is one member of a Gemini object being read: its name and the fields the
// gateway reads at that level.
type geminiMember struct {
	seen   names
	fields []geminiField
	path   string // the object's path, "" at the top level
}

// match returns the field name is (its camel name), "" for a field not read, or an error
// for a repeated field or a name that equals a read field's but for case.
func (m *geminiMember) match(name string) (string, error) {
	for _, f := range m.fields {
		if name == f.camel || name == f.snake {
			if !m.seen.add(f.camel) {
				return "", errDuplicateKey(m.path + f.camel)
			}
			return f.camel, nil
		}
	}
	if !m.seen.add("\x00" + name) {
		return "", errDuplicateKey(m.path + name)
	}
	for _, f := range m.fields {
		if strings.EqualFold(name, f.camel) || strings.EqualFold(name, f.snake) {
			return "", errFieldCase(m.path+name, f.camel)
		}
	}
	return "", nil
}

// parseGeminiRequest reads the fields metering needs from a Gemini JSON object body.
func parseGeminiRequest(body []byte) (*geminiRequest, error) {
	t, err := objectBody(body)
	if err != nil {
		return nil, err
	}
	r := &geminiRequest{}
	top := geminiMember{fields: []geminiField{gfGenerationConfig, gfCachedContent}}
	err = eachMember(t, func(name string, v []byte) error {
		f, err := top.match(name)
		switch {
		case err != nil:
			return err
		case f == gfCachedContent.camel:
			s, err := stringValue(f, v)
			r.CachedContent = s != ""
			return err
		case f == gfGenerationConfig.camel:
			return r.generationConfig(v)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

func (r *geminiRequest) generationConfig(v []byte) error {
	if string(v) == "null" {
		return nil
	}
	if v[0] != '{' {
		return errInvalidType(gfGenerationConfig.camel, "an object")
	}
	gc := geminiMember{fields: []geminiField{gfMaxOutputTokens, gfCandidateCount, gfThinkingConfig}, path: "generationConfig."}
	return eachMember(v, func(name string, v []byte) error {
		f, err := gc.match(name)
		if err != nil || f == "" {
			return err
		}
		switch f {
		case gfMaxOutputTokens.camel:
			r.Limit, err = intValue(gc.path+f, v)
		case gfCandidateCount.camel:
			r.Candidates, err = copiesValue(gc.path+f, v)
		case gfThinkingConfig.camel:
			err = r.thinkingConfig(v)
		}
		return err
	})
}

func (r *geminiRequest) thinkingConfig(v []byte) error {
	const path = "generationConfig.thinkingConfig"
	if string(v) == "null" {
		return nil
	}
	if v[0] != '{' {
		return errInvalidType(path, "an object")
	}
	tc := geminiMember{fields: []geminiField{gfThinkingBudget}, path: path + "."}
	return eachMember(v, func(name string, v []byte) error {
		f, err := tc.match(name)
		if err != nil || f == "" {
			return err
		}
		// -1 asks for a dynamic budget and 0 turns thinking off: neither adds to the hold.
		n, err := signedValue(tc.path+f, v)
		r.ThinkingBudget = max(n, 0)
		return err
	})
}

// signedValue reads an integer field that may be negative (null reads as 0).
func signedValue(name string, v []byte) (int64, error) {
	if len(v) > 0 && v[0] == '-' {
		n, err := intValue(name, v[1:])
		return -n, err
	}
	return intValue(name, v)
}

// geminiUsage is a usageMetadata object.
//
// Spectra's meaning (pricing.Usage) from Google's:
//
//	Input       = promptTokenCount + toolUsePromptTokenCount
//	CachedInput = cachedContentTokenCount          (a part of promptTokenCount)
//	Output      = candidatesTokenCount + thoughtsTokenCount
//	Reasoning   = thoughtsTokenCount
//
// promptTokenCount includes the cached tokens, as Spectra's input does;
// toolUsePromptTokenCount (the prompt of a tool Google runs itself, such as code
// execution or search) and thoughtsTokenCount are outside promptTokenCount and
// candidatesTokenCount (totalTokenCount is the sum of the four), so they are added.
//
// The modality breakdowns (promptTokensDetails, cacheTokensDetails,
// toolUsePromptTokensDetails, candidatesTokensDetails: lists of {modality, tokenCount})
// give the audio and image parts:
//
//	AudioInput  = AUDIO of promptTokensDetails + AUDIO of toolUsePromptTokensDetails
//	              − AUDIO of cacheTokensDetails (Spectra's modality input is uncached)
//	ImageInput  = the same with IMAGE
//	AudioOutput = AUDIO of candidatesTokensDetails
//	ImageOutput = IMAGE of candidatesTokensDetails
//
// each clamped to what is left of its total. TEXT, VIDEO and DOCUMENT tokens are text
// tokens (Google prices video and documents at the text rate), and thoughts are text.
type geminiUsage struct {
	PromptTokenCount           int64               `json:"promptTokenCount"`
	CachedContentTokenCount    int64               `json:"cachedContentTokenCount"`
	CandidatesTokenCount       int64               `json:"candidatesTokenCount"`
	ThoughtsTokenCount         int64               `json:"thoughtsTokenCount"`
	ToolUsePromptTokenCount    int64               `json:"toolUsePromptTokenCount"`
	TotalTokenCount            int64               `json:"totalTokenCount"`
	PromptTokensDetails        geminiModalityCount `json:"promptTokensDetails"`
	CacheTokensDetails         geminiModalityCount `json:"cacheTokensDetails"`
	ToolUsePromptTokensDetails geminiModalityCount `json:"toolUsePromptTokensDetails"`
	CandidatesTokensDetails    geminiModalityCount `json:"candidatesTokensDetails"`
}

// geminiModalityCount is a list of ModalityTokenCount, read as the AUDIO and IMAGE
// counts (anything of another shape reads as none).
type geminiModalityCount struct{ audio, image int64 }

func (m *geminiModalityCount) UnmarshalJSON(b []byte) error {
	*m = geminiModalityCount{}
	var list []json.RawMessage
	if json.Unmarshal(b, &list) != nil {
		return nil
	}
	for _, raw := range list {
		var c struct {
			Modality   looseString `json:"modality"`
			TokenCount int64       `json:"tokenCount"`
		}
		if json.Unmarshal(raw, &c) != nil || c.TokenCount <= 0 {
			continue
		}
		switch strings.ToUpper(string(c.Modality)) {
		case "AUDIO":
			m.audio = satAdd(m.audio, c.TokenCount)
		case "IMAGE":
			m.image = satAdd(m.image, c.TokenCount)
		}
	}
	return nil
}

// usage converts to Spectra's meaning, clamping inconsistent counts so that an odd report
// never makes the event invalid.
func (u *geminiUsage) usage() pricing.Usage {
	in := satAdd(max(u.PromptTokenCount, 0), max(u.ToolUsePromptTokenCount, 0))
	thoughts := max(u.ThoughtsTokenCount, 0)
	out := satAdd(max(u.CandidatesTokenCount, 0), thoughts)
	cached := min(max(u.CachedContentTokenCount, 0), in)
	uncached := in - cached
	audioIn := max(satAdd(u.PromptTokensDetails.audio, u.ToolUsePromptTokensDetails.audio)-u.CacheTokensDetails.audio, 0)
	imageIn := max(satAdd(u.PromptTokensDetails.image, u.ToolUsePromptTokensDetails.image)-u.CacheTokensDetails.image, 0)
	res := pricing.Usage{
		Input:       in,
		CachedInput: cached,
		Output:      out,
		Reasoning:   thoughts,
	}
	res.AudioInput = min(audioIn, uncached)
	res.ImageInput = min(imageIn, uncached-res.AudioInput)
	res.AudioOutput = min(u.CandidatesTokensDetails.audio, out)
	res.ImageOutput = min(u.CandidatesTokensDetails.image, out-res.AudioOutput)
	return res
}

func satAdd(a, b int64) int64 {
	if a > (1<<62)-b {
		return 1 << 62
	}
	return a + b
}

// geminiPart is the generated content of one part of a candidate.
type geminiPart struct {
	Text         string `json:"text"`
	Thought      bool   `json:"thought"`
	FunctionCall *struct {
		Name string          `json:"name"`
		Args json.RawMessage `json:"args"`
	} `json:"functionCall"`
	ExecutableCode *struct {
		Code string `json:"code"`
	} `json:"executableCode"`
}

// bytes is the length of the generated content of the part.
func (p *geminiPart) bytes() int64 {
	n := int64(len(p.Text))
	if p.FunctionCall != nil {
		n += int64(len(p.FunctionCall.Name) + len(p.FunctionCall.Args))
	}
	if p.ExecutableCode != nil {
		n += int64(len(p.ExecutableCode.Code))
	}
	return n
}

// geminiResponse is a GenerateContentResponse: one answer, or one chunk of a stream.
type geminiResponse struct {
	Candidates []struct {
		Content struct {
			Parts []geminiPart `json:"parts"`
		} `json:"content"`
		FinishReason string `json:"finishReason"`
		Index        int64  `json:"index"`
	} `json:"candidates"`
	UsageMetadata *geminiUsage `json:"usageMetadata"`
	ModelVersion  string       `json:"modelVersion"`
	ResponseID    string       `json:"responseId"`
}

// decodeGemini decodes a GenerateContentResponse; a usageMetadata of the wrong shape is
// dropped (the text still counts), anything else of the wrong type is ignored.
func decodeGemini(b []byte, r *geminiResponse) error {
	err := json.Unmarshal(b, r)
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		var u struct {
			UsageMetadata *geminiUsage `json:"usageMetadata"`
		}
		if json.Unmarshal(b, &u) != nil {
			r.UsageMetadata = nil
		}
		return nil
	}
	return err
}

// textBytes is the generated content of every candidate of r.
func (r *geminiResponse) textBytes() int64 {
	var n int64
	for i := range r.Candidates {
		for j := range r.Candidates[i].Content.Parts {
			n += r.Candidates[i].Content.Parts[j].bytes()
		}
	}
	return n
}

// meterGeminiBody returns the usage of a generateContent answer, or (when it reports
// none) the prompt estimate and ⌈bytes/4⌉ of its generated content, as estimated.
func meterGeminiBody(b []byte, promptEstimate int64) (pricing.Usage, bool, error) {
	var r geminiResponse
	if err := decodeGemini(b, &r); err != nil {
		return pricing.Usage{}, false, err
	}
	if r.UsageMetadata != nil {
		return r.UsageMetadata.usage(), false, nil
	}
	n := r.textBytes()
	return pricing.Usage{Input: promptEstimate, Output: (n + outputTextBytes - 1) / outputTextBytes}, true, nil
}

// Errors in Google's shape:
//
//	{"error":{"code":402,"message":"…","status":"RESOURCE_EXHAUSTED",
//	  "details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"INSUFFICIENT_BALANCE",
//	    "domain":"spectra","metadata":{"code":"insufficient_balance"}}]}}
//
// The HTTP status and Spectra's code are those of the OpenAI side; the code is in the
// ErrorInfo's metadata as it is and, upper-cased, as its reason (with budget_id and the
// field at fault when there is one).
type geminiError struct {
	Code    int               `json:"code"`
	Message string            `json:"message"`
	Status  string            `json:"status"`
	Details []geminiErrorInfo `json:"details,omitempty"`
}

// geminiErrorInfo is a google.rpc.ErrorInfo.
type geminiErrorInfo struct {
	Type     string            `json:"@type"`
	Reason   string            `json:"reason"`
	Domain   string            `json:"domain"`
	Metadata map[string]string `json:"metadata,omitempty"`
}

// geminiStatus is Google's canonical status for an HTTP status.
func geminiStatus(code int) string {
	switch code {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		return "INVALID_ARGUMENT"
	case http.StatusUnauthorized:
		return "UNAUTHENTICATED"
	case http.StatusPaymentRequired, http.StatusTooManyRequests:
		return "RESOURCE_EXHAUSTED"
	case http.StatusForbidden:
		return "PERMISSION_DENIED"
	case http.StatusNotFound:
		return "NOT_FOUND"
	case http.StatusConflict:
		return "ABORTED"
	case 499:
		return "CANCELLED"
	case http.StatusNotImplemented:
		return "UNIMPLEMENTED"
	case http.StatusServiceUnavailable, http.StatusBadGateway:
		return "UNAVAILABLE"
	case http.StatusGatewayTimeout:
		return "DEADLINE_EXCEEDED"
	}
	if code >= 500 {
		return "INTERNAL"
	}
	return "FAILED_PRECONDITION"
}

// toGemini converts a gateway error to Google's shape.
func toGemini(e *apiError) geminiError {
	md := map[string]string{"code": e.Code}
	if e.BudgetID != "" {
		md["budget_id"] = e.BudgetID
	}
	if e.Param != nil {
		md["field"] = *e.Param
	}
	return geminiError{Code: e.Status, Message: e.Message, Status: geminiStatus(e.Status),
		Details: []geminiErrorInfo{{Type: "type.googleapis.com/google.rpc.ErrorInfo",
			Reason: strings.ToUpper(e.Code), Domain: "spectra", Metadata: md}}}
}

// geminiUpstreamURL is where a Gemini request goes: the upstream's base URL (e.g.
// https://generativelanguage.googleapis.com/v1beta), the model and method, and the
// client's query without its key.
func geminiUpstreamURL(base, model string, m geminiMethod, rawQuery string) string {
	u := base + "/models/" + url.PathEscape(model) + ":" + m.String()
	if q := geminiQuery(rawQuery); q != "" {
		u += "?" + q
	}
	return u
}
