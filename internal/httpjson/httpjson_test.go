package httpjson_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"spectra/internal/errs"
	"spectra/internal/httpjson"
)

type input struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
}

// Every rejection has its code and message, in both wordings the transports use.
func TestDecodeRejections(t *testing.T) {
	const limit = 64
	big := `{"name":"` + strings.Repeat("x", limit) + `"}`
	for _, c := range []struct {
		body, code   string
		named, plain string // message with and without NameTypes+LimitAfterValue
	}{
		{``, "invalid_json", "the request body is empty; a JSON object is required", ""},
		{`{"name":`, "invalid_json", "the request body is not valid JSON", ""},
		{`{"name" 1}`, "invalid_json", "the request body is not valid JSON", ""},
		{`[1]`, "invalid_json", "the request body must be a JSON object", ""},
		{`{"count":"3"}`, "invalid_field_type", `field "count" must be a JSON integer`, `field "count" has the wrong type`},
		{`{"name":3}`, "invalid_field_type", `field "name" must be a JSON string`, `field "name" has the wrong type`},
		{`{"nope":1}`, "unknown_field", `unknown field "nope"`, ""},
		{`{} {}`, "invalid_json", "the request body holds more than one JSON value", ""},
		{`{} x`, "invalid_json", "the request body holds more than one JSON value", ""},
		{big, "body_too_large", "the request body is larger than 64 bytes", ""},
	} {
		for _, named := range []bool{true, false} {
			d := httpjson.Decoder{Limit: limit, NameTypes: named, LimitAfterValue: named}
			want := c.named
			if !named && c.plain != "" {
				want = c.plain
			}
			t.Run(fmt.Sprintf("%s/%v", c.body, named), func(t *testing.T) {
				err := decode(d, c.body)
				var e *errs.Error
				if !errors.As(err, &e) || e.Kind != errs.Invalid || e.Code != c.code || e.Message != want {
					t.Fatalf("%q: %v, want %s: %s", c.body, err, c.code, want)
				}
			})
		}
	}
}

// A body that goes past the limit only after its first value: body_too_large for the
// core API's wording, invalid_json for the others'.
func TestDecodeLimitAfterValue(t *testing.T) {
	body := `{"name":"a"}` + strings.Repeat(" ", 100) + `{}`
	if err := decode(httpjson.Decoder{Limit: 64, LimitAfterValue: true}, body); errs.CodeOf(err) != "body_too_large" {
		t.Fatalf("LimitAfterValue: %v", err)
	}
	if err := decode(httpjson.Decoder{Limit: 64}, body); errs.CodeOf(err) != "invalid_json" {
		t.Fatalf("plain: %v", err)
	}
}

func TestDecodeAccepts(t *testing.T) {
	var in input
	r := httptest.NewRequest("POST", "/", strings.NewReader(" {\"name\":\"a\",\"count\":2}\n"))
	if err := (httpjson.Decoder{Limit: 64}).Decode(httptest.NewRecorder(), r, &in); err != nil || in != (input{"a", 2}) {
		t.Fatalf("%v %+v", err, in)
	}
}

func decode(d httpjson.Decoder, body string) error {
	var in input
	return d.Decode(httptest.NewRecorder(), httptest.NewRequest("POST", "/", strings.NewReader(body)), &in)
}

func TestWriteError(t *testing.T) {
	for _, c := range []struct {
		err          error
		status       int
		code, msg    string
		authenticate bool
	}{
		{errs.E(errs.Invalid, "bad_thing", "a bad thing"), 400, "bad_thing", "a bad thing", false},
		{errs.E(errs.Unauthorized, "unauthorized", "sign in"), 401, "unauthorized", "sign in", true},
		{errs.E(errs.PaymentRequired, "insufficient_funds", "top up"), 402, "insufficient_funds", "top up", false},
		{errs.E(errs.Forbidden, "forbidden", "no"), 403, "forbidden", "no", false},
		{errs.E(errs.NotFound, "x_not_found", "none"), 404, "x_not_found", "none", false},
		{errs.E(errs.Conflict, "taken", "taken"), 409, "taken", "taken", false},
		{errs.E(errs.RateLimited, "slow_down", "wait"), 429, "slow_down", "wait", false},
		{errs.E(errs.Unavailable, "down", "later"), 503, "down", "later", false},
		{errs.E(errs.Internal, "db_broke", "secret detail"), 500, "internal_error", httpjson.InternalMessage, false},
		{fmt.Errorf("wrapped: %w", context.Canceled), 500, "internal_error", httpjson.InternalMessage, false},
		{errors.New("plain"), 500, "internal_error", httpjson.InternalMessage, false},
	} {
		w := httptest.NewRecorder()
		httpjson.WriteError(w, nil, c.err)
		var body httpjson.Error
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || w.Code != c.status || body.Error.Code != c.code || body.Error.Message != c.msg {
			t.Errorf("%v: %d %s", c.err, w.Code, w.Body)
		}
		if got := w.Header().Get("WWW-Authenticate"); (got == `Bearer realm="spectra"`) != c.authenticate {
			t.Errorf("%v: WWW-Authenticate %q", c.err, got)
		}
	}
}

func TestWrite(t *testing.T) {
	w := httptest.NewRecorder()
	httpjson.Write(w, http.StatusCreated, map[string]int{"a": 1})
	h := w.Header()
	if w.Code != 201 || w.Body.String() != "{\"a\":1}\n" || h.Get("Content-Type") != "application/json" ||
		h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Cache-Control") != "no-store" {
		t.Fatalf("%d %q %v", w.Code, w.Body, h)
	}
	// A Cache-Control the handler chose is kept.
	w = httptest.NewRecorder()
	w.Header().Set("Cache-Control", "public, max-age=300")
	httpjson.Write(w, http.StatusOK, "x")
	if got := w.Header().Get("Cache-Control"); got != "public, max-age=300" {
		t.Fatalf("Cache-Control %q", got)
	}
	// A value that cannot be encoded is a 500 internal_error.
	w = httptest.NewRecorder()
	httpjson.Write(w, http.StatusOK, func() {})
	if w.Code != 500 || !strings.Contains(w.Body.String(), `"code":"internal_error"`) {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
}
