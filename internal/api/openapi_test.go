package api

import (
	"strings"
	"testing"

	"spectra/internal/openapitest"
)

// TestOpenAPICoversRoutes: the embedded document parses as OpenAPI 3.1, describes every
// registered route and nothing else, and every $ref resolves.
func TestOpenAPICoversRoutes(t *testing.T) {
	var ops []string
	for _, rt := range New(Deps{}).routes() {
		ops = append(ops, strings.Replace(rt.Pattern, "{model...}", "{model}", 1))
	}
	if doc := openapitest.Check(t, openAPIDoc, ops); !strings.HasPrefix(doc.OpenAPI, "3.1") {
		t.Fatalf("openapi %q, want 3.1", doc.OpenAPI)
	}
}
