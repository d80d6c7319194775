package store

import (
	"math/rand/v2"
	"testing"
)

// TestKeyFilter: every key added is found, across the filter's growth from its first
// part, and keys never added are reported rarely (the rate the sizes are chosen for).
func TestKeyFilter(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	f := newKeyFilter(1000) // grows: the first part holds 65,536 keys
	var added []int64
	for i := range 300_000 {
		k := int64(rng.Uint64())
		if i%3 == 0 {
			k = int64(i) // small, close keys too, as tests' key functions give
		}
		f.add(k)
		added = append(added, k)
	}
	if len(f.parts) < 3 {
		t.Fatalf("%d parts after 300,000 keys; want the filter to have grown", len(f.parts))
	}
	for _, k := range added {
		if !f.mayContain(k) {
			t.Fatalf("key %d was added but is not found", k)
		}
	}
	falsePositives := 0
	const tries = 100_000
	for range tries {
		if f.mayContain(int64(rng.Uint64())) {
			falsePositives++
		}
	}
	// Each part's rate is about 0.8 %; a key not added is tested against every part.
	if rate := float64(falsePositives) / tries; rate > 0.03 {
		t.Errorf("false positives: %.2f %% of keys never added", 100*rate)
	}
	t.Logf("%d parts, false positives %.3f %%", len(f.parts), 100*float64(falsePositives)/tries)
}
