package web

import (
	"math"
	"testing"
	"time"

	"spectra/internal/money"
)

func TestCompactAndInt(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 950: "950", 9_999: "9,999", 12_345: "12.3K", 100_000: "100K", 999_999: "1.0M",
		1_000_000: "1.0M", 1_234_567: "1.2M", 3_400_000_000: "3.4B", 5_000_000_000_000: "5.0T", -12_345: "−12.3K"} {
		if got := compactInt(n); got != want {
			t.Errorf("compactInt(%d) = %q, want %q", n, got, want)
		}
	}
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -1234: "−1,234", math.MinInt64: "−9,223,372,036,854,775,808"} {
		if got := formatInt(n); got != want {
			t.Errorf("formatInt(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestPerThousandAndChange(t *testing.T) {
	if got := perThousand(10_000_000, 3); got != 3_333_333_333 {
		t.Errorf("perThousand = %d", got)
	}
	if got := perThousand(2, 3); got != 667 { // 666.67 rounds half-up
		t.Errorf("perThousand = %d", got)
	}
	if perThousand(5, 0) != 0 {
		t.Error("no requests")
	}
	for _, tc := range []struct {
		cur, prev int64
		text, dir string
	}{
		{110, 100, "+10%", "up"}, {90, 100, "−10%", "down"}, {105, 100, "+5.0%", "up"}, {100, 100, "no change", "flat"},
		{5, 0, "new", "up"}, {0, 50, "−100%", "down"}, {1000001, 1000000, "<0.1%", "up"}, {300, 100, "+200%", "up"},
	} {
		c := change(tc.cur, tc.prev)
		if c.Text != tc.text || c.Dir != tc.dir {
			t.Errorf("change(%d, %d) = %+v, want %s %s", tc.cur, tc.prev, c, tc.text, tc.dir)
		}
	}
}

func TestRunway(t *testing.T) {
	week := 7 * 24 * time.Hour
	for _, tc := range []struct {
		avail, overdraft, spend money.Amount
		elapsed                 time.Duration
		text, level             string
	}{
		{100_000_000, 0, 70_000_000, week, "about 10 days at the last 7 days' burn", "ok"},
		{100_000_000, 0, 0, week, "no recent spend", "ok"},
		{20_000_000, 0, 70_000_000, week, "about 2 days at the last 7 days' burn", "low"},
		{10_000_000, 0, 70_000_000, week, "about 1 day at the last 7 days' burn", "low"},
		{5_000_000, 0, 70_000_000, week, "about 12 hours at the last 7 days' burn", "low"},
		{1, 0, 70_000_000, week, "less than an hour at the last 7 days' burn", "low"},
		{0, 0, 70_000_000, week, "no balance left", "out"},
		{-3_000_000, 0, 0, week, "no balance left", "out"},
		{-3_000_000, 10_000_000, 70_000_000, week, "running on the overdraft allowance", "low"},
		{money.Max, 0, 1, week, "more than 2 years at the last 7 days' burn", "ok"},
	} {
		text, level := runway(tc.avail, tc.overdraft, tc.spend, tc.elapsed)
		if text != tc.text || level != tc.level {
			t.Errorf("runway(%d, %d, %d) = %q %q, want %q %q", tc.avail, tc.overdraft, tc.spend, text, level, tc.text, tc.level)
		}
	}
}

func TestPeriods(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	now := time.Date(2025, 3, 10, 14, 20, 0, 0, time.UTC) // 10:20 in New York, the day after DST began
	q := func(kv ...string) map[string][]string {
		m := map[string][]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = []string{kv[i+1]}
		}
		return m
	}
	p, err := parsePeriod(q(), "7d", now, ny)
	if err != nil {
		t.Fatal(err)
	}
	if p.Start != time.Date(2025, 3, 4, 0, 0, 0, 0, ny) || p.End != time.Date(2025, 3, 11, 0, 0, 0, 0, ny) || p.Step != 24*time.Hour {
		t.Errorf("7d: %v – %v", p.Start, p.End)
	}
	if !p.Cut.Equal(time.Date(2025, 3, 10, 15, 0, 0, 0, time.UTC)) {
		t.Errorf("7d cut %v", p.Cut)
	}
	if !p.PrevStart.Equal(time.Date(2025, 2, 25, 0, 0, 0, 0, ny)) || !p.PrevEnd.Equal(p.PrevStart.Add(p.Cut.Sub(p.Start))) {
		t.Errorf("7d previous %v – %v", p.PrevStart, p.PrevEnd)
	}
	today, _ := parsePeriod(q("period", "today"), "7d", now, ny)
	if today.Step != time.Hour || today.Start != time.Date(2025, 3, 10, 0, 0, 0, 0, ny) || today.Phrase != "today" {
		t.Errorf("today %+v", today)
	}
	// Today compares with yesterday up to the same hour.
	if !today.PrevEnd.Equal(today.PrevStart.Add(today.Cut.Sub(today.Start))) || today.PrevStart != time.Date(2025, 3, 9, 0, 0, 0, 0, ny) {
		t.Errorf("today previous %v – %v", today.PrevStart, today.PrevEnd)
	}
	month, _ := parsePeriod(q("period", "month"), "7d", now, ny)
	if month.Start != time.Date(2025, 3, 1, 0, 0, 0, 0, ny) || month.End != time.Date(2025, 4, 1, 0, 0, 0, 0, ny) ||
		month.PrevStart != time.Date(2025, 2, 1, 0, 0, 0, 0, ny) || month.Label != "March 2025" {
		t.Errorf("month %+v", month)
	}
	custom, err := parsePeriod(q("from", "2025-01-30", "to", "2025-02-02"), "7d", now, ny)
	if err != nil || custom.Key != "custom" || custom.End != time.Date(2025, 2, 3, 0, 0, 0, 0, ny) || custom.PrevStart != time.Date(2025, 1, 26, 0, 0, 0, 0, ny) {
		t.Errorf("custom %+v %v", custom, err)
	}
	for _, bad := range []map[string][]string{q("period", "week"), q("period", "custom", "from", "2025-02-02", "to", "2025-01-01"),
		q("period", "custom", "from", "yesterday"), q("from", "2020-01-01", "to", "2025-01-01")} {
		if _, err := parsePeriod(bad, "7d", now, ny); err == nil {
			t.Errorf("%v was accepted", bad)
		}
	}
}
