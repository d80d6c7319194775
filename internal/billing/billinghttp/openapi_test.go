package billinghttp_test

import (
	"encoding/json"
	"strings"
	"testing"

	"spectra/internal/billing/billinghttp"
)

// The OpenAPI fragment documents every billing route and nothing else; its own $refs resolve.
func TestOpenAPIFragmentCoversRoutes(t *testing.T) {
	var doc struct {
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components struct {
			Schemas map[string]json.RawMessage `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(billinghttp.OpenAPI, &doc); err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			documented[strings.ToUpper(method)+" "+path] = true
		}
	}
	for _, p := range billinghttp.Patterns() {
		ops := []string{p}
		if strings.HasSuffix(p, "/{file}") { // one route serves the JSON and the PDF
			base := strings.TrimSuffix(p, "{file}")
			ops = []string{base + "{invoice_id}", base + "{invoice_id}.pdf"}
		}
		for _, op := range ops {
			if !documented[op] {
				t.Errorf("route %s is not documented", op)
			}
			delete(documented, op)
		}
	}
	for op := range documented {
		t.Errorf("%s is documented but not a route", op)
	}
	for _, ref := range regexpRefs(string(billinghttp.OpenAPI)) {
		name := strings.TrimPrefix(ref, "#/components/schemas/")
		if _, ok := doc.Components.Schemas[name]; !ok && name != "Error" && name != "Amount" {
			t.Errorf("$ref %s does not resolve", ref)
		}
	}
}

func regexpRefs(s string) []string {
	var out []string
	for {
		i := strings.Index(s, `"$ref": "`)
		if i < 0 {
			return out
		}
		s = s[i+len(`"$ref": "`):]
		out = append(out, s[:strings.Index(s, `"`)])
	}
}
