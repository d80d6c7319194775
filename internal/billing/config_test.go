package billing_test

import (
	"testing"

	"spectra/internal/billing"
	"spectra/internal/money"
)

func TestParseTaxRate(t *testing.T) {
	for s, want := range map[string]int64{"20": 2000, "8.25": 825, "0": 0, "": 0, "19.5%": 1950, "100": 10_000} {
		if got, err := billing.ParseTaxRate(s); err != nil || got != want {
			t.Errorf("ParseTaxRate(%q) = %d, %v; want %d", s, got, err, want)
		}
	}
	for _, s := range []string{"8.255", "-1", "101", "twenty"} {
		if _, err := billing.ParseTaxRate(s); err == nil {
			t.Errorf("ParseTaxRate(%q) accepted", s)
		}
	}
}

func TestParseAmounts(t *testing.T) {
	got, err := billing.ParseAmounts(" 10, 25.5 ,100")
	if err != nil || len(got) != 3 || got[1] != money.Amount(25_500_000) {
		t.Fatalf("ParseAmounts = %v, %v", got, err)
	}
	if got, err := billing.ParseAmounts(""); got != nil || err != nil {
		t.Fatalf("empty: %v %v", got, err)
	}
	if _, err := billing.ParseAmounts("10,0"); err == nil {
		t.Fatal("zero accepted")
	}
}
