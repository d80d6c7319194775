package gateway

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"spectra/internal/pricing"
)

func TestSplitGeminiPath(t *testing.T) {
	tests := []struct {
		rest  string
		model string
		m     geminiMethod
	}{
		{"gemini-2.5-flash:generateContent", "gemini-2.5-flash", gmGenerate},
		{"gemini-2.5-pro:streamGenerateContent", "gemini-2.5-pro", gmStream},
		{"gemini-2.5-pro:countTokens", "gemini-2.5-pro", gmCount},
		{"org/model:v2:generateContent", "org/model:v2", gmGenerate}, // split on the last ':'
	}
	for _, tt := range tests {
		model, m, err := splitGeminiPath(tt.rest)
		if err != nil || model != tt.model || m != tt.m {
			t.Errorf("splitGeminiPath(%q) = %q, %v, %v", tt.rest, model, m, err)
		}
	}
	for _, rest := range []string{"gemini-2.5-flash", ":generateContent", "gemini:embedContent", "gemini:GenerateContent", "gemini:generateContent:", ""} {
		_, _, err := splitGeminiPath(rest)
		var e *apiError
		if !errors.As(err, &e) || e.Status != http.StatusNotFound || e.Code != "method_not_found" {
			t.Errorf("splitGeminiPath(%q) = %v, want a 404 method_not_found", rest, err)
		}
	}
}

func TestGeminiQueryStripsKey(t *testing.T) {
	tests := map[string]string{
		"":                         "",
		"key=sk-1":                 "",
		"alt=sse&key=sk-1":         "alt=sse",
		"key=sk-1&alt=sse&x=1":     "alt=sse&x=1",
		"%6Bey=sk-1&alt=sse":       "alt=sse", // an escaped name is the same parameter
		"keys=1&key=2&monkey=3":    "keys=1&monkey=3",
		"alt=sse&key=a&key=b&$x=y": "alt=sse&$x=y",
	}
	for in, want := range tests {
		if got := geminiQuery(in); got != want {
			t.Errorf("geminiQuery(%q) = %q, want %q", in, got, want)
		}
	}
	if got := geminiUpstreamURL("https://g.example/v1beta", "gemini-2.5-flash", gmStream, "alt=sse&key=sk"); got != "https://g.example/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse" {
		t.Errorf("upstream URL %s", got)
	}
}

