package gateway

import (
	"fmt"
	"net/http"
	"testing"
)

// The body is read with the exact names each endpoint's provider honours; a name that
// differs from a read one only in case, a duplicate name, and a limit that is not a
// non-negative integer are refused, each with its own code.
func TestParseRequestExactNames(t *testing.T) {
	const ceiling = 1000
	for _, c := range []struct {
		ep    endpoint
		body  string
		code  string // expected refusal, or "" with want
		param string
		want  int64 // maxOutput(ceiling)
	}{
		// The field each endpoint's provider honours, and only that one.
		{ep: epChat, body: `{"model":"m","max_tokens":7}`, want: 7},
		{ep: epChat, body: `{"model":"m","max_completion_tokens":9}`, want: 9},
		{ep: epChat, body: `{"model":"m","max_tokens":10,"max_completion_tokens":20}`, want: 20},
		{ep: epChat, body: `{"model":"m","max_completion_tokens":10,"max_tokens":20}`, want: 20},
		{ep: epChat, body: `{"model":"m","max_output_tokens":1}`, want: ceiling},
		{ep: epCompletions, body: `{"model":"m","max_completion_tokens":1}`, want: ceiling},
		{ep: epCompletions, body: `{"model":"m","max_output_tokens":1}`, want: ceiling},
		{ep: epCompletions, body: `{"model":"m","max_tokens":3}`, want: 3},
		{ep: epResponses, body: `{"model":"m","max_tokens":1,"max_completion_tokens":1}`, want: ceiling},
		{ep: epResponses, body: `{"model":"m","max_output_tokens":5}`, want: 5},
		{ep: epChat, body: `{"model":"m","max_tokens":null}`, want: ceiling},
		{ep: epChat, body: `{"model":"m","max_tokens":0}`, want: ceiling},
		{ep: epChat, body: `{"model":"m","max_tokens":5000}`, want: 5000}, // above the model's maximum: held as asked
		// Escapes in names are decoded, as every JSON decoder does.
		{ep: epChat, body: `{"model":"m","max\u005ftokens":3}`, want: 3},
		{ep: epChat, body: `{"model":"m","max_tokens":1,"max\u005ftokens":3}`, code: "duplicate_key", param: "max_tokens"},
		// Case variants of a field the gateway reads.
		{ep: epChat, body: `{"model":"m","MAX_TOKENS":1}`, code: "invalid_field_name", param: "MAX_TOKENS"},
		{ep: epChat, body: `{"model":"m","Max_Completion_Tokens":1}`, code: "invalid_field_name", param: "Max_Completion_Tokens"},
		{ep: epResponses, body: `{"model":"m","MAX_OUTPUT_TOKENS":1}`, code: "invalid_field_name", param: "MAX_OUTPUT_TOKENS"},
		{ep: epChat, body: `{"model":"m","N":100}`, code: "invalid_field_name", param: "N"},
		{ep: epChat, body: `{"Model":"x","model":"m"}`, code: "invalid_field_name", param: "Model"},
		{ep: epChat, body: `{"model":"m","stream":true,"stream_options":{"Include_Usage":false}}`, code: "invalid_field_name", param: "stream_options.Include_Usage"},
		// Duplicates.
		{ep: epChat, body: `{"model":"m","max_tokens":1,"max_tokens":5000}`, code: "duplicate_key", param: "max_tokens"},
		{ep: epChat, body: `{"model":"m","model":"n"}`, code: "duplicate_key", param: "model"},
		{ep: epChat, body: `{"model":"m","x":1,"x":2}`, code: "duplicate_key", param: "x"},
		{ep: epChat, body: `{"model":"m","stream_options":{"include_usage":true,"include_usage":false}}`, code: "duplicate_key", param: "stream_options.include_usage"},
		// Limits that are not non-negative integers.
		{ep: epChat, body: `{"model":"m","max_tokens":-1}`, code: "integer_below_min_value", param: "max_tokens"},
		{ep: epChat, body: `{"model":"m","max_tokens":1.5}`, code: "invalid_type", param: "max_tokens"},
		{ep: epChat, body: `{"model":"m","max_tokens":1e2}`, code: "invalid_type", param: "max_tokens"},
		{ep: epChat, body: `{"model":"m","max_tokens":"5"}`, code: "invalid_type", param: "max_tokens"},
		{ep: epChat, body: `{"model":"m","max_tokens":99999999999999999999}`, code: "integer_above_max_value", param: "max_tokens"},
		{ep: epChat, body: `{"model":"m","n":-2}`, code: "integer_below_min_value", param: "n"},
		{ep: epCompletions, body: `{"model":"m","best_of":1025}`, code: "integer_above_max_value", param: "best_of"},
		// Copies.
		{ep: epChat, body: `{"model":"m","n":4,"max_tokens":10}`, want: 40},
		{ep: epCompletions, body: `{"model":"m","prompt":["a","b","c"],"best_of":2,"n":1,"max_tokens":10}`, want: 60},
		{ep: epEmbeddings, body: `{"model":"m","input":"x"}`, want: 0},
		// Wrong types say which field and what it should be.
		{ep: epChat, body: `{"model":5}`, code: "invalid_type", param: "model"},
		{ep: epChat, body: `{"model":"m","stream":"yes"}`, code: "invalid_type", param: "stream"},
		{ep: epChat, body: `{"model":"m","stream_options":[]}`, code: "invalid_type", param: "stream_options"},
		{ep: epChat, body: `{"model":"m","stream_options":{"include_usage":1}}`, code: "invalid_type", param: "stream_options.include_usage"},
		{ep: epChat, body: `{"model":null}`, code: "missing_model"},
		{ep: epChat, body: `[1]`, code: "invalid_json"},
		{ep: epChat, body: `{"model":"m"`, code: "invalid_json"},
		{ep: epChat, body: `{"model":"m"} x`, code: "invalid_json"},
	} {
		r, err := parseRequest(c.ep, []byte(c.body))
		if c.code == "" {
			if err != nil {
				t.Errorf("%s %s: %v", c.ep.path, c.body, err)
				continue
			}
			if got := r.maxOutput(c.ep, ceiling); got != c.want {
				t.Errorf("%s %s: held output %d, want %d", c.ep.path, c.body, got, c.want)
			}
			continue
		}
		e, ok := err.(*apiError)
		if !ok || e.Code != c.code || e.Status != http.StatusBadRequest || e.Type != "invalid_request_error" {
			t.Errorf("%s %s: got %v, want 400 %s", c.ep.path, c.body, err, c.code)
			continue
		}
		if c.param != "" && (e.Param == nil || *e.Param != c.param) {
			t.Errorf("%s %s: param %v, want %q", c.ep.path, c.body, e.Param, c.param)
		}
	}
}

