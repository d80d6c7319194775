package money

import "strings"

// zeroDecimal lists the currencies counted in whole units (no minor unit), as Stripe
// counts them.
var zeroDecimal = map[string]bool{
	"BIF": true, "CLP": true, "DJF": true, "GNF": true, "JPY": true, "KMF": true, "KRW": true, "MGA": true,
	"PYG": true, "RWF": true, "UGX": true, "VND": true, "VUV": true, "XAF": true, "XOF": true, "XPF": true,
}

// threeDecimal lists the currencies counted in thousandths.
var threeDecimal = map[string]bool{"BHD": true, "JOD": true, "KWD": true, "OMR": true, "TND": true}

// MinorDigits returns how many decimals the minor unit of currency has (the ISO 4217
// code, in any case), as Stripe counts them: 0 for zero-decimal currencies such as JPY,
// 3 for BHD-like ones, 2 for the rest (USD, EUR…). Every amount shown to people and
// every amount sent to Stripe uses it.
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

// MinorUnit returns how many micro-units one minor unit of currency is: 10_000 for a
// cent, Scale for a yen, 1_000 for a fils.
func MinorUnit(currency string) Amount {
	f := Amount(Scale)
	for range MinorDigits(currency) {
		f /= 10
	}
	return f
}
