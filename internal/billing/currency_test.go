package billing_test

import (
	"math"
	"testing"

	"pgregory.net/rapid"

	"spectra/internal/billing"
	"spectra/internal/errs"
	"spectra/internal/money"
)

func TestMinorUnits(t *testing.T) {
	cases := []struct {
		currency string
		minor    int64
		micro    money.Amount
	}{
		{"USD", 5000, 50_000_000},
		{"usd", 1, 10_000},
		{"EUR", 123456, 1_234_560_000},
		{"JPY", 5000, 5_000_000_000},
		{"KRW", 1, 1_000_000},
		{"KWD", 1500, 1_500_000},
	}
	for _, c := range cases {
		got, err := billing.FromMinor(c.minor, c.currency)
		if err != nil || got != c.micro {
			t.Errorf("FromMinor(%d, %s) = %d, %v; want %d", c.minor, c.currency, got, err, c.micro)
		}
		back, err := billing.ToMinor(c.micro, c.currency)
		if err != nil || back != c.minor {
			t.Errorf("ToMinor(%d, %s) = %d, %v; want %d", c.micro, c.currency, back, err, c.minor)
		}
	}
}

func TestMinorUnitsRefusals(t *testing.T) {
	for _, c := range []struct {
		name string
		err  error
	}{
		{"fraction of a cent", second(billing.ToMinor(money.Amount(10_005_000), "USD"))},
		{"fraction of a yen", second(billing.ToMinor(money.Amount(1_500_000), "JPY"))},
		{"zero", second(billing.ToMinor(0, "USD"))},
		{"negative minor", second(billing.FromMinor(-1, "USD"))},
		{"overflow", second(billing.FromMinor(math.MaxInt64/100, "JPY"))},
	} {
		if !errs.Is(c.err, "invalid_amount") {
			t.Errorf("%s: got %v, want invalid_amount", c.name, c.err)
		}
	}
}

func second[T any](_ T, err error) error { return err }

func TestMinorUnitsRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		cur := rapid.SampledFrom([]string{"USD", "EUR", "JPY", "KWD", "GBP", "CLP"}).Draw(t, "currency")
		minor := rapid.Int64Range(1, 1e12).Draw(t, "minor")
		a, err := billing.FromMinor(minor, cur)
		if err != nil {
			t.Fatal(err)
		}
		back, err := billing.ToMinor(a, cur)
		if err != nil || back != minor {
			t.Fatalf("round trip %d %s → %d → %d, %v", minor, cur, a, back, err)
		}
	})
}
