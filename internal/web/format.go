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

// compactInt formats a count briefly, rounded half away from zero to one decimal of its
// unit: 950 → "950", 9_999 → "9,999", 12_345 → "12.3K", 26_786 → "26.8K", 100_000 →
// "100K", 1_234_567 → "1.2M", 3_400_000_000 → "3.4B". Below 100 of a unit the decimal is
// always shown ("1.0M"), at 100 or more never ("100K"). A count that rounds up to 1,000
// of a unit is written in the next one (999_950 → "1.0M", not "1000.0K"). The exact
// count is in the title the template puts around it.
func compactInt(n int64) string {
	neg := n < 0
	u := uint64(n)
	if neg {
		u = uint64(-(n + 1)) + 1 // also for math.MinInt64
	}
	var s string
	if u < 10_000 {
		s = money.GroupDigits(strconv.FormatUint(u, 10))
	} else {
		s = compactUnits(u)
	}
	if neg {
		return "−" + s
	}
	return s
}

// compactUnits writes u (≥ 10,000) in the smallest unit, K to T, in which it rounds to
// less than 1,000 (T takes whatever is left: "1,235T").
func compactUnits(u uint64) string {
	units := []struct {
		size   uint64
		suffix string
	}{{1_000, "K"}, {1_000_000, "M"}, {1_000_000_000, "B"}, {1_000_000_000_000, "T"}}
	for i, un := range units {
		q, r := u/un.size, u%un.size
		if tenths := q*10 + (r*10+un.size/2)/un.size; tenths < 1_000 { // below 100.0 once rounded half up
			return strconv.FormatUint(tenths/10, 10) + "." + strconv.FormatUint(tenths%10, 10) + un.suffix
		}
		whole := q
		if r >= un.size/2 {
			whole++
		}
		if whole < 1_000 || i == len(units)-1 {
			return money.GroupDigits(strconv.FormatUint(whole, 10)) + un.suffix
		}
	}
	panic("unreachable")
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