func TestParseGeminiRequest(t *testing.T) {
	tests := []struct {
		body string
		want geminiRequest
	}{
		{`{"contents":[{"parts":[{"text":"hi"}]}]}`, geminiRequest{}},
		{`{"generationConfig":{"maxOutputTokens":100}}`, geminiRequest{Limit: 100}},
		{`{"generation_config":{"max_output_tokens":100,"candidate_count":2}}`, geminiRequest{Limit: 100, Candidates: 2}},
		{`{"generationConfig":{"maxOutputTokens":100,"thinkingConfig":{"thinkingBudget":500}}}`, geminiRequest{Limit: 100, ThinkingBudget: 500}},
		{`{"generationConfig":{"thinking_config":{"thinking_budget":-1,"includeThoughts":true}}}`, geminiRequest{}},
		{`{"generationConfig":null,"cachedContent":"cachedContents/abc"}`, geminiRequest{CachedContent: true}},
		{`{"generationConfig":{"maxOutputTokens":null,"temperature":0.5,"stopSequences":["x"]}}`, geminiRequest{}},
		{`{"contents":[],"model":"ignored","x":{"maxOutputTokens":"no"}}`, geminiRequest{}}, // nested elsewhere: not read
	}
	for _, tt := range tests {
		r, err := parseGeminiRequest([]byte(tt.body))
		if err != nil || *r != tt.want {
			t.Errorf("parseGeminiRequest(%s) = %+v, %v; want %+v", tt.body, r, err, tt.want)
		}
	}
	bad := []struct{ body, code, field string }{
		{`not json`, "invalid_json", ""},
		{`[1]`, "invalid_json", ""},
		{`{"generationConfig":{"maxOutputTokens":1},"generation_config":{}}`, "duplicate_key", "generationConfig"},
		{`{"generationConfig":{},"generationConfig":{}}`, "duplicate_key", "generationConfig"},
		{`{"generationConfig":{"maxOutputTokens":1,"max_output_tokens":100000}}`, "duplicate_key", "generationConfig.maxOutputTokens"},
		{`{"generationConfig":{"maxOutputTokens":1,"maxOutputTokens":100000}}`, "duplicate_key", "generationConfig.maxOutputTokens"},
		{`{"contents":[],"contents":[]}`, "duplicate_key", "contents"},
		{`{"GenerationConfig":{"maxOutputTokens":1}}`, "invalid_field_name", "GenerationConfig"},
		{`{"generationconfig":{}}`, "invalid_field_name", "generationconfig"},
		{`{"Generation_Config":{}}`, "invalid_field_name", "Generation_Config"},
		{`{"generationConfig":{"MaxOutputTokens":100000}}`, "invalid_field_name", "generationConfig.MaxOutputTokens"},
		{`{"generationConfig":{"MAX_OUTPUT_TOKENS":100000}}`, "invalid_field_name", "generationConfig.MAX_OUTPUT_TOKENS"},
		{`{"generationConfig":{"CandidateCount":8}}`, "invalid_field_name", "generationConfig.CandidateCount"},
		{`{"generationConfig":{"thinkingConfig":{"ThinkingBudget":9}}}`, "invalid_field_name", "generationConfig.thinkingConfig.ThinkingBudget"},
		{`{"generationConfig":{"maxOutputTokens":"100"}}`, "invalid_type", "generationConfig.maxOutputTokens"},
		{`{"generationConfig":{"maxOutputTokens":1e5}}`, "invalid_type", "generationConfig.maxOutputTokens"},
		{`{"generationConfig":{"maxOutputTokens":10.5}}`, "invalid_type", "generationConfig.maxOutputTokens"},
		{`{"generationConfig":{"maxOutputTokens":-1}}`, "integer_below_min_value", "generationConfig.maxOutputTokens"},
		{`{"generationConfig":{"maxOutputTokens":99999999999999999999}}`, "integer_above_max_value", "generationConfig.maxOutputTokens"},
		{`{"generationConfig":{"candidateCount":5000}}`, "integer_above_max_value", "generationConfig.candidateCount"},
		{`{"generationConfig":[]}`, "invalid_type", "generationConfig"},
		{`{"generationConfig":{"thinkingConfig":7}}`, "invalid_type", "generationConfig.thinkingConfig"},
		{`{"generationConfig":{"thinkingConfig":{"thinkingBudget":"a"}}}`, "invalid_type", "generationConfig.thinkingConfig.thinkingBudget"},
		{`{"cachedContent":5}`, "invalid_type", "cachedContent"},
	}
	for _, tt := range bad {
		_, err := parseGeminiRequest([]byte(tt.body))
		var e *apiError
		if !errors.As(err, &e) || e.Code != tt.code || e.Status != http.StatusBadRequest {
			t.Errorf("parseGeminiRequest(%s) = %v; want %s", tt.body, err, tt.code)
			continue
		}
		if tt.field != "" && (e.Param == nil || *e.Param != tt.field) {
			t.Errorf("parseGeminiRequest(%s): param %v, want %s", tt.body, e.Param, tt.field)
		}
	}
}

