package billing

import (
	"fmt"
	"time"

	"spectra/internal/errs"
)

// Month is a calendar month, e.g. 2026-03. Where it starts and ends depends on a time zone.
type Month struct {
	Year  int
	Month time.Month
}

// ParseMonth reads "YYYY-MM".
func ParseMonth(s string) (Month, error) {
	t, err := time.Parse("2006-01", s)
	if err != nil || len(s) != 7 {
		return Month{}, errs.E(errs.Invalid, "invalid_month", "month must be YYYY-MM, e.g. 2026-03")
	}
	return Month{t.Year(), t.Month()}, nil
}

// MonthOf returns the month that holds t in loc.
func MonthOf(t time.Time, loc *time.Location) Month {
	t = t.In(loc)
	return Month{t.Year(), t.Month()}
}

// String returns "YYYY-MM".
func (m Month) String() string { return fmt.Sprintf("%04d-%02d", m.Year, int(m.Month)) }

// Start returns the first instant of m in loc.
func (m Month) Start(loc *time.Location) time.Time {
	return time.Date(m.Year, m.Month, 1, 0, 0, 0, 0, loc)
}

// End returns the first instant after m in loc.
func (m Month) End(loc *time.Location) time.Time {
	return time.Date(m.Year, m.Month+1, 1, 0, 0, 0, 0, loc)
}

// Prev returns the month before m.
func (m Month) Prev() Month {
	t := time.Date(m.Year, m.Month-1, 1, 0, 0, 0, 0, time.UTC)
	return Month{t.Year(), t.Month()}
}

// Next returns the month after m.
func (m Month) Next() Month {
	t := time.Date(m.Year, m.Month+1, 1, 0, 0, 0, 0, time.UTC)
	return Month{t.Year(), t.Month()}
}

func (m Month) before(o Month) bool {
	return m.Year < o.Year || m.Year == o.Year && m.Month < o.Month
}

func (m Month) after(o Month) bool { return o.before(m) }

// MarshalText encodes m as "YYYY-MM".
func (m Month) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText parses "YYYY-MM".
func (m *Month) UnmarshalText(b []byte) error {
	v, err := ParseMonth(string(b))
	if err != nil {
		return err
	}
	*m = v
	return nil
}
