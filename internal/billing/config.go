package billing

import (
	"fmt"
	"strings"
	"time"

	"spectra/internal/money"
)

// ParseTaxRate reads a percentage such as "20", "8.25" or "0" (at most two decimals)
// into basis points, for cmd/spectra's SPECTRA_TAX_RATE.
func ParseTaxRate(s string) (int64, error) {
	s = strings.TrimSuffix(strings.TrimSpace(s), "%")
	if s == "" {
		return 0, nil
	}
	a, err := money.ParseNonNegative(s)
	if err != nil || int64(a)%(money.Scale/100) != 0 {
		return 0, fmt.Errorf("tax rate %q is not a percentage with at most two decimals", s)
	}
	bp := int64(a) / (money.Scale / 100)
	if bp > MaxTaxRate {
		return 0, fmt.Errorf("tax rate %q is above 100%%", s)
	}
	return bp, nil
}

// MaxPaidCreditExpiry bounds SPECTRA_PAID_CREDIT_EXPIRY: 100 years.
const MaxPaidCreditExpiry = 100 * 8766 * time.Hour

// ParsePaidCreditExpiry reads cmd/spectra's SPECTRA_PAID_CREDIT_EXPIRY: a Go duration
// such as "8760h" (a year), at least an hour; "" or "0" is none (paid credit never expires).
func ParsePaidCreditExpiry(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "0" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration such as 8760h", s)
	}
	if d < time.Hour || d > MaxPaidCreditExpiry {
		return 0, fmt.Errorf("%q must be from 1h to 876600h (100 years), or 0 for none", s)
	}
	return d, nil
}

// ParseAmounts reads a comma-separated list of positive amounts ("10,25,50"), for
// cmd/spectra's SPECTRA_RECHARGE_PRESETS. An empty string gives nil (the defaults).
func ParseAmounts(s string) ([]money.Amount, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []money.Amount
	for item := range strings.SplitSeq(s, ",") {
		a, err := money.ParsePositive(strings.TrimSpace(item))
		if err != nil {
			return nil, fmt.Errorf("amount %q: %w", strings.TrimSpace(item), err)
		}
		out = append(out, a)
	}
	return out, nil
}