func TestGeminiMaxOutput(t *testing.T) {
	tests := []struct {
		body     string
		hold     int64 // with a ceiling (the model's maximum) of 8,192
		explicit int64
	}{
		{`{}`, 8192, 0},
		{`{"generationConfig":{"maxOutputTokens":100}}`, 100, 100},
		{`{"generationConfig":{"maxOutputTokens":100000}}`, 100000, 100000}, // above the ceiling: held as asked
		{`{"generationConfig":{"maxOutputTokens":100,"candidateCount":3}}`, 300, 100},
		{`{"generation_config":{"candidate_count":2}}`, 16384, 0},
		{`{"generationConfig":{"maxOutputTokens":100,"thinkingConfig":{"thinkingBudget":1000}}}`, 1100, 1100},
		{`{"generationConfig":{"thinkingConfig":{"thinkingBudget":1000}}}`, 8192, 0}, // the model's maximum covers its thoughts
		{`{"generationConfig":{"maxOutputTokens":100,"thinkingConfig":{"thinkingBudget":-1}}}`, 100, 100},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(http.MethodPost, "/v1beta/models/m:generateContent", strings.NewReader(tt.body))
		r.SetPathValue("rest", "m:generateContent")
		req, err := geminiWire{}.parse(epGeminiGenerate, r, []byte(tt.body))
		if err != nil || req.Model != "m" || req.Stream {
			t.Fatalf("%s: %+v, %v", tt.body, req, err)
		}
		if got := req.maxOutput(epGeminiGenerate, 8192); got != tt.hold {
			t.Errorf("%s: hold %d, want %d", tt.body, got, tt.hold)
		}
		if got := req.explicitMax(); got != tt.explicit {
			t.Errorf("%s: explicit %d, want %d", tt.body, got, tt.explicit)
		}
	}
	r := httptest.NewRequest(http.MethodPost, "/v1beta/models/m:streamGenerateContent?alt=sse", nil)
	r.SetPathValue("rest", "m:streamGenerateContent")
	if req, err := (geminiWire{sse: true}).parse(epGeminiStreamSSE, r, []byte(`{}`)); err != nil || !req.Stream {
		t.Fatalf("stream: %+v %v", req, err)
	}
}

// Google's promptTokenCount includes the cached tokens, as Spectra's input does; the
// tool-use prompt and the thoughts are outside prompt and candidates, and are added once.
func TestGeminiUsageMapping(t *testing.T) {
	tests := []struct {
		name string
		json string
		want pricing.Usage
	}{
		{"plain", `{"promptTokenCount":10,"candidatesTokenCount":5,"totalTokenCount":15}`, pricing.Usage{Input: 10, Output: 5}},
		{"cached read is part of the prompt", `{"promptTokenCount":1000,"cachedContentTokenCount":800,"candidatesTokenCount":5,"totalTokenCount":1005}`,
			pricing.Usage{Input: 1000, CachedInput: 800, Output: 5}},
		{"thoughts are output", `{"promptTokenCount":10,"candidatesTokenCount":5,"thoughtsTokenCount":40,"totalTokenCount":55}`,
			pricing.Usage{Input: 10, Output: 45, Reasoning: 40}},
		{"tool-use prompt is input", `{"promptTokenCount":10,"toolUsePromptTokenCount":30,"candidatesTokenCount":5,"totalTokenCount":45}`,
			pricing.Usage{Input: 40, Output: 5}},
		{"everything", `{"promptTokenCount":100,"cachedContentTokenCount":60,"toolUsePromptTokenCount":7,"candidatesTokenCount":20,"thoughtsTokenCount":3,"totalTokenCount":130}`,
			pricing.Usage{Input: 107, CachedInput: 60, Output: 23, Reasoning: 3}},
		{"odd report clamped", `{"promptTokenCount":5,"cachedContentTokenCount":9,"candidatesTokenCount":-3}`,
			pricing.Usage{Input: 5, CachedInput: 5}},
		{"nothing", `{}`, pricing.Usage{}},
	}
	for _, tt := range tests {
		var u geminiUsage
		if err := json.Unmarshal([]byte(tt.json), &u); err != nil {
			t.Fatal(err)
		}
		got := u.usage()
		if !sameUsage(got, tt.want) {
			t.Errorf("%s: %+v, want %+v", tt.name, got, tt.want)
		}
		if err := got.Validate(); err != nil {
			t.Errorf("%s: invalid usage: %v", tt.name, err)
		}
		// Spectra's input + output is Google's total: nothing counted twice or lost.
		if strings.Contains(tt.json, "totalTokenCount") && got.Input+got.Output != u.TotalTokenCount {
			t.Errorf("%s: input+output %d, total %d", tt.name, got.Input+got.Output, u.TotalTokenCount)
		}
	}
}

