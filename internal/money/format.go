package money

import (
	"strconv"
	"strings"
)

// Formatting amounts for people (the dashboard, alert emails): currency symbol,
// thousands separators, cents. Integers only, like the rest of the package; the exact
// form is String.

// GroupDigits inserts a comma every three digits of a run of decimal digits: "1234567"
// → "1,234,567".
func GroupDigits(digits string) string {
	if len(digits) <= 3 {
		return digits
	}
	var b strings.Builder
	head := len(digits) % 3
	if head > 0 {
		b.WriteString(digits[:head])
	}
	for i := head; i < len(digits); i += 3 {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(digits[i : i+3])
	}
	return b.String()
}

// currencySymbols maps ISO codes to the symbol shown before an amount.
var currencySymbols = map[string]string{"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "CAD": "CA$", "AUD": "A$", "CHF": "CHF "}

// Symbol is what precedes an amount of the currency for people: "$", "€", or the
// code and a space.
func Symbol(code string) string {
	if s, ok := currencySymbols[code]; ok {
		return s
	}
	return code + " "
}

// Format formats a for people: "$1,234.56", rounded half-up to cents. An amount
// that is not zero but rounds to zero cents shows its significant micro-units instead
// ("$0.0042"), so a small charge never reads as free.
func Format(a Amount, currency string) string {
	neg := a < 0
	u := uint64(a)
	if neg {
		u = uint64(-(a + 1)) + 1
	}
	whole, frac := u/Scale, u%Scale
	var s string
	cents := (frac + 5_000) / 10_000 // half-up to 2 decimals
	switch {
	case whole == 0 && cents == 0 && frac != 0:
		d := strings.TrimRight(strconv.FormatUint(frac+Scale, 10)[1:], "0")
		s = GroupDigits(strconv.FormatUint(whole, 10)) + "." + d
	default:
		if cents == 100 {
			whole, cents = whole+1, 0
		}
		s = GroupDigits(strconv.FormatUint(whole, 10)) + "." + strconv.FormatUint(cents+100, 10)[1:]
	}
	if neg {
		return "−" + Symbol(currency) + s
	}
	return Symbol(currency) + s
}

// FormatFine formats a small amount with all its significant micro-units (at
// least cents): "$0.021543", "$1.50". For per-request costs.
func FormatFine(a Amount, currency string) string {
	str := a.String()
	neg := strings.HasPrefix(str, "-")
	str = strings.TrimPrefix(str, "-")
	whole, frac, _ := strings.Cut(str, ".")
	frac = strings.TrimRight(frac, "0")
	for len(frac) < 2 {
		frac += "0"
	}
	whole = GroupDigits(whole)
	if neg {
		return "−" + Symbol(currency) + whole + "." + frac
	}
	return Symbol(currency) + whole + "." + frac
}
