package billing_test

import (
	"testing"
	"time"

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

func TestParsePaidCreditExpiry(t *testing.T) {
	for in, want := range map[string]time.Duration{"": 0, "0": 0, "8760h": 8760 * time.Hour, " 720h ": 720 * time.Hour} {
		if got, err := billing.ParsePaidCreditExpiry(in); err != nil || got != want {
			t.Errorf("ParsePaidCreditExpiry(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"a year", "30m", "-8760h", "1000000h"} {
		if _, err := billing.ParsePaidCreditExpiry(in); err == nil {
			t.Errorf("ParsePaidCreditExpiry(%q) accepted", in)
		}
	}
}