// stream, stream_options and the model are read as the provider reads them.
func TestParseRequestFields(t *testing.T) {
	r, err := parseRequest(epChat, []byte(` {"stream":true,"model":"gpt-4o","stream_options":{"include_usage":true,"x":[{"include_usage":1}]},"messages":[{"model":"other","max_tokens":1}]}`))
	must(t, err)
	if r.Model != "gpt-4o" || !r.Stream || !r.clientUsage || r.Limit != 0 {
		t.Fatalf("%+v", r)
	}
	if r, err = parseRequest(epChat, []byte(`{"model":"a\"b","stream":null,"stream_options":null}`)); err != nil || r.Model != `a"b` || r.Stream || r.clientUsage {
		t.Fatalf("%+v %v", r, err)
	}
	// Duplicates are found among many names too.
	many := `{"model":"m"`
	for i := range 40 {
		many += fmt.Sprintf(`,"x%d":%d`, i, i)
	}
	if _, err := parseRequest(epChat, []byte(many+`}`)); err != nil {
		t.Fatal(err)
	}
	for _, dup := range []string{`"x3"`, `"x39"`, `"model"`} {
		if _, err := parseRequest(epChat, []byte(many+`,`+dup+`:1}`)); err == nil || err.(*apiError).Code != "duplicate_key" {
			t.Fatalf("duplicate %s: %v", dup, err)
		}
	}
}
