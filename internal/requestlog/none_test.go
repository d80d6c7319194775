package requestlog

import (
	"slices"
	"testing"
)

func TestFilterValues(t *testing.T) {
	for v, want := range map[string][]string{"": nil, "-": {""}, "u_1": {"u_1"}} {
		if got := FilterValues(v); !slices.Equal(got, want) || (got == nil) != (want == nil) {
			t.Errorf("FilterValues(%q) = %q, want %q", v, got, want)
		}
	}
}
