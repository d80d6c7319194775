package money

import (
	"strconv"
	"strings"
)

// Formatting amounts for people (the dashboard, alert emails, invoices): currency
// symbol or code, thousands separators, the currency's minor digits (MinorDigits).
// Integers only, like the rest of the package; the machine form is String.

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

// Format formats a for people: "$1,234.56", "¥1,500", rounded half-up to the
// currency's minor unit (MinorDigits). An amount that is not zero but rounds to zero
// shows its significant micro-units instead ("$0.0042"), so a small charge never reads
// as free.
func Format(a Amount, currency string) string {
	neg := a < 0
	u := uint64(a)
	if neg {
		u = uint64(-(a + 1)) + 1
	}
	whole, frac := u/Scale, u%Scale
	digits := MinorDigits(currency)
	unit := uint64(MinorUnit(currency))
	minor := (frac + unit/2) / unit // half-up to the minor unit
	var s string
	switch {
	case whole == 0 && minor == 0 && frac != 0:
		d := strings.TrimRight(strconv.FormatUint(frac+Scale, 10)[1:], "0")
		s = "0." + d
	default:
		if minor == Scale/unit {
			whole, minor = whole+1, 0
		}
		s = GroupDigits(strconv.FormatUint(whole, 10))
		if digits > 0 {
			s += "." + strconv.FormatUint(minor+Scale/unit, 10)[1:]
		}
	}
	if neg {
		return "−" + Symbol(currency) + s
	}
	return Symbol(currency) + s
}

// exact returns a's digits, never rounded: the whole part grouped by thousands, then
// the currency's minor digits and more only where the micro-units need them.
func exact(a Amount, currency string) (neg bool, digits string) {
	str := a.String()
	neg = strings.HasPrefix(str, "-")
	str = strings.TrimPrefix(str, "-")
	whole, frac, _ := strings.Cut(str, ".")
	frac = strings.TrimRight(frac, "0")
	if keep := MinorDigits(currency); len(frac) < keep {
		frac += strings.Repeat("0", keep-len(frac))
	}
	digits = GroupDigits(whole)
	if frac != "" {
		digits += "." + frac
	}
	return neg, digits
}

// FormatFine formats an amount with all its significant micro-units (at least the
// currency's minor digits): "$0.021543", "$1.50", "¥1,500". For per-request costs.
func FormatFine(a Amount, currency string) string {
	neg, s := exact(a, currency)
	if neg {
		return "−" + Symbol(currency) + s
	}
	return Symbol(currency) + s
}

// FormatExact shows an amount exactly for documents (invoices, receipts, error
// messages): the ISO code, thousands separators, the currency's minor digits and more
// only where the micro-units need them, never rounded. E.g. FormatExact(1234567891,
// "USD") = "USD 1,234.567891", 50_000_000 → "USD 50.00", and in JPY 1500_000_000 →
// "JPY 1,500", the decimals Format shows for the same currency.
func FormatExact(a Amount, currency string) string {
	neg, s := exact(a, currency)
	if neg {
		s = "-" + s
	}
	return strings.ToUpper(currency) + " " + s
}
