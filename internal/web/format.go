package web

import (
	"math/big"
	"strconv"
	"time"

	"spectra/internal/money"
)

// Formatting for people: thousands separators, currency with cents, compact token
// counts. Every function works on integers; nothing here touches a float.

// formatInt formats n with thousands separators: 1234567 → "1,234,567".
func formatInt(n int64) string {
	if n < 0 {
		return "−" + money.GroupDigits(strconv.FormatUint(uint64(-(n+1))+1, 10))
	}
	return money.GroupDigits(strconv.FormatInt(n, 10))
}

// exactMoney is the exact amount with its currency, for titles and exports: "1234.560000 USD".
func exactMoney(a money.Amount, currency string) string { return a.String() + " " + currency }

// compactInt formats a count briefly: 950 → "950", 12_345 → "12.3K", 1_234_567 → "1.2M",
// 3_400_000_000 → "3.4B". It truncates rather than rounds up, so "1.0M" never stands
// for 999,999.
func compactInt(n int64) string {
	neg := n < 0
	if neg {
		n = -n
	}
	var s string
	switch {
	case n < 10_000:
		s = formatInt(n)
	case n < 1_000_000:
		s = tenths(n, 1_000) + "K"
	case n < 1_000_000_000:
		s = tenths(n, 1_000_000) + "M"
	case n < 1_000_000_000_000:
		s = tenths(n, 1_000_000_000) + "B"
	default:
		s = tenths(n, 1_000_000_000_000) + "T"
	}
	if neg {
		return "−" + s
	}
	return s
}

// tenths returns n/unit with one decimal (dropped when it is zero or the value is ≥ 100).
func tenths(n, unit int64) string {
	whole := n / unit
	d := (n % unit) * 10 / unit
	if whole >= 100 || d == 0 {
		return strconv.FormatInt(whole, 10)
	}
	return strconv.FormatInt(whole, 10) + "." + strconv.FormatInt(d, 10)
}

// perThousand returns cost × 1000 / requests rounded half-up to a micro-unit: the average
// cost of 1,000 requests. It is 0 when there were no requests.
func perThousand(cost money.Amount, requests int64) money.Amount {
	if requests <= 0 {
		return 0
	}
	n := new(big.Int).Mul(big.NewInt(int64(cost)), big.NewInt(1000))
	d := big.NewInt(requests)
	q, r := new(big.Int).QuoRem(n, d, new(big.Int))
	// half-up, away from zero
	r2 := new(big.Int).Mul(new(big.Int).Abs(r), big.NewInt(2))
	if r2.Cmp(d) >= 0 {
		if n.Sign() < 0 {
			q.Sub(q, big.NewInt(1))
		} else {
			q.Add(q, big.NewInt(1))
		}
	}
	return money.Amount(q.Int64())
}

// Change is the change of a figure against the previous period.
type Change struct {
	Text  string // "+12%", "−3%", "no change", "new"
	Dir   string // "up", "down" or "flat"
	Title string // exact previous value, for a tooltip
}

// change compares cur with prev. The percentage is truncated toward zero to a whole
// number, with one decimal below 10%.
func change(cur, prev int64) Change {
	switch {
	case cur == prev:
		return Change{Text: "no change", Dir: "flat"}
	case prev == 0:
		return Change{Text: "new", Dir: "up"}
	}
	diff := new(big.Int).Sub(big.NewInt(cur), big.NewInt(prev))
	tenthsPct := new(big.Int).Quo(new(big.Int).Mul(diff, big.NewInt(1000)), big.NewInt(abs64(prev)))
	v := tenthsPct.Int64()
	dir := "up"
	sign := "+"
	if diff.Sign() < 0 {
		dir, sign, v = "down", "−", -v
	}
	var txt string
	if v < 100 {
		txt = strconv.FormatInt(v/10, 10) + "." + strconv.FormatInt(v%10, 10) + "%"
	} else {
		txt = formatInt(v/10) + "%"
	}
	if v == 0 {
		return Change{Text: "<0.1%", Dir: dir}
	}
	return Change{Text: sign + txt, Dir: dir}
}

func abs64(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}

// Time formats, always in the workspace's location.
const (
	layoutDateTime = "2 Jan 2006, 15:04"
	layoutDate     = "2 Jan 2006"
	layoutDay      = "Mon 2 Jan"
	layoutHour     = "15:04"
)

// formatAgo says briefly how long before now t was: "3 min ago", "5 h ago", "12 days ago".
func formatAgo(now, t time.Time) string {
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return strconv.Itoa(int(d/time.Minute)) + " min ago"
	case d < 48*time.Hour:
		return strconv.Itoa(int(d/time.Hour)) + " h ago"
	default:
		return strconv.Itoa(int(d/(24*time.Hour))) + " days ago"
	}
}

func itoa64(n int64) string { return strconv.FormatInt(n, 10) }
