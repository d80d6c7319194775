package billing

import (
	"math/big"

	"spectra/internal/money"
)

// MaxTaxRate is the highest tax rate accepted, in basis points (100%).
const MaxTaxRate = 10_000

// IncludedTax returns the tax contained in a tax-inclusive total at rateBP basis points:
// total − net, where net = total × 10000 / (10000 + rateBP) rounded once, half-up, to a
// whole micro-unit. So net + tax = total exactly, and the total equals the ledger credit.
// Computed in big integers: no float, no overflow.
func IncludedTax(total money.Amount, rateBP int64) money.Amount {
	if rateBP <= 0 || total == 0 {
		return 0
	}
	neg := total < 0
	t := big.NewInt(int64(total))
	if neg {
		t.Neg(t)
	}
	num := new(big.Int).Mul(t, big.NewInt(10_000))
	den := big.NewInt(10_000 + rateBP)
	// half-up: floor((2·num + den) / (2·den))
	num.Mul(num, big.NewInt(2)).Add(num, den)
	net := num.Quo(num, den.Mul(den, big.NewInt(2)))
	tax := new(big.Int).Sub(t, net).Int64()
	if neg {
		return -money.Amount(tax)
	}
	return money.Amount(tax)
}
