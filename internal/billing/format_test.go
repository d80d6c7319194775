package billing_test

import (
	"testing"

	"spectra/internal/billing"
	"spectra/internal/money"
)

func TestFormatAmount(t *testing.T) {
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
	}
	for _, c := range cases {
		if got := billing.FormatAmount(c.a, c.currency); got != c.want {
			t.Errorf("FormatAmount(%d, %s) = %q, want %q", c.a, c.currency, got, c.want)
		}
	}
	for bp, want := range map[int64]string{2000: "20%", 825: "8.25%", 1950: "19.5%", 5: "0.05%"} {
		if got := billing.FormatRate(bp); got != want {
			t.Errorf("FormatRate(%d) = %q, want %q", bp, got, want)
		}
	}
}

// Formatting never loses a micro-unit: the digits read back to the same amount.
func TestFormatAmountExact(t *testing.T) {
	for _, a := range []money.Amount{1, 999_999, 1_000_001, 123_456_789_012, money.Max} {
		s := billing.FormatAmount(a, "USD")[4:]
		clean := ""
		for _, r := range s {
			if r != ',' {
				clean += string(r)
			}
		}
		back, err := money.Parse(clean)
		if err != nil || back != a {
			t.Errorf("%d formatted %q reads back %d, %v", a, s, back, err)
		}
	}
}
