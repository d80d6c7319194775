package billing_test

import (
	"math/big"
	"testing"

	"pgregory.net/rapid"

	"spectra/internal/billing"
	"spectra/internal/money"
)

func TestIncludedTax(t *testing.T) {
	cases := []struct {
		total money.Amount
		bp    int64
		tax   money.Amount
	}{
		{120_000_000, 2000, 20_000_000}, // 120 incl. 20% → 20
		{50_000_000, 2000, 8_333_333},   // net 41.666667 (half-up) → tax 8.333333
		{1, 2000, 0},                    // net 0.833… rounds to 1
		{3, 2000, 0},                    // net 2.5 rounds half-up to 3
		{6, 2000, 1},                    // net 5
		{100_000_000, 0, 0},
		{100_000_000, 10_000, 50_000_000},
		{money.Max, 2000, 1_537_228_672_809_129_301}, // no overflow: net = round(Max×10000/12000) = 7686143364045646506
	}
	for _, c := range cases {
		if got := billing.IncludedTax(c.total, c.bp); got != c.tax {
			t.Errorf("IncludedTax(%d, %d) = %d, want %d", c.total, c.bp, got, c.tax)
		}
	}
}

// The net is the half-up rounding of total×10000/(10000+bp): |net×(10000+bp) − total×10000| ≤ (10000+bp)/2.
func TestIncludedTaxProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		total := money.Amount(rapid.Int64Range(0, int64(money.Max)).Draw(t, "total"))
		bp := rapid.Int64Range(0, billing.MaxTaxRate).Draw(t, "bp")
		tax := billing.IncludedTax(total, bp)
		net := total - tax
		if tax < 0 || tax > total {
			t.Fatalf("tax %d outside [0, %d]", tax, total)
		}
		den := big.NewInt(10_000 + bp)
		diff := new(big.Int).Sub(new(big.Int).Mul(big.NewInt(int64(net)), den), new(big.Int).Mul(big.NewInt(int64(total)), big.NewInt(10_000)))
		twice := new(big.Int).Mul(diff.Abs(diff), big.NewInt(2))
		if twice.Cmp(den) > 0 {
			t.Fatalf("net %d is not the rounding of %d×10000/%d", net, total, 10_000+bp)
		}
	})
}
