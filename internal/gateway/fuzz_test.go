package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Native fuzz targets for the parsers that read outside input: a client's request body
// (parseRequest) and an upstream's answer (the SSE reader, the stream meter, the
// closing chunks built from it, and the usage of a whole body). Their seed corpora run
// in every `go test`; see docs/security.md for the figures of the long runs.

var fuzzEndpoints = []endpoint{epChat, epCompletions, epEmbeddings, epResponses}

// refMembers decodes the top-level members of a JSON object with encoding/json's token
// reader: a reference for parseRequest's own scanner.
func refMembers(b []byte) (names []string, values []json.RawMessage, ok bool) {
	dec := json.NewDecoder(bytes.NewReader(b))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, nil, false
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, nil, false
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, nil, false
		}
		names, values = append(names, t.(string)), append(values, v)
	}
	return names, values, true
}

func hasDuplicate(names []string) bool {
	seen := map[string]bool{}
	for _, n := range names {
		if seen[n] {
			return true
		}
		seen[n] = true
	}
	return false
}

func FuzzParseRequest(f *testing.F) {
	for _, s := range []string{
		`{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`,
		`{"model":"gpt-4o","max_tokens":7,"max_completion_tokens":9,"n":2,"stream":true,"stream_options":{"include_usage":true}}`,
		`{"model":"m","prompt":["a","b"],"best_of":3,"max_tokens":10}`,
		`{"model":"m","input":"x","max_output_tokens":5}`,
		`{"model":"m","MAX_TOKENS":1}`,
		`{"model":"m","max_tokens":1,"max_tokens":2}`,
		`{"model":"m","max\u005ftokens":3}`,
		`{"model":"m","max_tokens":-1}`,
		`{"model":"m","max_tokens":1e2}`,
		`{"model":"m","max_tokens":"5"}`,
		`{"model":5}`,
		`{"model":"m","stream_options":{"include_usage":true,"include_usage":false}}`,
		`{"model":"m","stream_options":{"Include_Usage":1}}`,
		` {"model" : "m" , "n" : null , "x" : {"max_tokens":[1,{"n":2}]} } `,
		`[1]`, `{`, `"m"`, ``,
	} {
		for i := range fuzzEndpoints {
			f.Add(uint8(i), []byte(s))
		}
	}
	f.Fuzz(func(t *testing.T, epi uint8, body []byte) {
		ep := fuzzEndpoints[int(epi)%len(fuzzEndpoints)]
		r, err := parseRequest(ep, body)
		names, values, isObject := refMembers(body)
		isObject = isObject && json.Valid(body)
		if err != nil {
			var e *apiError
			if !errors.As(err, &e) || e.Status != http.StatusBadRequest || e.Code == "" || e.Message == "" {
				t.Fatalf("refusal %v is not a 400 in OpenAI's shape", err)
			}
			switch e.Code {
			case "invalid_json":
				if isObject {
					t.Fatalf("a valid JSON object refused as invalid_json: %s", body)
				}
			case "duplicate_key":
				if !isObject || e.Param == nil {
					t.Fatalf("duplicate_key on %s", body)
				}
				if !strings.HasPrefix(*e.Param, "stream_options.") && !hasDuplicate(names) {
					t.Fatalf("duplicate_key %q but no duplicate in %q", *e.Param, names)
				}
			case "invalid_field_name":
				found := false
				for _, n := range names {
					for _, m := range meteredNames {
						found = found || (n != m && strings.EqualFold(n, m))
					}
				}
				if !found && (e.Param == nil || !strings.HasPrefix(*e.Param, "stream_options.")) {
					t.Fatalf("invalid_field_name without a case variant: %s", body)
				}
			}
			return
		}
		if !isObject || hasDuplicate(names) {
			t.Fatalf("accepted a body that is not an object with unique names: %s", body)
		}
		// What was read is what an exact-name decoder reads.
		var limit, n, bestOf int64
		var model string
		var stream bool
		for i, name := range names {
			for _, m := range meteredNames {
				if name != m && strings.EqualFold(name, m) {
					t.Fatalf("accepted the case variant %q", name)
				}
			}
			v := values[i]
			switch name {
			case "model":
				json.Unmarshal(v, &model)
			case "stream":
				json.Unmarshal(v, &stream)
			case "n":
				json.Unmarshal(v, &n)
			case "best_of":
				json.Unmarshal(v, &bestOf)
			}
			for _, lf := range ep.limitFields() {
				if name == lf {
					var x int64
					if err := json.Unmarshal(v, &x); err != nil && string(v) != "null" {
						t.Fatalf("accepted %s = %s", name, v)
					}
					if x < 0 {
						t.Fatalf("accepted a negative %s", name)
					}
					limit = max(limit, x)
				}
			}
		}
		if r.Model != model || model == "" || r.Stream != stream || r.Limit != limit || r.N != n || r.BestOf != bestOf {
			t.Fatalf("read %+v, an exact decoder reads model %q stream %v limit %d n %d best_of %d: %s", r, model, stream, limit, n, bestOf, body)
		}
		if out := r.maxOutput(ep, 1000); out < 0 || (ep.generates && out < min(max(limit, 1), 1000)) {
			t.Fatalf("held output %d for limit %d", out, limit)
		}
	})
}

