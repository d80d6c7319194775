package money_test

import (
	"strings"
	"testing"

	"spectra/internal/money"
)

func TestMinorDigits(t *testing.T) {
	for c, want := range map[string]int{"USD": 2, "eur": 2, "JPY": 0, "jpy": 0, "KRW": 0, "KWD": 3, "SEK": 2} {
		if got := money.MinorDigits(c); got != want {
			t.Errorf("MinorDigits(%s) = %d, want %d", c, got, want)
		}
	}
	for c, want := range map[string]money.Amount{"USD": 10_000, "JPY": money.Scale, "KWD": 1_000} {
		if got := money.MinorUnit(c); got != want {
			t.Errorf("MinorUnit(%s) = %d, want %d", c, got, want)
		}
	}
}

// A zero-decimal currency shows no decimals for people (the dashboard: Format,
// FormatFine) nor on documents (invoices: FormatExact): "¥1,500", never "¥1,500.00".
func TestFormatJPYHasNoDecimals(t *testing.T) {
	const a = 1_500 * money.Scale
	for _, c := range []struct{ got, want string }{
		{money.Format(a, "JPY"), "¥1,500"},
		{money.FormatFine(a, "JPY"), "¥1,500"},
		{money.FormatExact(a, "JPY"), "JPY 1,500"},
		{money.Format(1_500_500_000, "JPY"), "¥1,501"}, // half-up to the yen
		{money.Format(1_500_499_999, "JPY"), "¥1,500"},
		{money.Format(400_000, "JPY"), "¥0.4"}, // not free
		{money.Format(-2*money.Scale, "JPY"), "−¥2"},
		{money.FormatExact(1_500_500_000, "JPY"), "JPY 1,500.5"}, // exact, never rounded
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
	for _, s := range []string{money.Format(a, "JPY"), money.FormatExact(a, "JPY")} {
		if strings.Contains(s, ".") {
			t.Errorf("%q shows decimals", s)
		}
	}
}

// A three-decimal currency shows thousandths.
func TestFormatThreeDecimals(t *testing.T) {
	if got := money.Format(1_234_500, "KWD"); got != "KWD 1.235" {
		t.Errorf("Format KWD = %q", got)
	}
	if got := money.Format(999_999_600, "KWD"); got != "KWD 1,000.000" {
		t.Errorf("Format KWD = %q", got)
	}
}

func TestFormatExact(t *testing.T) {
	cases := []struct {
		a        money.Amount
		currency string
		want     string
	}{
		{1_234_567_891, "USD", "USD 1,234.567891"},
		{50_000_000, "USD", "USD 50.00"},
		{50_100_000, "USD", "USD 50.10"},
		{1, "USD", "USD 0.000001"},
		{0, "EUR", "EUR 0.00"},
		{-2_500_000, "USD", "USD -2.50"},
		{1_500_000_000, "JPY", "JPY 1,500"},
		{1_500_500_000, "JPY", "JPY 1,500.5"},
		{1_000_000_000_000_000, "USD", "USD 1,000,000,000.00"},
		{1_234_500, "KWD", "KWD 1.2345"},
		{1_500_000, "kwd", "KWD 1.500"},
	}
	for _, c := range cases {
		if got := money.FormatExact(c.a, c.currency); got != c.want {
			t.Errorf("FormatExact(%d, %s) = %q, want %q", c.a, c.currency, got, c.want)
		}
	}
}

// Exact formatting never loses a micro-unit: the digits read back to the same amount.
func TestFormatExactReadsBack(t *testing.T) {
	for _, a := range []money.Amount{1, 999_999, 1_000_001, 123_456_789_012, money.Max} {
		s := money.FormatExact(a, "USD")[4:]
		back, err := money.Parse(strings.ReplaceAll(s, ",", ""))
		if err != nil || back != a {
			t.Errorf("%d formatted %q reads back %d, %v", a, s, back, err)
		}
	}
}
