package pricing

import (
	"bytes"
	"os"
	"testing"

	"spectra/internal/errs"
)

// TestListPrices: the bundled catalog reads in USD (the same file as testdata's copy of
// the shared list prices) and is refused in another currency.
func TestListPrices(t *testing.T) {
	ps, err := ListPrices("USD")
	if err != nil || len(ps) == 0 {
		t.Fatalf("ListPrices: %d prices, %v", len(ps), err)
	}
	if want, err := os.ReadFile("testdata/model-prices.json"); err != nil || !bytes.Equal(want, listPrices) {
		t.Fatalf("the bundled catalog differs from testdata/model-prices.json (%v)", err)
	}
	if _, err := ListPrices("EUR"); !errs.Is(err, "currency_mismatch") {
		t.Fatalf("EUR: %v", err)
	}
}
