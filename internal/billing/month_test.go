package billing_test

import (
	"testing"
	"time"

	"spectra/internal/billing"
	"spectra/internal/errs"
)

func TestMonth(t *testing.T) {
	m, err := billing.ParseMonth("2026-03")
	if err != nil || m != (billing.Month{Year: 2026, Month: time.March}) || m.String() != "2026-03" {
		t.Fatalf("ParseMonth = %v, %v", m, err)
	}
	for _, bad := range []string{"", "2026-3", "2026-13", "March", "2026-03-01"} {
		if _, err := billing.ParseMonth(bad); !errs.Is(err, "invalid_month") {
			t.Errorf("ParseMonth(%q) = %v, want invalid_month", bad, err)
		}
	}
	ny, _ := time.LoadLocation("America/New_York")
	if got, want := m.Start(ny), time.Date(2026, 3, 1, 5, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("Start = %v, want %v", got, want)
	}
	if got, want := m.End(ny), time.Date(2026, 4, 1, 4, 0, 0, 0, time.UTC); !got.Equal(want) { // DST began on 8 March
		t.Errorf("End = %v, want %v", got, want)
	}
	if got := (billing.Month{Year: 2026, Month: time.January}).Prev(); got != (billing.Month{Year: 2025, Month: time.December}) {
		t.Errorf("Prev = %v", got)
	}
	if got := billing.MonthOf(time.Date(2026, 4, 1, 2, 0, 0, 0, time.UTC), ny); got != m {
		t.Errorf("MonthOf = %v, want %v (still March in New York)", got, m)
	}
}
