package pricing_test

import (
	"testing"

	"spectra/internal/errs"
	"spectra/internal/pricing"
)

// TestAdjustPercent: adjust_percent reads into basis points exactly (no float), within
// (-100, 1000] and at most 2 decimals, and writes back the same way.
func TestAdjustPercent(t *testing.T) {
	for _, tc := range []struct {
		in   string
		bp   int64
		out  string
		code string
	}{
		{"-15", -1500, "-15", ""},
		{"12.5", 1250, "12.5", ""},
		{"0.05", 5, "0.05", ""},
		{"-0.01", -1, "-0.01", ""},
		{"+7", 700, "7", ""},
		{"0", 0, "0", ""},
		{"-99.99", -9999, "-99.99", ""},
		{"1000", 100000, "1000", ""},
		{"1000.00", 100000, "1000", ""},
		{"-100", 0, "", "invalid_adjust_percent"},
		{"1000.01", 0, "", "invalid_adjust_percent"},
		{"1.234", 0, "", "invalid_adjust_percent"},
		{"1e2", 0, "", "invalid_adjust_percent"},
		{"1.", 0, "", "invalid_adjust_percent"},
		{".5", 0, "", "invalid_adjust_percent"},
		{"", 0, "", "invalid_adjust_percent"},
		{"--5", 0, "", "invalid_adjust_percent"},
		{"-+5", 0, "", "invalid_adjust_percent"},
		{"99999999999999999999", 0, "", "invalid_adjust_percent"},
		{"ten", 0, "", "invalid_adjust_percent"},
	} {
		bp, err := pricing.ParseAdjustPercent(tc.in)
		if tc.code != "" {
			if err == nil || errs.CodeOf(err) != tc.code {
				t.Errorf("%q: %d %v, want %s", tc.in, bp, err, tc.code)
			}
			continue
		}
		if err != nil || bp != tc.bp {
			t.Errorf("%q: %d %v, want %d", tc.in, bp, err, tc.bp)
			continue
		}
		if got := pricing.FormatAdjustPercent(bp); got != tc.out {
			t.Errorf("%d formats as %q, want %q", bp, got, tc.out)
		}
	}
}