func TestMeterGeminiBody(t *testing.T) {
	u, est, err := meterGeminiBody([]byte(`{"candidates":[{"content":{"parts":[{"text":"hello"}]}}],
		"usageMetadata":{"promptTokenCount":12,"candidatesTokenCount":2,"thoughtsTokenCount":4}}`), 99)
	if err != nil || est || !sameUsage(u, pricing.Usage{Input: 12, Output: 6, Reasoning: 4}) {
		t.Fatalf("reported: %+v %v %v", u, est, err)
	}
	// No usage: the prompt estimate and ⌈bytes/4⌉ of text, thoughts, a function call's
	// name and arguments.
	body := `{"candidates":[{"content":{"parts":[{"text":"abcdefgh","thought":true},{"text":"x"},{"functionCall":{"name":"get","args":{"a":1}}}]}}]}`
	u, est, err = meterGeminiBody([]byte(body), 99)
	want := int64((8 + 1 + 3 + len(`{"a":1}`) + 3) / 4)
	if err != nil || !est || !sameUsage(u, pricing.Usage{Input: 99, Output: want}) {
		t.Fatalf("counted: %+v %v %v, want output %d", u, est, err, want)
	}
	// A usage of the wrong shape is no usage: counted instead.
	u, est, err = meterGeminiBody([]byte(`{"candidates":[{"content":{"parts":[{"text":"abcd"}]}}],"usageMetadata":{"promptTokenCount":"x"}}`), 7)
	if err != nil || !est || !sameUsage(u, pricing.Usage{Input: 7, Output: 1}) {
		t.Fatalf("bad usage: %+v %v %v", u, est, err)
	}
	if _, _, err := meterGeminiBody([]byte(`nope`), 1); err == nil {
		t.Fatal("an unreadable answer was metered")
	}
}

