package money_test

import (
	"math"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"spectra/internal/money"
)

func TestFormatMoney(t *testing.T) {
	for a, want := range map[money.Amount]string{
		0:                  "$0.00",
		1:                  "$0.000001",
		4_200:              "$0.0042",
		4_999:              "$0.004999",
		5_000:              "$0.01",
		1_234_560_000:      "$1,234.56",
		1_234_565_000:      "$1,234.57",
		999_995_000:        "$1,000.00",
		-3_200_000:         "−$3.20",
		12_000_000_000_000: "$12,000,000.00",
		money.Max:          "$9,223,372,036,854.78",
		math.MinInt64 + 1:  "−$9,223,372,036,854.78",
	} {
		if got := money.Format(a, "USD"); got != want {
			t.Errorf("Format(%d) = %q, want %q", a, got, want)
		}
	}
	if got := money.Format(1_500_000, "EUR"); got != "€1.50" {
		t.Errorf("EUR: %q", got)
	}
	if got := money.Format(1_500_000, "SEK"); got != "SEK 1.50" {
		t.Errorf("SEK: %q", got)
	}
	if got := money.FormatFine(21_543, "USD"); got != "$0.021543" {
		t.Errorf("fine: %q", got)
	}
	if got := money.FormatFine(1_500_000_000, "USD"); got != "$1,500.00" {
		t.Errorf("fine: %q", got)
	}
}

// Property: the people's format is the exact amount rounded half-up to cents, unless
// that would show zero for an amount that is not zero; it then shows every micro-unit.
func TestFormatMoneyProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		a := money.Amount(rapid.Int64Range(-1<<50, 1<<50).Draw(t, "micros"))
		s := money.Format(a, "USD")
		neg := strings.HasPrefix(s, "−")
		digits := strings.ReplaceAll(strings.TrimPrefix(strings.TrimPrefix(s, "−"), "$"), ",", "")
		back, err := money.Parse(digits)
		if err != nil {
			t.Fatalf("%q does not parse: %v", s, err)
		}
		if neg {
			back = -back
		}
		if neg != (a < 0) && back != 0 {
			t.Fatalf("%d formats as %q", a, s)
		}
		diff := int64(back - a)
		if diff < 0 {
			diff = -diff
		}
		if diff > 5_000 {
			t.Fatalf("%d formats as %q, off by %d micro-units", a, s, diff)
		}
		if a != 0 && back == 0 {
			t.Fatalf("%d formats as zero: %q", a, s)
		}
		if _, frac, _ := strings.Cut(digits, "."); (a >= 5_000 || a <= -5_000) && len(frac) != 2 {
			t.Fatalf("%d formats as %q: not cents", a, s)
		}
	})
}
