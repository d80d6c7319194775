package pricing

import (
	_ "embed"
)

// listPrices is the bundled list-price catalog: a copy of the shared model-prices.json
// (providers' published list prices in USD per million tokens), which the first-run
// setup offers to load for the models an upstream serves. It is never fetched or
// updated by itself; operators keep their own catalog.
//
//go:embed listprices.json
var listPrices []byte

// ListPrices returns the bundled list prices, one per model, read by ParseCatalogFile
// in the deployment's currency (currency_mismatch when it is not the catalog's, USD).
func ListPrices(currency string) ([]Price, error) {
	return ParseCatalogFile(listPrices, currency)
}
