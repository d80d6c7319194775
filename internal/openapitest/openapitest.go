// Package openapitest checks an OpenAPI description (the core document or a transport's
// part of it) against the routes it describes, for the transports' coverage tests.
package openapitest

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// Doc is the part of an OpenAPI document the check reads.
type Doc struct {
	OpenAPI    string                                `json:"openapi"`
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components struct {
		Schemas map[string]json.RawMessage `json:"schemas"`
	} `json:"components"`
}

// Check fails t unless doc documents exactly the operations ops ("GET /api/v1/…", as
// route patterns are written) and every $ref in it names one of its own component
// schemas ("#/components/schemas/Name") or one of external (schemas the core document
// holds, such as "Error", for a part merged into it). It returns the parsed document.
func Check(t testing.TB, doc []byte, ops []string, external ...string) Doc {
	t.Helper()
	var d Doc
	if err := json.Unmarshal(doc, &d); err != nil {
		t.Fatalf("the OpenAPI document does not parse: %v", err)
	}
	documented := map[string]bool{}
	for path, methods := range d.Paths {
		for method := range methods {
			documented[strings.ToUpper(method)+" "+path] = true
		}
	}
	for _, op := range ops {
		if !documented[op] {
			t.Errorf("route %s is not documented", op)
		}
		delete(documented, op)
	}
	for op := range documented {
		t.Errorf("%s is documented but not a route", op)
	}
	var all any
	json.Unmarshal(doc, &all)
	for _, ref := range refs(all, nil) {
		name, ok := strings.CutPrefix(ref, "#/components/schemas/")
		if _, own := d.Components.Schemas[name]; !ok || !own && !slices.Contains(external, name) {
			t.Errorf("$ref %s does not resolve", ref)
		}
	}
	return d
}

// refs appends every "$ref" value found in the decoded JSON v to out.
func refs(v any, out []string) []string {
	switch x := v.(type) {
	case map[string]any:
		if ref, ok := x["$ref"].(string); ok {
			out = append(out, ref)
		}
		for _, c := range x {
			out = refs(c, out)
		}
	case []any:
		for _, c := range x {
			out = refs(c, out)
		}
	}
	return out
}
