package httpjson

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"

	"spectra/internal/errs"
	"spectra/internal/text"
)

// Decoder reads a request body holding exactly one JSON object, refusing unknown
// fields, wrong types, trailing data and oversized bodies with kind Invalid and the
// codes body_too_large, invalid_json, invalid_field_type and unknown_field.
//
// The transports' copies differed in two messages; the two switches keep each route's
// wording (the core API sets both, billing, budgets and webhooks neither).
type Decoder struct {
	// Limit is the largest body read, in bytes.
	Limit int64
	// NameTypes makes invalid_field_type name the JSON type the field takes
	// (`field "x" must be a JSON integer`) rather than `field "x" has the wrong type`.
	NameTypes bool
	// LimitAfterValue reports a body that passes Limit after its first value as
	// body_too_large rather than invalid_json ("more than one JSON value").
	LimitAfterValue bool
}

// Decode reads one JSON object from r's body into v.
func (d Decoder) Decode(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, d.Limit))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return d.bodyError(err)
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		var tooLarge *http.MaxBytesError
		if d.LimitAfterValue && errors.As(err, &tooLarge) {
			return d.bodyError(err)
		}
		return errs.E(errs.Invalid, "invalid_json", "the request body holds more than one JSON value")
	}
	return nil
}

// bodyError turns a JSON decoding error into an *errs.Error.
func (d Decoder) bodyError(err error) error {
	var tooLarge *http.MaxBytesError
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var own *errs.Error // a field's own UnmarshalJSON refusal keeps its code
	switch {
	case errors.As(err, &own):
		return own
	case errors.As(err, &tooLarge):
		return errs.E(errs.Invalid, "body_too_large", "the request body is larger than %d bytes", tooLarge.Limit)
	case errors.Is(err, io.EOF):
		return errs.E(errs.Invalid, "invalid_json", "the request body is empty; a JSON object is required")
	case errors.As(err, &syntax), errors.Is(err, io.ErrUnexpectedEOF):
		return errs.E(errs.Invalid, "invalid_json", "the request body is not valid JSON")
	case errors.As(err, &typ):
		if typ.Field == "" {
			return errs.E(errs.Invalid, "invalid_json", "the request body must be a JSON object")
		}
		if !d.NameTypes {
			return errs.E(errs.Invalid, "invalid_field_type", "field %q has the wrong type", typ.Field)
		}
		return FieldTypeError(typ)
	}
	if err := UnknownFieldError(err); err != nil {
		return err
	}
	return errs.E(errs.Invalid, "invalid_json", "the request body could not be read")
}

// FieldTypeError is invalid_field_type for a value of the wrong JSON type, naming the
// type the field takes: `field "x" must be a JSON integer`.
func FieldTypeError(typ *json.UnmarshalTypeError) error {
	return errs.E(errs.Invalid, "invalid_field_type", "field %q must be a JSON %s", typ.Field, JSONType(typ.Type.Kind()))
}

// UnknownFieldError is unknown_field when err is encoding/json's report of an unknown
// field (from DisallowUnknownFields), else nil.
func UnknownFieldError(err error) error {
	name, ok := strings.CutPrefix(err.Error(), "json: unknown field ")
	if !ok {
		return nil
	}
	return errs.E(errs.Invalid, "unknown_field", "unknown field %s", name)
}

// JSONType names the JSON type that a Go kind decodes from.
func JSONType(k reflect.Kind) string {
	switch k {
	case reflect.String:
		return "string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Bool:
		return "boolean"
	case reflect.Slice, reflect.Array:
		return "array"
	}
	return "object"
}

// RequestText applies the text rule (internal/text) to a request's path and to every
// name and value of its query: a path segment, cursor or filter holding a NUL byte, a
// control character or invalid UTF-8 is invalid_text before any handler or database
// sees it. Each parameter's own bounds stay its handler's or service's. Every
// transport calls it before its handlers.
func RequestText(r *http.Request) error {
	if p := text.Problem(r.URL.Path, false); p != "" {
		return errs.E(errs.Invalid, text.Code, "the path %s", p)
	}
	if r.URL.RawQuery == "" {
		return nil
	}
	q, _ := url.ParseQuery(r.URL.RawQuery) // a pair that cannot be decoded is dropped, as by r.URL.Query
	for name, vs := range q {
		if p := text.Problem(name, false); p != "" {
			return errs.E(errs.Invalid, text.Code, "a query parameter name %s", p)
		}
		for _, v := range vs {
			if p := text.Problem(v, false); p != "" {
				return errs.E(errs.Invalid, text.Code, "query parameter %q %s", name, p)
			}
		}
	}
	return nil
}
