package billing

import (
	"fmt"
	"strings"
)

// FormatRate shows a rate in basis points as a percentage: 2000 → "20%", 825 → "8.25%".
func FormatRate(bp int64) string {
	s := fmt.Sprintf("%d.%02d", bp/100, bp%100)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return s + "%"
}
