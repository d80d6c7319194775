package billing

import (
	"math"
	"strings"

	"spectra/internal/errs"
	"spectra/internal/money"
)

// zeroDecimal lists the currencies Stripe counts in whole units (no minor unit).
var zeroDecimal = map[string]bool{
	"BIF": true, "CLP": true, "DJF": true, "GNF": true, "JPY": true, "KMF": true, "KRW": true, "MGA": true,
	"PYG": true, "RWF": true, "UGX": true, "VND": true, "VUV": true, "XAF": true, "XOF": true, "XPF": true,
}

// threeDecimal lists the currencies Stripe counts in thousandths.
var threeDecimal = map[string]bool{"BHD": true, "JOD": true, "KWD": true, "OMR": true, "TND": true}

// MinorDigits returns how many decimals Stripe's minor unit of currency has: 0 for
// zero-decimal currencies such as JPY, 3 for BHD-like ones, 2 for the rest (USD, EUR…).
func MinorDigits(currency string) int {
	c := strings.ToUpper(currency)
	switch {
	case zeroDecimal[c]:
		return 0
	case threeDecimal[c]:
		return 3
	}
	return 2
}

// microPerMinor returns how many micro-units one minor unit of currency is.
func microPerMinor(currency string) int64 {
	f := int64(money.Scale)
	for range MinorDigits(currency) {
		f /= 10
	}
	return f
}

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
		return 0, errs.E(errs.Invalid, "invalid_amount", "amount %s has more decimals than %s allows (%d)", a, strings.ToUpper(currency), MinorDigits(currency))
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
