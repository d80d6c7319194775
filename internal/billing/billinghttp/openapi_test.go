package billinghttp_test

import (
	"strings"
	"testing"

	"spectra/internal/billing/billinghttp"
	"spectra/internal/openapitest"
)

// The OpenAPI fragment documents every billing route and nothing else; its $refs resolve
// to its own schemas or the core's Error and Amount.
func TestOpenAPIFragmentCoversRoutes(t *testing.T) {
	var ops []string
	for _, p := range billinghttp.Patterns() {
		if base, ok := strings.CutSuffix(p, "{file}"); ok { // one route serves the JSON and the PDF
			ops = append(ops, base+"{invoice_id}", base+"{invoice_id}.pdf")
			continue
		}
		ops = append(ops, p)
	}
	openapitest.Check(t, billinghttp.OpenAPI, ops, "Error", "Amount")
}
