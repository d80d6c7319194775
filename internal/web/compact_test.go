package web

import (
	"math"
	"testing"
)

// TestCompactRounds: compact counts round half up to one decimal of their unit (26,786
// is "26.8K", not the truncated "26.7K"), a count that rounds to 1,000 of a unit moves
// to the next one, and negatives, zero and the int64 extremes are written whole.
func TestCompactRounds(t *testing.T) {
	for _, tc := range []struct {
		n    int64
		want string
	}{
		{0, "0"}, {1, "1"}, {9_999, "9,999"}, {10_000, "10.0K"}, {10_049, "10.0K"}, {10_050, "10.1K"},
		{26_786, "26.8K"}, {26_749, "26.7K"}, {26_750, "26.8K"},
		{99_949, "99.9K"}, {99_950, "100K"}, {100_499, "100K"}, {100_500, "101K"},
		{999_499, "999K"}, {999_500, "1.0M"}, {999_949, "1.0M"}, {999_950, "1.0M"}, {999_999, "1.0M"},
		{1_049_999, "1.0M"}, {1_050_000, "1.1M"}, {99_950_000, "100M"}, {999_500_000, "1.0B"},
		{999_500_000_000, "1.0T"}, {999_500_000_000_000, "1,000T"}, {1_234_567_000_000_000, "1,235T"},
		{-1, "−1"}, {-9_999, "−9,999"}, {-26_786, "−26.8K"}, {-999_950, "−1.0M"},
		{math.MaxInt64, "9,223,372T"}, {math.MinInt64, "−9,223,372T"},
	} {
		if got := compactInt(tc.n); got != tc.want {
			t.Errorf("compactInt(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}
