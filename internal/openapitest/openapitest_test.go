package openapitest

import (
	"fmt"
	"slices"
	"testing"
)

// recorder is a testing.TB that keeps the errors reported to it.
type recorder struct {
	testing.TB
	errors []string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func TestCheck(t *testing.T) {
	doc := []byte(`{"paths":{
		"/a":{"get":{"responses":{"200":{"content":{"application/json":{"schema":{"$ref":"#/components/schemas/A"}}}}}},
		      "post":{"responses":{"400":{"$ref":"#/components/schemas/Error"}}}},
		"/extra":{"get":{"responses":{"200":{"allOf":[{"$ref":"#/components/schemas/Missing"},{"$ref":"#/components/responses/X"}]}}}}},
		"components":{"schemas":{"A":{"type":"object"}}}}`)
	r := &recorder{TB: t}
	Check(r, doc, []string{"GET /a", "POST /a", "DELETE /a"}, "Error")
	want := []string{
		"route DELETE /a is not documented",
		"GET /extra is documented but not a route",
		"$ref #/components/schemas/Missing does not resolve",
		"$ref #/components/responses/X does not resolve",
	}
	slices.Sort(want)
	slices.Sort(r.errors)
	if !slices.Equal(r.errors, want) {
		t.Fatalf("errors %q, want %q", r.errors, want)
	}
	// Without "Error" as an external schema, its $ref does not resolve either.
	r = &recorder{TB: t}
	Check(r, doc, []string{"GET /a", "POST /a", "GET /extra"})
	if !slices.Contains(r.errors, "$ref #/components/schemas/Error does not resolve") || len(r.errors) != 3 {
		t.Fatalf("errors %q", r.errors)
	}
}
