package api

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestOpenAPICoversRoutes: the embedded document parses as OpenAPI 3.1, describes every
// registered route and nothing else, and every $ref resolves.
func TestOpenAPICoversRoutes(t *testing.T) {
	var doc struct {
		OpenAPI    string                                `json:"openapi"`
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components struct {
			Schemas map[string]json.RawMessage `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(openAPIDoc, &doc); err != nil {
		t.Fatalf("openapi.json does not parse: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1") {
		t.Fatalf("openapi %q, want 3.1", doc.OpenAPI)
	}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			documented[strings.ToUpper(method)+" "+path] = true
		}
	}
	s := New(Deps{})
	for _, rt := range s.routes() {
		op := strings.Replace(rt.pattern, "{model...}", "{model}", 1)
		if !documented[op] {
			t.Errorf("route %s is not in openapi.json", rt.pattern)
		}
		delete(documented, op)
	}
	for op := range documented {
		t.Errorf("openapi.json documents %s, which is not a route", op)
	}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if ref, ok := x["$ref"].(string); ok {
				name, found := strings.CutPrefix(ref, "#/components/schemas/")
				if _, exists := doc.Components.Schemas[name]; !found || !exists {
					t.Errorf("$ref %s does not resolve", ref)
				}
			}
			for _, c := range x {
				walk(c)
			}
		case []any:
			for _, c := range x {
				walk(c)
			}
		}
	}
	var all any
	json.Unmarshal(openAPIDoc, &all)
	walk(all)
}
