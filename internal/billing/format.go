package billing

import (
	"fmt"
	"strings"

	"spectra/internal/money"
)

// FormatAmount shows an amount exactly, for people: thousands separators, the currency's
// usual decimals, and more only where the micro-units need them — never rounded.
// E.g. FormatAmount(1234567891, "USD") = "USD 1,234.567891", 50_000_000 → "USD 50.00",
// and in JPY 1500_000_000 → "JPY 1,500".
func FormatAmount(a money.Amount, currency string) string {
	s := a.String() // "-1234.567891"
	sign := ""
	if strings.HasPrefix(s, "-") {
		sign, s = "-", s[1:]
	}
	whole, frac, _ := strings.Cut(s, ".")
	keep := MinorDigits(currency)
	frac = strings.TrimRight(frac, "0")
	if len(frac) < keep {
		frac += strings.Repeat("0", keep-len(frac))
	}
	var b strings.Builder
	for i, r := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	out := b.String()
	if frac != "" {
		out += "." + frac
	}
	return fmt.Sprintf("%s %s%s", strings.ToUpper(currency), sign, out)
}

// FormatRate shows a rate in basis points as a percentage: 2000 → "20%", 825 → "8.25%".
func FormatRate(bp int64) string {
	s := fmt.Sprintf("%d.%02d", bp/100, bp%100)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return s + "%"
}
