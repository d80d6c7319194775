package billing

import (
	"math"
	"strings"

	"spectra/internal/errs"
	"spectra/internal/money"
)

// microPerMinor returns how many micro-units one minor unit of currency is
// (money.MinorUnit).
func microPerMinor(currency string) int64 { return int64(money.MinorUnit(currency)) }

// FromMinor converts an amount in Stripe's minor units of currency (cents, yen…) to
// micro-units, exactly. Negative amounts and overflow are refused.
func FromMinor(minor int64, currency string) (money.Amount, error) {
	f := microPerMinor(currency)
	if minor < 0 {
		return 0, errs.E(errs.Invalid, "invalid_amount", "a payment amount must not be negative")
	}
	if minor > math.MaxInt64/f {
		return 0, errs.E(errs.Invalid, "invalid_amount", "the payment amount is too large")
	}
	return money.Amount(minor * f), nil
}

// ToMinor converts a positive amount to Stripe's minor units of currency. It refuses an
// amount that is not a whole number of minor units (e.g. "10.005" in USD).
func ToMinor(a money.Amount, currency string) (int64, error) {
	f := microPerMinor(currency)
	if a <= 0 {
		return 0, errs.E(errs.Invalid, "invalid_amount", "amount must be greater than zero")
	}
	if int64(a)%f != 0 {
		return 0, errs.E(errs.Invalid, "invalid_amount", "amount %s has more decimals than %s allows (%d)", a, strings.ToUpper(currency), money.MinorDigits(currency))
	}
	return int64(a) / f, nil
}

// validCurrency reports whether c looks like an ISO 4217 code.
func validCurrency(c string) bool {
	if len(c) != 3 {
		return false
	}
	for i := 0; i < 3; i++ {
		if c[i] < 'A' || c[i] > 'Z' {
			return false
		}
	}
	return true
}
