package billing_test

import (
	"testing"

	"spectra/internal/billing"
)

func TestFormatRate(t *testing.T) {
	for bp, want := range map[int64]string{2000: "20%", 825: "8.25%", 1950: "19.5%", 5: "0.05%"} {
		if got := billing.FormatRate(bp); got != want {
			t.Errorf("FormatRate(%d) = %q, want %q", bp, got, want)
		}
	}
}