func FuzzStream(f *testing.F) {
	chat := "data: " + chatChunk(`{"role":"assistant","content":""}`, "null") + "\n\n" +
		"data: " + chatChunk(`{"content":" tok1"}`, "null") + "\n\n" +
		"data: " + chatChunk(`{}`, `"stop"`) + "\n\n" +
		`data: {"id":"c1","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":1,"prompt_tokens_details":{"cached_tokens":1}}}` + "\n\n" +
		"data: [DONE]\n\n"
	completions := `data: {"id":"x","object":"text_completion","choices":[{"index":0,"text":"abc","finish_reason":null},{"index":1,"text":"de"}]}` + "\r\n\r\n" +
		`data: {"choices":[{"index":1,"text":"","finish_reason":"length"}]}` + "\n\ndata: [DONE]"
	responses := "event: response.created\ndata: {\"type\":\"response.created\",\"sequence_number\":0,\"response\":{\"id\":\"resp_1\",\"created_at\":5,\"model\":\"m\"}}\n\n" +
		"event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"sequence_number\":1,\"delta\":\"hello \\u00e9\"}\n\n" +
		"event: response.output_text.done\ndata: {\"type\":\"response.output_text.done\",\"sequence_number\":2}\n\n" +
		"event: response.completed\ndata: {\"type\":\"response.completed\",\"sequence_number\":3,\"response\":{\"usage\":{\"input_tokens\":4,\"output_tokens\":2,\"output_tokens_details\":{\"reasoning_tokens\":9}}}}\n\n"
	for _, s := range []string{chat, completions, responses,
		"data: {\"usage\":{\"prompt_tokens\":\"odd\"},\"choices\":[{\"delta\":{\"content\":\"abcd\",\"tool_calls\":[{\"function\":{\"arguments\":\"{}\"}}]}}]}\n\n",
		"data: {\"choices\":[{\"message\":{\"content\":\"12345678\"}}],\"usage\":{\"input_tokens\":-5,\"output_tokens\":3}}",
		": comment\n\ndata:\ndata: x\n\n\n\nevent: e\n", "data: " + strings.Repeat("[", 100) + "\n\n",
	} {
		for i := range fuzzEndpoints {
			f.Add(uint8(i), []byte(s), int64(3))
		}
	}
	f.Fuzz(func(t *testing.T, epi uint8, body []byte, outCap int64) {
		ep := fuzzEndpoints[int(epi)%len(fuzzEndpoints)]
		c := &call{ep: ep, req: &request{Model: "m", clientUsage: epi&8 != 0}, prompt: 7, outCap: outCap, start: time.Unix(1, 0)}
		m := &streamMeter{}
		sr := newSSEReader(bytes.NewReader(body))
		var relayed int
		for {
			raw, data, err := sr.next()
			relayed += len(raw)
			if len(data) > 0 {
				if ep.usageInChunk {
					m.chunk(data)
				} else {
					m.event(data)
				}
			}
			if err != nil {
				if !errors.Is(err, io.EOF) {
					t.Fatalf("read error %v from a bytes.Reader", err)
				}
				break
			}
		}
		if sr.read != int64(len(body)) || relayed > 2*len(body)+2 {
			t.Fatalf("read %d of %d bytes, relayed %d", sr.read, len(body), relayed)
		}
		if m.textBytes < 0 || m.textBytes > int64(len(body))*3 || m.deltas > int64(len(body)) {
			t.Fatalf("text bytes %d, deltas %d, of a %d-byte body", m.textBytes, m.deltas, len(body))
		}
		if outCap >= 0 && outCap < 1<<40 && m.past(outCap) != (m.deltas > outCap || 2*m.output() > 3*outCap) {
			t.Fatalf("past(%d) = %v with %d deltas and output %d", outCap, m.past(outCap), m.deltas, m.output())
		}
		u, estimated := m.result(c.prompt)
		if err := u.Validate(); err != nil || estimated == m.reported {
			t.Fatalf("usage %+v (estimated %v): %v", u, estimated, err)
		}
		// The closing events Spectra writes when it cuts a stream are well formed.
		out := closing(c, m)
		var datas []string
		for _, l := range strings.Split(strings.TrimSuffix(string(out), "\n\n"), "\n") {
			if v, ok := strings.CutPrefix(l, "data: "); ok {
				datas = append(datas, v)
			} else if l != "" && !strings.HasPrefix(l, "event: ") {
				t.Fatalf("closing line %q", l)
			}
		}
		for i, d := range datas {
			if d == "[DONE]" {
				if i != len(datas)-1 || !ep.usageInChunk {
					t.Fatalf("[DONE] misplaced in %s", out)
				}
				continue
			}
			if !json.Valid([]byte(d)) {
				t.Fatalf("closing data is not JSON: %s", d)
			}
		}
		if len(datas) == 0 || (ep.usageInChunk && datas[len(datas)-1] != "[DONE]") {
			t.Fatalf("closing %s", out)
		}
		// The usage of a whole (non-streamed) answer, from the same bytes.
		if u, _, err := meterBody(body, 7); err == nil {
			if err := u.Validate(); err != nil {
				t.Fatalf("meterBody usage %+v: %v", u, err)
			}
		}
	})
}