func geminiChunk(text, finish, usage string) string {
	s := `{"candidates":[{"content":{"parts":[{"text":` + jsonString(text) + `}],"role":"model"},"index":0`
	if finish != "" {
		s += `,"finishReason":"` + finish + `"`
	}
	s += `}]`
	if usage != "" {
		s += `,"usageMetadata":` + usage
	}
	return s + `,"modelVersion":"gemini-test","responseId":"resp-1"}`
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// usageMetadata repeats in every chunk, cumulatively: the last one is the answer's, never
// the sum.
func TestGeminiMeterTakesTheLastUsage(t *testing.T) {
	m := &geminiMeter{}
	m.chunk([]byte(geminiChunk("Hello", "", `{"promptTokenCount":10,"candidatesTokenCount":1,"totalTokenCount":11}`)))
	m.chunk([]byte(geminiChunk(" there", "", `{"promptTokenCount":10,"candidatesTokenCount":2,"totalTokenCount":12}`)))
	if m.finished || m.final {
		t.Fatal("finished before a finishReason")
	}
	m.chunk([]byte(geminiChunk("!", "STOP", `{"promptTokenCount":10,"candidatesTokenCount":3,"thoughtsTokenCount":5,"totalTokenCount":18}`)))
	u, est := m.result(99, false)
	if !m.finished || !m.final || est || !sameUsage(u, pricing.Usage{Input: 10, Output: 8, Reasoning: 5}) {
		t.Fatalf("result %+v %v (finished %v final %v)", u, est, m.finished, m.final)
	}
	if m.responseID != "resp-1" || m.modelVersion != "gemini-test" {
		t.Fatalf("ids %q %q", m.responseID, m.modelVersion)
	}
}

// A stream cut before it finished is charged the last reported prompt and the larger of
// the reported output and ⌈bytes/4⌉ of what was streamed, as estimated.
func TestGeminiMeterUnfinished(t *testing.T) {
	m := &geminiMeter{}
	m.chunk([]byte(geminiChunk(strings.Repeat("x", 40), "", `{"promptTokenCount":10,"candidatesTokenCount":2}`)))
	u, est := m.result(99, false)
	if !est || !sameUsage(u, pricing.Usage{Input: 10, Output: 10}) {
		t.Fatalf("unfinished: %+v %v", u, est)
	}
	// Ended normally without a finishReason: the last usage is the answer's.
	if u, est := m.result(99, true); est || !sameUsage(u, pricing.Usage{Input: 10, Output: 2}) {
		t.Fatalf("complete: %+v %v", u, est)
	}
	// Nothing reported: the prompt estimate.
	m = &geminiMeter{}
	m.chunk([]byte(geminiChunk("abcdefgh", "", "")))
	if u, est := m.result(99, true); !est || !sameUsage(u, pricing.Usage{Input: 99, Output: 2}) {
		t.Fatalf("no usage: %+v %v", u, est)
	}
}

func TestGeminiMeterPast(t *testing.T) {
	m := &geminiMeter{}
	m.chunk([]byte(geminiChunk("a", "", `{"promptTokenCount":10,"candidatesTokenCount":50}`)))
	if m.past(50) || !m.past(49) {
		t.Fatal("a reported output above the hold is past it, at it is not")
	}
	m = &geminiMeter{}
	m.chunk([]byte(geminiChunk(strings.Repeat("y", 4*16), "", "")))
	if m.past(11) || !m.past(10) { // 16 tokens of text: past a hold of 10 (16 > 15), not 11
		t.Fatalf("text past: output %d", m.output())
	}
}

func TestGeminiClosing(t *testing.T) {
	m := &geminiMeter{}
	m.chunk([]byte(geminiChunk("abc", "", "")))
	b := geminiClosing(m, pricing.Usage{Input: 10, CachedInput: 4, Output: 7, Reasoning: 2})
	var r struct {
		Candidates []struct {
			FinishReason string `json:"finishReason"`
			Index        int64  `json:"index"`
		} `json:"candidates"`
		UsageMetadata geminiUsage `json:"usageMetadata"`
		ResponseID    string      `json:"responseId"`
	}
	must(t, json.Unmarshal(b, &r))
	if len(r.Candidates) != 1 || r.Candidates[0].FinishReason != "MAX_TOKENS" || r.ResponseID != "resp-1" {
		t.Fatalf("closing %s", b)
	}
	if got := r.UsageMetadata.usage(); !sameUsage(got, pricing.Usage{Input: 10, CachedInput: 4, Output: 7, Reasoning: 2}) {
		t.Fatalf("closing usage %+v does not read back as the charge: %s", got, b)
	}
}

// The JSON-array stream is split into its elements as they arrive: each element is
// returned before the next is written.
func TestArrayReaderIncremental(t *testing.T) {
	pr, pw := io.Pipe()
	a := newArrayReader(pr)
	parts := []string{"[{\"a\":\"}],{\\\"\"}", "\n,\r\n{\"b\":[1,{\"c\":2}]}", "\n]\n"}
	go func() {
		for _, p := range parts[:1] {
			pw.Write([]byte(p))
		}
	}()
	raw, elem, err := a.next()
	if err != nil || string(elem) != `{"a":"}],{\""}` || string(raw) != parts[0] {
		t.Fatalf("first: %q %q %v", raw, elem, err)
	}
	go pw.Write([]byte(parts[1]))
	raw, elem, err = a.next()
	if err != nil || string(elem) != `{"b":[1,{"c":2}]}` || string(raw) != parts[1] {
		t.Fatalf("second: %q %q %v", raw, elem, err)
	}
	go func() {
		pw.Write([]byte(parts[2]))
		pw.Close()
	}()
	raw, elem, err = a.next()
	if !errors.Is(err, io.EOF) || elem != nil || string(raw) != parts[2] {
		t.Fatalf("end: %q %q %v", raw, elem, err)
	}
	if a.read != int64(len(strings.Join(parts, ""))) {
		t.Fatalf("read %d", a.read)
	}
}

func TestArrayReaderErrors(t *testing.T) {
	tests := map[string]error{
		`{"a":1}`:       errArrayStream,
		`[1]`:           errArrayStream,
		`[{"a":1}] {}`:  errArrayStream,
		`[{"a":1}`:      io.ErrUnexpectedEOF,
		`[{"a":1},{"b"`: io.ErrUnexpectedEOF,
		``:              io.ErrUnexpectedEOF,
	}
	for in, want := range tests {
		a := newArrayReader(strings.NewReader(in))
		var err error
		for err == nil {
			_, _, err = a.next()
		}
		if !errors.Is(err, want) {
			t.Errorf("%q: %v, want %v", in, err, want)
		}
	}
	a := newArrayReader(strings.NewReader(`[]`))
	if raw, elem, err := a.next(); !errors.Is(err, io.EOF) || elem != nil || string(raw) != "[]" {
		t.Errorf("empty array: %q %q %v", raw, elem, err)
	}
}

func TestGeminiErrorShape(t *testing.T) {
	e := errBudgetExceededForTest()
	g := toGemini(e)
	b, _ := json.Marshal(map[string]geminiError{"error": g})
	want := `{"error":{"code":402,"message":"m","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"BUDGET_EXCEEDED","domain":"spectra","metadata":{"budget_id":"bud_1","code":"budget_exceeded"}}]}}`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
	for status, want := range map[int]string{400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 402: "RESOURCE_EXHAUSTED",
		403: "PERMISSION_DENIED", 404: "NOT_FOUND", 413: "INVALID_ARGUMENT", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 502: "UNAVAILABLE", 503: "UNAVAILABLE"} {
		if got := geminiStatus(status); got != want {
			t.Errorf("geminiStatus(%d) = %s, want %s", status, got, want)
		}
	}
	p := toGemini(newParamError("generationConfig.maxOutputTokens", "invalid_type", "x"))
	if p.Details[0].Metadata["field"] != "generationConfig.maxOutputTokens" || p.Details[0].Reason != "INVALID_TYPE" {
		t.Fatalf("param error %+v", p)
	}
}

func errBudgetExceededForTest() *apiError {
	e := newError(http.StatusPaymentRequired, "insufficient_quota", "budget_exceeded", "m")
	e.BudgetID = "bud_1"
	return e
}

// The array reader never panics, relays every byte it reads exactly once (the raw parts
// join back into what was read), and every element it returns is one valid JSON object.
func FuzzArrayReader(f *testing.F) {
	for _, s := range []string{`[{"a":1}\n,\r\n{"b":"]}\"{"}\n]`, `[]`, `[{}`, `{"x":1}`, `[{"a":[{}]},{}] `, `[ {"s":"\\"} ]`, ``} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		a := newArrayReader(strings.NewReader(in))
		var joined strings.Builder
		for range len(in) + 2 {
			raw, elem, err := a.next()
			if err == nil || errors.Is(err, io.EOF) {
				joined.Write(raw)
			}
			if err != nil {
				break
			}
			if len(elem) == 0 || elem[0] != '{' || !json.Valid(elem) && json.Valid([]byte(in)) {
				t.Fatalf("element %q of %q", elem, in)
			}
		}
		if !strings.HasPrefix(in, joined.String()) {
			t.Fatalf("relayed %q, not a prefix of %q", joined.String(), in)
		}
		if json.Valid([]byte(in)) && strings.HasPrefix(strings.TrimSpace(in), "[") && joined.String() != in {
			var elems []json.RawMessage
			if json.Unmarshal([]byte(in), &elems) == nil && allObjects(elems) {
				t.Fatalf("a valid array of objects relayed as %q, not %q", joined.String(), in)
			}
		}
	})
}

func allObjects(elems []json.RawMessage) bool {
	for _, e := range elems {
		if len(e) == 0 || e[0] != '{' {
			return false
		}
	}
	return true
}

// TestGeminiQueryDropsFieldMask: Google's fields / $fields system parameter filters the
// answer, and a mask without usageMetadata (and the thought parts) would leave the meter
// an estimate from the visible text only, the thinking tokens uncharged. It is not
// forwarded: the client gets the whole answer.
func TestGeminiQueryDropsFieldMask(t *testing.T) {
	tests := map[string]string{
		"fields=candidates&alt=sse":            "alt=sse",
		"alt=sse&$fields=candidates":           "alt=sse",
		"%24fields=candidates.content&x=1":     "x=1",
		"%66ields=candidates&fieldsx=1&key=sk": "fieldsx=1",
	}
	for in, want := range tests {
		if got := geminiQuery(in); got != want {
			t.Errorf("geminiQuery(%q) = %q, want %q", in, got, want)
		}
	}
}
